// The TUN device's MTU: the largest inner packet whose ESP-in-UDP datagram still fits the path toward the
// peer. With it right, the kernel itself answers oversized DF packets with ICMP "fragmentation needed" /
// ICMPv6 "packet too big" and fragments the others before they reach the data plane, so nothing is lost
// silently (strongSwan's kernel-libipsec instead fixes 1400 and leaves the rest to the outer fragmentation).
import { isIPv6 } from "node:net";
import { ip, routeTo, type IpExec } from "./route.js";
import { ENCR_AES_GCM_8, ENCR_AES_GCM_12, ENCR_AES_GCM_16 } from "../ike/crypto/encr.js";
import { HEADROOM, TAILROOM } from "../dataplane/batch.js";

/** Outer IP header, UDP (RFC 3948) if encapsulated, ESP SPI and sequence number, the 8-byte IV of AES-GCM (RFC 4106). */
const IP_HEADER = { 4: 20, 6: 40 } as const;
const UDP = 8, ESP_HEADER = 8, GCM_IV = 8;
/** AH's next header, length, reserved, SPI, sequence number (RFC 4302 §2), and the IV AES-GMAC puts before its tag (RFC 4543 §4). */
const AH_FIXED = 12, GMAC_IV = 8;

/** Where no route says otherwise: Ethernet's. */
export const DEFAULT_PATH_MTU = 1500;

/** The largest packet a worker's batch slot takes (DataPlane.batch()'s default 2048-byte slots): the TUN MTU
 *  never exceeds it, or the data plane would count longer packets as truncated instead of the kernel
 *  answering or fragmenting them (a jumbo-frame path). */
export const MAX_INNER_PACKET = 2048 - HEADROOM - TAILROOM;

/** Below this the kernel drops IPv6 from a device (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

const GCM_ICV: Record<number, number> = { [ENCR_AES_GCM_8]: 8, [ENCR_AES_GCM_12]: 12, [ENCR_AES_GCM_16]: 16 };
const AH_ICV: Record<string, { icv: number; gmac: boolean }> = {
  sha256: { icv: 16, gmac: false }, sha384: { icv: 24, gmac: false }, sha512: { icv: 32, gmac: false },
  aes128gmac: { icv: 16, gmac: true }, aes256gmac: { icv: 16, gmac: true },
};

/** ICV bytes of an ESP encryption transform (AES-GCM only: the data plane implements nothing else). */
export function icvOf(encrId: number): number {
  const icv = GCM_ICV[encrId];
  if (icv === undefined) throw new RangeError(`no ICV length known for ENCR transform ${encrId}`);
  return icv;
}

/** What an SA adds to each packet, as far as it matters for the MTU. */
export type SaShape =
  | { protocol: "esp"; icv: number; udpEncap: boolean }
  | { protocol: "ah"; integ: string };

/**
 * The largest inner packet for a path MTU. ESP pads payload + pad length + next header to a multiple of 4
 * (RFC 4303 §2.4), so the payload may take floor4(room) - 2 bytes of what is left; AH's header is padded to
 * 4 bytes over IPv4 and 8 over IPv6 (RFC 4302 §2.2).
 */
export function innerMtu(pathMtu: number, outer: 4 | 6, sa: SaShape): number {
  if (sa.protocol === "esp") {
    const room = pathMtu - IP_HEADER[outer] - (sa.udpEncap ? UDP : 0) - ESP_HEADER - GCM_IV - sa.icv;
    return Math.max(0, (room & ~3) - 2);
  }
  const t = AH_ICV[sa.integ];
  if (!t) throw new RangeError(`no ICV length known for AH integrity '${sa.integ}'`);
  const align = outer === 6 ? 8 : 4;
  const ah = Math.ceil((AH_FIXED + (t.gmac ? GMAC_IV : 0) + t.icv) / align) * align;
  return Math.max(0, pathMtu - IP_HEADER[outer] - ah);
}

/** The path MTU toward `peer` as the kernel's routing sees it: the route's (or a cached PMTU exception's)
 *  mtu, else the egress device's. Undefined when there is no route. */
export function pathMtu(peer: string, exec: IpExec = ip): number | undefined {
  const route = routeTo(peer, exec);
  const fromRoute = route?.mtu ?? route?.metrics?.find((m) => m.mtu !== undefined)?.mtu;
  if (fromRoute !== undefined) return fromRoute;
  if (!route?.dev) return undefined;
  try {
    const [link] = JSON.parse(exec(["-j", "link", "show", "dev", route.dev])) as { mtu?: number }[];
    return link?.mtu;
  } catch {
    return undefined;
  }
}

export interface MtuPeer { address: string; sa: SaShape }

/** The TUN MTU for a set of peers (one device serves all): the smallest of their inner MTUs, at most what
 *  the data plane takes. */
export function tunMtu(peers: readonly MtuPeer[], path: (peer: string) => number | undefined = pathMtu): number | undefined {
  let best: number | undefined;
  const cache = new Map<string, number>();
  for (const p of peers) {
    let pmtu = cache.get(p.address);
    if (pmtu === undefined) {
      pmtu = path(p.address) ?? DEFAULT_PATH_MTU;
      cache.set(p.address, pmtu);
    }
    const m = Math.min(innerMtu(pmtu, isIPv6(p.address) ? 6 : 4, p.sa), MAX_INNER_PACKET);
    if (best === undefined || m < best) best = m;
  }
  return best;
}
