// Socket addresses: struct sockaddr_in / sockaddr_in6 encoded in place (no allocation, for sendmmsg
// rings), decoded for the control plane, and IPv4 peers on a dual-stack socket as v4-mapped IPv6.
import { parseAddress } from "../dataplane/selectors.js";
import { C } from "./libc.js";

export type IpVersion = 4 | 6;

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;

/** An IP address and UDP port, with the address bytes ready to encode. */
export class SockAddr {
  readonly address: string;
  readonly version: IpVersion;
  readonly bytes: Uint8Array;

  constructor(address: string, readonly port: number) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`bad UDP port ${port}`);
    const a = parseAddress(address);
    this.version = a.version;
    this.bytes = a.bytes;
    this.address = formatIp(a.bytes);
  }

  /** Decode a sockaddr_in/sockaddr_in6 at u8[off]; a v4-mapped IPv6 address comes back as IPv4. */
  static decode(u8: Uint8Array, off: number): SockAddr {
    const family = u8[off] | (u8[off + 1] << 8);
    const port = (u8[off + 2] << 8) | u8[off + 3];
    if (family === C.AF_INET) return new SockAddr(formatIp(u8.subarray(off + 4, off + 8)), port);
    if (family === C.AF_INET6) {
      const a = u8.subarray(off + 8, off + 24);
      return new SockAddr(formatIp(isMapped(u8, off + 8) ? a.subarray(12) : a), port);
    }
    throw new Error(`unexpected address family ${family}`);
  }

  /** Encode for a socket of family `socketVersion` at u8[off]; returns the length, 0 if unreachable from it. */
  encode(u8: Uint8Array, off: number, socketVersion: IpVersion): number {
    return encodeSockaddr(u8, off, socketVersion, this.version, this.bytes, 0, this.port);
  }

  toString(): string { return this.version === 6 ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`; }
}

/** Write a sockaddr for a socket of `socketVersion` to `dst` at `off`, the address being `version`'s
 *  4 or 16 bytes at src[srcOff]. Returns the sockaddr length, or 0 for IPv6 on an IPv4 socket. */
export function encodeSockaddr(dst: Uint8Array, off: number, socketVersion: IpVersion, version: number,
                               src: Uint8Array, srcOff: number, port: number): number {
  if (socketVersion === 4) {
    if (version !== 4) return 0;
    dst[off] = C.AF_INET; dst[off + 1] = 0;
    dst[off + 2] = port >> 8; dst[off + 3] = port & 0xff;
    for (let k = 0; k < 4; k++) dst[off + 4 + k] = src[srcOff + k];
    for (let k = 8; k < SOCKADDR_IN_LEN; k++) dst[off + k] = 0;
    return SOCKADDR_IN_LEN;
  }
  dst[off] = C.AF_INET6; dst[off + 1] = 0;
  dst[off + 2] = port >> 8; dst[off + 3] = port & 0xff;
  for (let k = 4; k < SOCKADDR_IN6_LEN; k++) dst[off + k] = 0; // flowinfo, address, scope id
  if (version === 4) {
    dst[off + 18] = 0xff; dst[off + 19] = 0xff;
    for (let k = 0; k < 4; k++) dst[off + 20 + k] = src[srcOff + k];
  } else {
    for (let k = 0; k < 16; k++) dst[off + 8 + k] = src[srcOff + k];
  }
  return SOCKADDR_IN6_LEN;
}

/** Whether the sockaddr at a[off] is `version`'s address src[srcOff..] and `port` (v4-mapped = IPv4). */
export function sockaddrEquals(a: Uint8Array, off: number, version: number, src: Uint8Array, srcOff: number,
                               port: number): boolean {
  if (((a[off + 2] << 8) | a[off + 3]) !== port) return false;
  const family = a[off] | (a[off + 1] << 8);
  let at: number, len: number;
  if (family === C.AF_INET) { at = off + 4; len = 4; }
  else if (family === C.AF_INET6 && isMapped(a, off + 8)) { at = off + 20; len = 4; }
  else if (family === C.AF_INET6) { at = off + 8; len = 16; }
  else return false;
  if (len !== (version === 4 ? 4 : 16)) return false;
  for (let k = 0; k < len; k++) if (a[at + k] !== src[srcOff + k]) return false;
  return true;
}

function isMapped(u8: Uint8Array, at: number): boolean {
  for (let k = 0; k < 10; k++) if (u8[at + k] !== 0) return false;
  return u8[at + 10] === 0xff && u8[at + 11] === 0xff;
}

/** Dotted quad, or RFC 5952 text for IPv6 (lowercase, longest run of two or more zero groups as "::"). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i] << 8) | b[i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}
