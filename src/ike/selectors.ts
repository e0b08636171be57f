// Traffic selectors for IKEv2 (RFC 7296 §2.9, §3.13): conversion between the wire form and the data
// plane's, narrowing by intersection, and printing for error messages.
import { TsType, type AddressRangeSelector, type TrafficSelector as WireTs } from "./wire/index.js";
import { parseAddress, formatAddress, type TrafficSelector } from "../dataplane/selectors.js";

export function toWire(ts: TrafficSelector): AddressRangeSelector {
  const a = parseAddress(ts.start), b = parseAddress(ts.end);
  return {
    type: a.version === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol: ts.protocol ?? 0, startPort: ts.portStart ?? 0, endPort: ts.portEnd ?? 0xffff,
    startAddress: Buffer.from(a.bytes), endAddress: Buffer.from(b.bytes),
  };
}

/** Address-range selectors only (security labels are not supported and are ignored). */
export function fromWire(list: readonly WireTs[]): TrafficSelector[] {
  return list.filter((t): t is AddressRangeSelector => t.type === TsType.TS_IPV4_ADDR_RANGE || t.type === TsType.TS_IPV6_ADDR_RANGE)
    .map((t) => ({ start: formatAddress(t.startAddress), end: formatAddress(t.endAddress), protocol: t.ipProtocol,
      portStart: t.startPort, portEnd: t.endPort }));
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The intersection of two selectors, or undefined. */
export function intersect(a: TrafficSelector, b: TrafficSelector): TrafficSelector | undefined {
  const as = parseAddress(a.start), ae = parseAddress(a.end), bs = parseAddress(b.start), be = parseAddress(b.end);
  if (as.version !== bs.version) return undefined;
  const pa = a.protocol ?? 0, pb = b.protocol ?? 0;
  if (pa !== 0 && pb !== 0 && pa !== pb) return undefined;
  const start = cmp(as.bytes, bs.bytes) >= 0 ? as : bs;
  const end = cmp(ae.bytes, be.bytes) <= 0 ? ae : be;
  if (cmp(start.bytes, end.bytes) > 0) return undefined;
  const ps = Math.max(a.portStart ?? 0, b.portStart ?? 0), pe = Math.min(a.portEnd ?? 0xffff, b.portEnd ?? 0xffff);
  if (ps > pe) return undefined;
  return { start: formatAddress(start.bytes), end: formatAddress(end.bytes), protocol: pa || pb, portStart: ps, portEnd: pe };
}

/** Narrow what the peer proposed to what we allow: every non-empty pairwise intersection, deduplicated. */
export function narrow(proposed: readonly TrafficSelector[], allowed: readonly TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const p of proposed) {
    for (const a of allowed) {
      const i = intersect(p, a);
      if (i && !out.some((o) => format(o) === format(i))) out.push(i);
    }
  }
  return out;
}

/** True if every selector of `inner` lies within some selector of `outer` (a peer may only narrow). */
export function isSubset(inner: readonly TrafficSelector[], outer: readonly TrafficSelector[]): boolean {
  return inner.every((i) => outer.some((o) => {
    const x = intersect(i, o);
    return x !== undefined && format(x) === format({ ...i, protocol: i.protocol ?? 0, portStart: i.portStart ?? 0, portEnd: i.portEnd ?? 0xffff });
  }));
}

/** strongSwan's notation: 10.1.0.0/24, 10.1.0.1..10.1.0.9, with [proto/port] when restricted. */
export function format(ts: TrafficSelector): string {
  const a = parseAddress(ts.start), b = parseAddress(ts.end);
  let net = `${ts.start}..${ts.end}`;
  const bits = a.bytes.length * 8;
  for (let len = 0; len <= bits; len++) {
    const lo = Uint8Array.from(a.bytes), hi = Uint8Array.from(a.bytes);
    for (let i = 0; i < lo.length; i++) {
      const keep = Math.max(0, Math.min(8, len - i * 8));
      const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
      lo[i] &= mask; hi[i] = (hi[i] & mask) | (~mask & 0xff);
    }
    if (cmp(lo, a.bytes) === 0 && cmp(hi, b.bytes) === 0) { net = `${ts.start}/${len}`; break; }
  }
  const proto = ts.protocol ?? 0, ps = ts.portStart ?? 0, pe = ts.portEnd ?? 0xffff;
  if (proto === 0 && ps === 0 && pe === 0xffff) return net;
  const port = ps === 0 && pe === 0xffff ? "" : ps === pe ? `/${ps}` : `/${ps}-${pe}`;
  return `${net}[${proto}${port}]`;
}

export const formatList = (l: readonly TrafficSelector[]) => l.map(format).join(" ") || "(none)";
