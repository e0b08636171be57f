// From configuration and negotiated Child SAs to the outbound SPD and the routes into the TUN device:
// PROTECT entries for every installed child's narrowed selector pairs, TRAP entries for children with
// start_action = trap (their configured selectors); routing.ts routes their remote selectors into the TUN.
import type { Policy } from "../dataplane/spd.js";
import type { TrafficSelector } from "../dataplane/selectors.js";
import { parseAddress } from "../dataplane/selectors.js";
import { formatIp } from "../io/sockaddr.js";
import type { IkeEngine } from "../ike/engine.js";
import type { InstalledHandles } from "../ike/child-sa.js";
import type { SwanctlConnection } from "../config/swanctl.js";
import { resolveSelectors } from "../config/selectors.js";

/** Policy ids: trap entries by (connection, child) index from 1..; protect entries by child unique id + 2^20. */
export const PROTECT_BASE = 1 << 20;

export interface TrapRef { conn: string; child: string }

/** A connection's own and peer address as selectors' `dynamic` means them: the first concrete entries. */
export function ikeAddresses(c: Pick<SwanctlConnection, "localAddrs" | "remoteAddrs">): { local: string; remote: string } {
  return {
    local: c.localAddrs.find((a) => !a.startsWith("%")) ?? "0.0.0.0",
    remote: c.remoteAddrs.find((a) => !a.startsWith("%") && !a.includes("/")) ?? "0.0.0.0",
  };
}

export function trapPolicies(conns: readonly SwanctlConnection[]): { policies: Policy[]; traps: Map<number, TrapRef> } {
  const policies: Policy[] = [];
  const traps = new Map<number, TrapRef>();
  let id = 1;
  for (const c of conns) {
    const { local, remote } = ikeAddresses(c);
    for (const ch of c.children) {
      const pid = id++;
      if (ch.startAction !== "trap") continue;
      traps.set(pid, { conn: c.name, child: ch.name });
      for (const l of resolveSelectors(ch.localTs, local)) {
        for (const r of resolveSelectors(ch.remoteTs, remote)) {
          if (parseAddress(l.start).version === parseAddress(r.start).version) policies.push({ id: pid, action: "trap", local: l, remote: r });
        }
      }
    }
  }
  return { policies, traps };
}

/** `removing`: SAs about to be deleted, left out so that no packet is sent on them meanwhile. */
export function protectPolicies(engine: IkeEngine, removing?: InstalledHandles): Policy[] {
  const out: Policy[] = [];
  for (const sa of engine.sas()) {
    for (const child of sa.children.values()) {
      if (!child.handles || child.handles === removing || (child.state !== "installed" && child.state !== "rekeying")) continue;
      // A rekey we answered: keep sending on the old SA until the peer deletes it (see ChildSa.replaces).
      if (child.replaces && (!child.replaces.handles || child.replaces.handles === removing)) child.replaces = undefined;
      const outSa = child.replaces?.handles?.out ?? child.handles.out;
      for (const l of child.spec.localTs) {
        for (const r of child.spec.remoteTs) {
          if (parseAddress(l.start).version !== parseAddress(r.start).version) continue;
          out.push({ id: PROTECT_BASE + child.uniqueId, action: "protect", local: l, remote: r, sa: outSa });
        }
      }
    }
  }
  return out;
}

/** The smallest set of CIDR prefixes covering an address range (for routes), IPv6 in RFC 5952 text. */
export function rangeToPrefixes(ts: TrafficSelector): string[] {
  const a = parseAddress(ts.start), b = parseAddress(ts.end);
  const bits = a.bytes.length * 8;
  const toBig = (u: Uint8Array) => u.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
  const toBytes = (v: bigint) => { const o = new Uint8Array(bits / 8); for (let i = o.length - 1; i >= 0; i--) { o[i] = Number(v & 255n); v >>= 8n; } return o; };
  let lo = toBig(a.bytes);
  const hi = toBig(b.bytes);
  const out: string[] = [];
  while (lo <= hi && out.length < 64) {
    let size = 0;
    while (size < bits && (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push(`${formatIp(toBytes(lo))}/${bits - size}`);
    lo += 1n << BigInt(size);
  }
  return out;
}
