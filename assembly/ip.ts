// Inner IP packet checks used by the ESP and AH paths: sanity of a decapsulated packet, the inbound policy
// check against the SA's traffic selectors, the IP header rebuilt for transport mode, the IPv4 checksum.
import {
  SA_TS, SA_TS_COUNT, TS_MAX, TS_SIZE, TS_VERSION, TS_PROTO, TS_PORT_LO, TS_PORT_HI, TS_ADDR_LO, TS_ADDR_HI,
  SA_AF, SA_LOCAL_ADDR, SA_REMOTE_ADDR,
} from "./layout";

// @ts-ignore: decorator
@inline export function be16(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p, 1);
}

// @ts-ignore: decorator
@inline export function put16(p: usize, v: u32): void {
  store<u8>(p, <u8>(v >> 8));
  store<u8>(p, <u8>v, 1);
}

/** Length of the IP packet at p if it is sane and fits in `avail` bytes (TFC padding may follow), else 0.
 *  Inlined: it runs once per decapsulated packet. */
// @ts-ignore: decorator
@inline export function innerLength(p: usize, avail: u32, version: u32): u32 {
  if (version == 4) {
    if (avail < 20) return 0;
    const vihl = <u32>load<u8>(p);
    if ((vihl >> 4) != 4) return 0;
    const hl = (vihl & 15) << 2;
    const tot = be16(p + 2);
    if (hl < 20 || tot < hl || tot > avail) return 0;
    return tot;
  }
  if (avail < 40) return 0;
  if ((<u32>load<u8>(p) >> 4) != 6) return 0;
  const tot = be16(p + 4) + 40; // jumbograms (payload length 0) are not carried over ESP here
  if (tot > avail) return 0;
  return tot;
}

// Compare n bytes big-endian: <0, 0, >0. Addresses are in wire order.
function cmpAddr(a: usize, b: usize, n: i32): i32 {
  for (let i = 0; i < n; i++) {
    const x = <i32>load<u8>(a + i), y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return 0;
}

export function tsMatches(ts: usize, version: u32, addr: usize, proto: u32, port: i32): bool {
  if (<u32>load<u8>(ts + TS_VERSION) != version) return false;
  const tp = <u32>load<u8>(ts + TS_PROTO);
  if (tp != 0 && tp != proto) return false;
  const n = version == 4 ? 4 : 16;
  if (cmpAddr(addr, ts + TS_ADDR_LO, n) < 0 || cmpAddr(addr, ts + TS_ADDR_HI, n) > 0) return false;
  const lo = <i32>load<u16>(ts + TS_PORT_LO), hi = <i32>load<u16>(ts + TS_PORT_HI);
  if (lo == 0 && hi == 0xffff) return true;
  // A selector that restricts ports cannot match a packet whose ports are unknown (non-first fragment,
  // protocol without ports) — RFC 4301 §4.4.1.
  return port >= 0 && port >= lo && port <= hi;
}

// Port field for selector matching: TCP/UDP/SCTP/UDP-Lite source or destination port; ICMP type/code
// as RFC 4301 §4.4.1.1 maps them (type in the high byte). -1 when unknown.
export function portOf(l4: usize, avail: i32, proto: u32, dst: bool): i32 {
  if (proto == 6 || proto == 17 || proto == 132 || proto == 136) {
    if (avail < 4) return -1;
    return <i32>be16(l4 + (dst ? 2 : 0));
  }
  if (proto == 1 || proto == 58) {
    if (avail < 2) return -1;
    return <i32>be16(l4); // RFC 7296 §3.13.1: type (high byte) and code as one 16-bit "port", either selector
  }
  return -1;
}

/** Inbound policy check: source must match a remote selector, destination a local one (any pair, as
 *  the SA's policy is the cross product). No selectors installed means "any", decided inline without a call. */
// @ts-ignore: decorator
@inline export function policyAllows(sa: usize, pkt: usize, len: u32): bool {
  const counts = load<u32>(sa + SA_TS_COUNT);
  return counts == 0 || selectorsMatch(sa, pkt, len, counts);
}

function selectorsMatch(sa: usize, pkt: usize, len: u32, counts: u32): bool {
  const nl = <i32>(counts & 0xffff), nr = <i32>(counts >> 16);
  const version = <u32>load<u8>(pkt) >> 4;
  let proto: u32, src: usize, dst: usize, l4: usize, l4len: i32, firstFragment = true;
  if (version == 4) {
    const hl = (<u32>load<u8>(pkt) & 15) << 2;
    proto = <u32>load<u8>(pkt + 9);
    src = pkt + 12; dst = pkt + 16;
    l4 = pkt + hl; l4len = <i32>len - <i32>hl;
    firstFragment = (be16(pkt + 6) & 0x1fff) == 0;
  } else {
    proto = <u32>load<u8>(pkt + 6);
    src = pkt + 8; dst = pkt + 24;
    l4 = pkt + 40; l4len = <i32>len - 40;
    if (proto == 44) { // fragment header: the selector sees the fragmented protocol
      if (l4len < 8) return false;
      proto = <u32>load<u8>(l4);
      firstFragment = (be16(l4 + 2) & 0xfff8) == 0;
      l4 += 8; l4len -= 8;
    }
  }
  const sport = firstFragment ? portOf(l4, l4len, proto, false) : -1;
  const dport = firstFragment ? portOf(l4, l4len, proto, true) : -1;
  let ok = nl == 0;
  for (let i = 0; i < nl && i < TS_MAX; i++) {
    if (tsMatches(sa + SA_TS + i * TS_SIZE, version, dst, proto, dport)) { ok = true; break; }
  }
  if (!ok) return false;
  if (nr == 0) return true;
  for (let i = 0; i < nr && i < TS_MAX; i++) {
    if (tsMatches(sa + SA_TS + (TS_MAX + i) * TS_SIZE, version, src, proto, sport)) return true;
  }
  return false;
}

/** Size of the IP header transport mode rebuilds in front of a decapsulated payload. */
export function transportHeaderLen(sa: usize): u32 {
  return load<u32>(sa + SA_AF) == 6 ? 40 : 20;
}

/** Write the IP header for a transport-mode payload at p (payload follows it): from the peer to us. */
export function writeTransportHeader(sa: usize, p: usize, payloadLen: u32, proto: u32): void {
  if (load<u32>(sa + SA_AF) == 6) {
    store<u32>(p, 0x60); // version 6, traffic class 0, flow label 0 (wire order: 0x60 00 00 00)
    put16(p + 4, payloadLen);
    store<u8>(p + 6, <u8>proto);
    store<u8>(p + 7, 64);
    memory.copy(p + 8, sa + SA_REMOTE_ADDR, 16);
    memory.copy(p + 24, sa + SA_LOCAL_ADDR, 16);
    return;
  }
  store<u8>(p, 0x45);
  store<u8>(p + 1, 0);
  put16(p + 2, payloadLen + 20);
  store<u32>(p + 4, 0); // id 0, no fragmentation
  store<u8>(p + 8, 64);
  store<u8>(p + 9, <u8>proto);
  memory.copy(p + 12, sa + SA_REMOTE_ADDR, 4);
  memory.copy(p + 16, sa + SA_LOCAL_ADDR, 4);
  setIpv4Checksum(p, 20);
}

/** Compute and store the header checksum of the IPv4 header at p (hl bytes, options included). */
export function setIpv4Checksum(p: usize, hl: u32): void {
  store<u16>(p + 10, 0);
  let sum: u32 = 0;
  for (let i: u32 = 0; i < hl; i += 2) sum += be16(p + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  put16(p + 10, ~sum & 0xffff);
}
