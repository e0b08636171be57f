// TCP and UDP segmentation and coalescing for a TUN device opened with IFF_VNET_HDR (every packet behind a
// 10-byte struct virtio_net_hdr, include/uapi/linux/virtio_net.h), so the kernel and the data plane
// exchange up to 64 KB per read()/write() instead of one MTU-sized packet:
//   tsoRead/tsoSplit  a "super-packet" read from the device is cut into MSS-sized TCP segments, each a
//                     complete packet (lengths, IPv4 ID, sequence number, flags, checksums) in a batch
//                     slot, as the kernel's tcp_gso_segment would, or a UDP one (UDP_L4: a UDP_SEGMENT
//                     send, or one flow's datagrams merged by GRO forwarding) into its datagrams, as
//                     __udp_gso_segment would; a packet whose checksum the kernel left to us
//                     (CHECKSUM_PARTIAL) gets it.
//   groPlan           decapsulated packets are written back as few writes: consecutive in-order segments
//                     of one TCP flow become one GSO packet (the first one's headers, rewritten, then the
//                     others' payloads) with the rules of the kernel's tcp_gro_receive, gathered by iovecs
//                     that point into the slots: no copy; so do consecutive datagrams of one UDP flow
//                     (UDP GSO, which the kernel cuts back into the same datagrams).
// Checksums are one's complement sums of 16-bit words; they are summed here as little-endian words
// (RFC 1071 §2(B): the sum is byte-order independent), so a sum stored with store<u16> is the
// big-endian checksum in the packet.
import { DESC_SIZE, D_IN_OFF, D_IN_LEN, D_SA, D_STATUS, D_OUT_OFF, D_OUT_LEN, D_ROOM } from "./esp";
import { ST_OK } from "./status";

export const VNET_HDR_LEN: i32 = 10;
const VH_FLAGS: usize = 0;       // u8: VNET_F_*
const VH_GSO_TYPE: usize = 1;    // u8: GSO_*
const VH_HDR_LEN: usize = 2;     // u16 (little-endian, as all the fields): headers before the payload
const VH_GSO_SIZE: usize = 4;    // u16: payload bytes per segment (the MSS)
const VH_CSUM_START: usize = 6;  // u16: where the checksummed part starts (the TCP header)
const VH_CSUM_OFFSET: usize = 8; // u16: where its checksum field is, from csum_start
const VNET_F_NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_UDP_L4: u8 = 5;

/** A super-packet sits at STAGING_DATA of its staging area, its virtio_net_hdr at 0. */
export const STAGING_DATA: i32 = 16;
/** tsoRead: a packet without GSO, complete in its slot. */
export const TSO_IN_PLACE: i32 = 0;
/** tsoRead: a packet without GSO longer than a slot. */
export const TSO_TRUNCATED: i32 = -1;
/** tsoRead: a virtio_net_hdr or super-packet this code cannot segment (unknown GSO type, not TCP or UDP
 *  over IPv4/IPv6 without options/extension headers, lengths that disagree, a segment larger than a slot). */
export const TSO_MALFORMED: i32 = -2;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_CWR: u8 = 0x80;
const IOV_MAX: u32 = 1024; // UIO_MAXIOV: iovecs one writev() takes

// ---- checksums

// @ts-ignore: decorator
@inline function sumLE(p: usize, len: usize, acc: u64): u64 {
  let i: usize = 0;
  for (; i + 8 <= len; i += 8) {
    const v = load<u64>(p + i);
    acc += (v & 0xffffffff) + (v >> 32);
  }
  if (i + 4 <= len) { acc += load<u32>(p + i); i += 4; }
  if (i + 2 <= len) { acc += load<u16>(p + i); i += 2; }
  if (i < len) acc += load<u8>(p + i); // the odd last byte is the high byte of a big-endian word
  return acc;
}

// @ts-ignore: decorator
@inline function fold(acc: u64): u32 {
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return <u32>((acc & 0xffff) + (acc >> 16));
}

// @ts-ignore: decorator
@inline function be16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
// @ts-ignore: decorator
@inline function putBe16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }

/** Pseudo-header sum (RFC 793 / RFC 768 / RFC 8200 §8.1) for `l4len` bytes of protocol `proto`. */
function pseudo(ip: usize, v4: bool, proto: u32, l4len: u32): u64 {
  const fixed = <u64>bswap<u16>(<u16>l4len) + <u64>bswap<u16>(<u16>(l4len >> 16)) + (<u64>proto << 8);
  return v4 ? sumLE(ip + 12, 8, fixed) : sumLE(ip + 8, 32, fixed);
}

function ipv4HeaderChecksum(ip: usize, ipl: usize): void {
  store<u16>(ip + 10, 0);
  store<u16>(ip + 10, <u16>~fold(sumLE(ip, ipl, 0)));
}

function tcpChecksum(ip: usize, v4: bool, ipl: usize, len: u32): void {
  const th = ip + ipl;
  store<u16>(th + 16, 0);
  const l4 = len - <u32>ipl;
  store<u16>(th + 16, <u16>~fold(sumLE(th, l4, pseudo(ip, v4, 6, l4))));
}

function udpChecksum(ip: usize, v4: bool, ipl: usize, len: u32): void {
  const uh = ip + ipl;
  store<u16>(uh + 6, 0);
  const l4 = len - <u32>ipl;
  const c = <u16>~fold(sumLE(uh, l4, pseudo(ip, v4, 17, l4)));
  store<u16>(uh + 6, c == 0 ? 0xffff : c); // 0 would mean "no checksum" (RFC 768; RFC 8200 §8.1)
}

// ---- segmentation (TUN → data plane)

/**
 * A packet of `len` bytes was read with its virtio_net_hdr at slot - VNET_HDR_LEN: its first maxPacket
 * bytes at `slot`, the rest (a super-packet) at staging + STAGING_DATA + maxPacket. Returns TSO_IN_PLACE
 * (no GSO: complete in the slot, its checksum finished if the kernel left it), the number of segments the
 * super-packet now assembled at staging + STAGING_DATA makes (call tsoSplit), or TSO_TRUNCATED /
 * TSO_MALFORMED (drop it).
 */
export function tsoRead(slot: usize, len: u32, maxPacket: u32, staging: usize): i32 {
  const h = slot - <usize>VNET_HDR_LEN;
  const type = load<u8>(h + VH_GSO_TYPE);
  if (type == GSO_NONE) {
    if (len > maxPacket) return TSO_TRUNCATED;
    if ((load<u8>(h + VH_FLAGS) & VNET_F_NEEDS_CSUM) == 0) return TSO_IN_PLACE;
    // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; add everything from csum_start on.
    const start = <u32>load<u16>(h + VH_CSUM_START), at = start + <u32>load<u16>(h + VH_CSUM_OFFSET);
    if (at + 2 > len) return TSO_MALFORMED;
    const c = <u16>~fold(sumLE(slot + start, len - start, 0));
    store<u16>(slot + at, c == 0 ? 0xffff : c); // as the kernel's skb_checksum_help: 0 means "none" to UDP
    return TSO_IN_PLACE;
  }
  memory.copy(staging, h, VNET_HDR_LEN);
  memory.copy(staging + STAGING_DATA, slot, len < maxPacket ? len : maxPacket);
  return tsoSegments(staging, len, maxPacket);
}

/** Validate the super-packet at staging and count its segments (or TSO_MALFORMED). */
function tsoSegments(staging: usize, len: u32, maxPacket: u32): i32 {
  const p = staging + STAGING_DATA;
  const type = load<u8>(staging + VH_GSO_TYPE);
  const gso = <u32>load<u16>(staging + VH_GSO_SIZE);
  const csumAt: u16 = type == GSO_UDP_L4 ? 6 : 16;
  if ((load<u8>(staging + VH_FLAGS) & VNET_F_NEEDS_CSUM) == 0 || load<u16>(staging + VH_CSUM_OFFSET) != csumAt || gso == 0) {
    return TSO_MALFORMED;
  }
  if (type == GSO_UDP_L4) return usoSegments(p, staging, len, gso, maxPacket);
  let ipl: u32;
  if (type == GSO_TCPV4) {
    if (len < 40 || load<u8>(p) >> 4 != 4 || load<u8>(p + 9) != 6) return TSO_MALFORMED;
    ipl = <u32>(load<u8>(p) & 15) << 2;
    if (ipl < 20 || be16(p + 2) != len || (be16(p + 6) & 0x3fff) != 0) return TSO_MALFORMED; // no fragments
  } else if (type == GSO_TCPV6) {
    if (len < 60 || load<u8>(p) >> 4 != 6 || load<u8>(p + 6) != 6 || be16(p + 4) + 40 != len) return TSO_MALFORMED;
    ipl = 40;
  } else {
    return TSO_MALFORMED; // ECN-marked TSO (not offered to the kernel)
  }
  if (<u32>load<u16>(staging + VH_CSUM_START) != ipl || ipl + 20 > len) return TSO_MALFORMED;
  const hl = ipl + (<u32>(load<u8>(p + ipl + 12) >> 4) << 2);
  if (hl < ipl + 20 || hl >= len || hl + gso > maxPacket) return TSO_MALFORMED;
  return <i32>((len - hl + gso - 1) / gso);
}

/**
 * A UDP super-packet (GSO_UDP_L4: a UDP_SEGMENT send on this host, or datagrams of one flow that GRO merged
 * on the way in): one IPv4 (no options, no fragment) or IPv6 (no extension header) header and UDP header,
 * then the datagrams' payloads, gso bytes each but the last. Returns how many datagrams it makes.
 */
function usoSegments(p: usize, staging: usize, len: u32, gso: u32, maxPacket: u32): i32 {
  let ipl: u32;
  const b0 = load<u8>(p);
  if (b0 == 0x45) {
    if (len < 28 || load<u8>(p + 9) != 17 || be16(p + 2) != len || (be16(p + 6) & 0x3fff) != 0) return TSO_MALFORMED;
    ipl = 20;
  } else if (b0 >> 4 == 6) {
    if (len < 48 || load<u8>(p + 6) != 17 || be16(p + 4) + 40 != len) return TSO_MALFORMED;
    ipl = 40;
  } else {
    return TSO_MALFORMED;
  }
  const hl = ipl + 8;
  if (<u32>load<u16>(staging + VH_CSUM_START) != ipl || hl >= len || hl + gso > maxPacket) return TSO_MALFORMED;
  return <i32>((len - hl + gso - 1) / gso);
}

/**
 * Write datagrams first..first+count-1 of the UDP super-packet at p as complete packets into consecutive
 * slots, as the kernel's __udp_gso_segment would: each with its own UDP length and checksum, IPv4 total
 * length, ID (numbered from the first one's) and header checksum, or IPv6 payload length.
 */
function usoSplit(p: usize, len: u32, gso: u32, first: u32, count: u32, desc: usize, slot0: usize, slotSize: u32, headroom: u32): void {
  const v4 = load<u8>(p) == 0x45;
  const ipl: u32 = v4 ? 20 : 40, hl = ipl + 8;
  const payload = len - hl;
  const id0 = be16(p + 4);
  for (let k: u32 = 0; k < count; k++) {
    const s = first + k;
    const dst = slot0 + <usize>k * slotSize;
    const from = s * gso;
    const plen = payload - from < gso ? payload - from : gso;
    const segLen = cutSegment(dst, p, hl, ipl, v4, id0 + s, from, plen);
    putBe16(dst + ipl + 4, segLen - ipl);
    udpChecksum(dst, v4, ipl, segLen);
    describe(desc + <usize>k * DESC_SIZE, dst, segLen, slotSize, headroom);
  }
}

/**
 * Copy the headers (hl bytes, the IP header ipl of them) of the super-packet at p and plen payload bytes
 * from `from` to dst, and set the IP header's lengths: IPv4 total length, ID `id` and header checksum, or
 * IPv6 payload length. Returns the segment's length.
 */
// @ts-ignore: decorator
@inline function cutSegment(dst: usize, p: usize, hl: u32, ipl: u32, v4: bool, id: u32, from: u32, plen: u32): u32 {
  const segLen = hl + plen;
  memory.copy(dst, p, hl);
  memory.copy(dst + hl, p + hl + from, plen);
  if (v4) {
    putBe16(dst + 2, segLen);
    putBe16(dst + 4, id);
    ipv4HeaderChecksum(dst, ipl);
  } else {
    putBe16(dst + 4, segLen - 40);
  }
  return segLen;
}

// @ts-ignore: decorator
@inline function describe(d: usize, dst: usize, segLen: u32, slotSize: u32, headroom: u32): void {
  store<u32>(d + D_IN_OFF, <u32>dst);
  store<u32>(d + D_IN_LEN, segLen);
  store<u32>(d + D_SA, 0);
  store<u32>(d + D_ROOM, headroom | ((slotSize - headroom - segLen) << 16));
}

/**
 * Write segments first..first+count-1 of the super-packet at staging (tsoRead's count) as complete TCP
 * packets (or UDP datagrams) into consecutive slots (slot0, slot0 + slotSize, ...) and describe them in consecutive
 * descriptors from `desc`, as PacketBatch.set does (SA 0, `headroom` before each slot).
 */
export function tsoSplit(staging: usize, len: u32, first: u32, count: u32, desc: usize, slot0: usize, slotSize: u32, headroom: u32): void {
  const p = staging + STAGING_DATA;
  const gso = <u32>load<u16>(staging + VH_GSO_SIZE);
  if (load<u8>(staging + VH_GSO_TYPE) == GSO_UDP_L4) {
    usoSplit(p, len, gso, first, count, desc, slot0, slotSize, headroom);
    return;
  }
  const v4 = load<u8>(staging + VH_GSO_TYPE) == GSO_TCPV4;
  const ipl: u32 = v4 ? <u32>(load<u8>(p) & 15) << 2 : 40;
  const hl = ipl + (<u32>(load<u8>(p + ipl + 12) >> 4) << 2);
  const payload = len - hl;
  const last = (payload + gso - 1) / gso - 1;
  const seq0 = bswap<u32>(load<u32>(p + ipl + 4));
  const flags0 = load<u8>(p + ipl + 13);
  const id0 = be16(p + 4);
  for (let k: u32 = 0; k < count; k++) {
    const s = first + k;
    const dst = slot0 + <usize>k * slotSize;
    const from = s * gso;
    const plen = payload - from < gso ? payload - from : gso;
    const segLen = cutSegment(dst, p, hl, ipl, v4, id0 + s, from, plen); // IDs numbered from the first one's
    store<u32>(dst + ipl + 4, bswap<u32>(seq0 + from));
    // As tcp_gso_segment: FIN and PSH belong to the last segment, CWR to the first.
    let f = flags0;
    if (s != last) f &= ~(TCP_FIN | TCP_PSH);
    if (s != 0) f &= ~TCP_CWR;
    store<u8>(dst + ipl + 13, f);
    tcpChecksum(dst, v4, ipl, segLen);
    describe(desc + <usize>k * DESC_SIZE, dst, segLen, slotSize, headroom);
  }
}

// ---- coalescing (data plane → TUN)

// Groups being built, at most GRO_FLOWS at a time (one per flow), each a record in the caller's scratch
// area (GroPlan allocates it: per caller, since data-plane instances on several threads share memory):
// its first packet and what the next member must match.
const GRO_FLOWS: u32 = 64; // as many as the kernel's GRO holds (8 buckets of 8)
const G_HEAD: usize = 0;   // u32: the first packet
const G_HL: usize = 4;     // IP + TCP/UDP header bytes (equal in all members)
const G_IPL: usize = 8;
const G_MSS: usize = 12;   // the first packet's payload: every member but the last carries exactly this
const G_LEN: usize = 16;   // bytes of the coalesced packet so far
const G_SEQ: usize = 20;   // TCP: next expected sequence number
const G_COUNT: usize = 24;
const G_WRITE: usize = 28; // the write it is
const G_FLAGS: usize = 32;
const G_HASH: usize = 36;  // flowHash of the first packet: most groups are told apart by it alone
const G_SIZE: usize = 40;
const GF_V4: u32 = 1, GF_UDP: u32 = 2, GF_CLOSED: u32 = 4 /* PSH or a short segment ended it */, GF_PSH: u32 = 8;
const UDP_MAX_SEGMENTS: u32 = 64; // the kernel's limit before 6.x: a UDP GSO packet splits into no more
/** Scratch bytes groPlan needs for a batch of `capacity` packets. */
export function groScratchSize(capacity: i32): i32 { return capacity * 12 + <i32>(GRO_FLOWS * <u32>G_SIZE); }

/**
 * Header length of a packet that may be coalesced, else 0: TCP with only ACK or ACK|PSH, or UDP; a
 * payload; no IPv4 options or fragments, no IPv6 extension headers; lengths consistent; checksums valid
 * (a corrupted packet must reach the kernel as it is, to be dropped there, not hidden in a group whose
 * checksum the kernel would compute afresh).
 */
function groCandidate(p: usize, len: u32): u32 {
  let ipl: u32, v4: bool, proto: u32;
  const b0 = load<u8>(p);
  if (b0 == 0x45) {
    proto = load<u8>(p + 9);
    if (be16(p + 2) != len || (be16(p + 6) & 0x3fff) != 0 || fold(sumLE(p, 20, 0)) != 0xffff) return 0;
    ipl = 20; v4 = true;
  } else if (b0 >> 4 == 6) {
    proto = load<u8>(p + 6);
    if (be16(p + 4) + 40 != len) return 0;
    ipl = 40; v4 = false;
  } else {
    return 0;
  }
  let hl: u32;
  if (proto == 6) {
    if (ipl + 20 > len) return 0;
    hl = ipl + (<u32>(load<u8>(p + ipl + 12) >> 4) << 2);
    const f = load<u8>(p + ipl + 13);
    if (hl < ipl + 20 || hl >= len || (f != TCP_ACK && f != (TCP_ACK | TCP_PSH))) return 0;
  } else if (proto == 17) {
    hl = ipl + 8;
    if (hl >= len || be16(p + ipl + 4) != len - ipl) return 0;
  } else {
    return 0;
  }
  return fold(sumLE(p + ipl, len - ipl, pseudo(p, v4, proto, len - ipl))) == 0xffff ? hl : 0;
}

function sameBytes(a: usize, b: usize, n: usize): bool {
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) if (load<u32>(a + i) != load<u32>(b + i)) return false;
  for (; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/** A hash of p's flow (addresses, protocol, ports), p as sameFlow takes it. */
// @ts-ignore: decorator
@inline function flowHash(p: usize): u32 {
  if (load<u8>(p) == 0x45) return load<u32>(p + 12) ^ rotl<u32>(load<u32>(p + 16), 7) ^ rotl<u32>(load<u32>(p + 20), 13) ^ load<u8>(p + 9);
  let h = rotl<u32>(load<u32>(p + 40), 13) ^ load<u8>(p + 6);
  for (let i: usize = 8; i < 40; i += 4) h = rotl<u32>(h, 5) ^ load<u32>(p + i);
  return h;
}

/** The index of the open group (of `open`) of p's flow, hash h, or `open` if there is none. */
function groFind(groups: usize, open: u32, p: usize, h: u32): u32 {
  let k: u32 = 0;
  for (; k < open; k++) {
    const g = groups + <usize>k * G_SIZE;
    if (load<u32>(g + G_HASH) == h && sameFlow(g, p)) break;
  }
  return k;
}

/** Whether p (an IPv4 packet without options or IPv6 one, its ports in it) is of group g's flow: IP
 *  version, protocol, addresses and ports. */
function sameFlow(g: usize, p: usize): bool {
  const h = <usize>load<u32>(g + G_HEAD), ipl = <usize>load<u32>(g + G_IPL);
  if ((load<u32>(g + G_FLAGS) & GF_V4) != 0) {
    if (load<u8>(p) != 0x45 || load<u8>(p + 9) != load<u8>(h + 9) || !sameBytes(p + 12, h + 12, 8)) return false;
  } else if (load<u8>(p) >> 4 != 6 || load<u8>(p + 6) != load<u8>(h + 6) || !sameBytes(p + 8, h + 8, 32)) {
    return false;
  }
  return load<u32>(p + ipl) == load<u32>(h + ipl); // ports
}

/** Whether candidate p (header length hl, of g's flow) continues group g. */
function groFits(g: usize, p: usize, len: u32, hl: u32): bool {
  const flags = load<u32>(g + G_FLAGS), udp = (flags & GF_UDP) != 0, v4 = (flags & GF_V4) != 0;
  const count = load<u32>(g + G_COUNT), gLen = load<u32>(g + G_LEN);
  if ((flags & GF_CLOSED) != 0 || hl != load<u32>(g + G_HL) || count >= (udp ? UDP_MAX_SEGMENTS : IOV_MAX)) return false;
  const h = <usize>load<u32>(g + G_HEAD), ipl = <usize>load<u32>(g + G_IPL), plen = len - hl;
  if (plen > load<u32>(g + G_MSS) || gLen + plen > (v4 ? 65535 : 65535 + 40)) return false;
  if (v4) {
    // TOS, the DF/reserved bits and TTL as the first (protocol and addresses: sameFlow); with DF clear,
    // IDs in sequence (the kernel numbers the segments' IDs from the first one's when it splits the group).
    if (load<u8>(p + 1) != load<u8>(h + 1) || ((load<u8>(p + 6) ^ load<u8>(h + 6)) & 0xe0) != 0 || load<u8>(p + 8) != load<u8>(h + 8)) return false;
    if ((load<u8>(h + 6) & 0x40) == 0 && ((be16(h + 4) + count) & 0xffff) != be16(p + 4)) return false;
  } else {
    // version, traffic class, flow label; hop limit
    if (load<u32>(p) != load<u32>(h) || load<u8>(p + 7) != load<u8>(h + 7)) return false;
  }
  if (udp) return true;
  const t = p + ipl, th = h + ipl;
  // The sequence number in order, the same ACK, data offset, window, urgent pointer and options (so no
  // acknowledgement, window update or timestamp is lost).
  if (bswap<u32>(load<u32>(t + 4)) != load<u32>(g + G_SEQ) || load<u32>(t + 8) != load<u32>(th + 8)) return false;
  if (load<u8>(t + 12) != load<u8>(th + 12) || load<u16>(t + 14) != load<u16>(th + 14) || load<u16>(t + 18) != load<u16>(th + 18)) return false;
  return sameBytes(t + 20, th + 20, <usize>(hl - <u32>ipl - 20));
}

/** Add candidate p to group g. */
function groAdd(g: usize, p: usize, len: u32, hl: u32): void {
  const plen = len - hl, udp = (load<u32>(g + G_FLAGS) & GF_UDP) != 0;
  store<u32>(g + G_COUNT, load<u32>(g + G_COUNT) + 1);
  store<u32>(g + G_LEN, load<u32>(g + G_LEN) + plen);
  store<u32>(g + G_SEQ, load<u32>(g + G_SEQ) + plen);
  const psh = !udp && (load<u8>(p + <usize>load<u32>(g + G_IPL) + 13) & TCP_PSH) != 0;
  let f = load<u32>(g + G_FLAGS) & ~(GF_PSH | GF_CLOSED);
  if (psh) f |= GF_PSH;
  if (psh || plen < load<u32>(g + G_MSS)) f |= GF_CLOSED;
  store<u32>(g + G_FLAGS, f);
}

/** Start group g with candidate p (header length hl, flow hash h), write number w. */
function groStart(g: usize, p: usize, len: u32, hl: u32, w: u32, h: u32): void {
  const v4 = load<u8>(p) == 0x45, ipl: u32 = v4 ? 20 : 40;
  const udp = load<u8>(p + (v4 ? 9 : 6)) == 17;
  const mss = len - hl;
  const psh = !udp && (load<u8>(p + ipl + 13) & TCP_PSH) != 0;
  store<u32>(g + G_HEAD, <u32>p);
  store<u32>(g + G_HL, hl);
  store<u32>(g + G_IPL, ipl);
  store<u32>(g + G_MSS, mss);
  store<u32>(g + G_LEN, len);
  store<u32>(g + G_SEQ, udp ? 0 : bswap<u32>(load<u32>(p + ipl + 4)) + mss);
  store<u32>(g + G_COUNT, 1);
  store<u32>(g + G_WRITE, w);
  store<u32>(g + G_HASH, h);
  store<u32>(g + G_FLAGS, (v4 ? GF_V4 : 0) | (udp ? GF_UDP : 0) | (psh ? GF_PSH | GF_CLOSED : 0));
}

/** Rewrite group g's first packet into the GSO packet the group makes, with its virtio_net_hdr. */
function groClose(g: usize): void {
  const count = load<u32>(g + G_COUNT);
  if (count < 2) return;
  const flags = load<u32>(g + G_FLAGS), udp = (flags & GF_UDP) != 0, v4 = (flags & GF_V4) != 0;
  const h = <usize>load<u32>(g + G_HEAD), ipl = <usize>load<u32>(g + G_IPL), gLen = load<u32>(g + G_LEN);
  const l4len = gLen - <u32>ipl;
  if (v4) {
    putBe16(h + 2, gLen);
    ipv4HeaderChecksum(h, ipl);
  } else {
    putBe16(h + 4, l4len);
  }
  // CHECKSUM_PARTIAL: the kernel (or the device it forwards to) adds the rest to the pseudo-header sum.
  const csumAt: u32 = udp ? 6 : 16;
  if (udp) putBe16(h + ipl + 4, l4len);
  else if ((flags & GF_PSH) != 0) store<u8>(h + ipl + 13, load<u8>(h + ipl + 13) | TCP_PSH);
  store<u16>(h + ipl + csumAt, <u16>fold(pseudo(h, v4, udp ? 17 : 6, l4len)));
  const v = h - <usize>VNET_HDR_LEN;
  store<u8>(v + VH_FLAGS, VNET_F_NEEDS_CSUM);
  store<u8>(v + VH_GSO_TYPE, udp ? GSO_UDP_L4 : v4 ? GSO_TCPV4 : GSO_TCPV6);
  store<u16>(v + VH_HDR_LEN, <u16>load<u32>(g + G_HL));
  store<u16>(v + VH_GSO_SIZE, <u16>load<u32>(g + G_MSS));
  store<u16>(v + VH_CSUM_START, <u16>ipl);
  store<u16>(v + VH_CSUM_OFFSET, <u16>csumAt);
}

const NO_WRITE: u32 = 0xffffffff;

/**
 * Plan the TUN writes of the ST_OK packets among the n descriptors at `desc` (decapsulated: D_OUT_OFF /
 * D_OUT_LEN, with VNET_HDR_LEN bytes of their slot before each). Write w is counts[w] iovecs (u32 array)
 * taken in order from the iovec array `iov` (16 bytes each: u64 address = base + offset, u64 length): the
 * first one a packet with its virtio_net_hdr, any others the payloads coalesced behind it. `scratch`:
 * groScratchSize(n) bytes. Returns the number of writes.
 *
 * As the kernel's GRO does, up to GRO_FLOWS flows are coalesced at once, so interleaved flows still make
 * one write each: a packet joins the open group of its flow if it continues it, else that group is closed
 * and the packet starts the flow's next one. Writes go out in the order of their first packets, which
 * keeps every flow's packets in order (flows may pass each other, as through GRO). A TCP or UDP packet
 * that cannot be coalesced ends its own flow's group first, so nothing of its flow passes it; any other
 * packet (ICMP, a fragment, options or extension headers) ends every group.
 */
export function groPlan(desc: usize, n: i32, iov: usize, counts: usize, base: u64, scratch: usize): i32 {
  const writeOf = scratch, memberHl = scratch + (<usize>n << 2), next = scratch + (<usize>n << 3);
  const groups = scratch + <usize>n * 12;
  let writes: u32 = 0, open: u32 = 0;
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    const wi = writeOf + (<usize>i << 2);
    if (load<u32>(d + D_STATUS) != ST_OK) { store<u32>(wi, NO_WRITE); continue; }
    const p = <usize>load<u32>(d + D_OUT_OFF), len = load<u32>(d + D_OUT_LEN);
    const hl = len >= 28 ? groCandidate(p, len) : 0;
    store<u32>(memberHl + (<usize>i << 2), 0);
    if (hl != 0) {
      const h = flowHash(p), k = groFind(groups, open, p, h);
      if (k < open) {
        const g = groups + <usize>k * G_SIZE;
        if (groFits(g, p, len, hl)) {
          groAdd(g, p, len, hl);
          const w = load<u32>(g + G_WRITE);
          store<u32>(wi, w);
          store<u32>(memberHl + (<usize>i << 2), hl);
          store<u32>(counts + (<usize>w << 2), load<u32>(counts + (<usize>w << 2)) + 1);
          continue;
        }
        groRemove(groups, k, open--); // the flow's group ends here; this packet starts its next one
      } else if (open == GRO_FLOWS) {
        groRemove(groups, 0, open--); // the oldest
      }
      groStart(groups + <usize>open * G_SIZE, p, len, hl, writes, h);
      open++;
    } else if (hasPorts(p, len)) {
      // A TCP or UDP packet that cannot join (a pure ACK, a SYN, a bad checksum): its flow's group ends
      // before it, the other flows' go on.
      const k = groFind(groups, open, p, flowHash(p));
      if (k < open) groRemove(groups, k, open--);
    } else {
      for (let k: u32 = 0; k < open; k++) groClose(groups + <usize>k * G_SIZE); // anything else: all end
      open = 0;
    }
    memory.fill(p - <usize>VNET_HDR_LEN, 0, VNET_HDR_LEN); // no offload unless groClose makes it a GSO packet
    store<u32>(wi, writes);
    store<u32>(counts + (<usize>writes << 2), 1);
    writes++;
  }
  for (let k: u32 = 0; k < open; k++) groClose(groups + <usize>k * G_SIZE);
  // Lay out the iovecs: write w's from the sum of the counts before it, its first packet first.
  let at: u32 = 0;
  for (let w: u32 = 0; w < writes; w++) {
    store<u32>(next + (<usize>w << 2), at);
    at += load<u32>(counts + (<usize>w << 2));
  }
  for (let i = 0; i < n; i++) {
    const w = load<u32>(writeOf + (<usize>i << 2));
    if (w == NO_WRITE) continue;
    const slot = next + (<usize>w << 2), j = load<u32>(slot);
    store<u32>(slot, j + 1);
    const d = desc + <usize>i * DESC_SIZE;
    const p = <usize>load<u32>(d + D_OUT_OFF), len = load<u32>(d + D_OUT_LEN), hl = load<u32>(memberHl + (<usize>i << 2));
    const e = iov + (<usize>j << 4);
    if (hl == 0) {
      store<u64>(e, base + <u64>(p - <usize>VNET_HDR_LEN));
      store<u64>(e + 8, <u64>(len + <u32>VNET_HDR_LEN));
    } else {
      store<u64>(e, base + <u64>(p + <usize>hl));
      store<u64>(e + 8, <u64>(len - hl));
    }
  }
  return <i32>writes;
}

/** Whether p is TCP or UDP over IPv4 without options, not a fragment, or over IPv6 without extension
 *  headers, long enough to hold its ports. */
function hasPorts(p: usize, len: u32): bool {
  const b0 = load<u8>(p);
  if (b0 == 0x45) {
    const proto = load<u8>(p + 9);
    return len >= 24 && (proto == 6 || proto == 17) && (be16(p + 6) & 0x3fff) == 0;
  }
  if (b0 >> 4 == 6) {
    const nh = load<u8>(p + 6);
    return len >= 44 && (nh == 6 || nh == 17);
  }
  return false;
}

/** Close group k of the `open` groups and remove it, keeping the others in the order they started. */
function groRemove(groups: usize, k: u32, open: u32): void {
  const g = groups + <usize>k * G_SIZE;
  groClose(g);
  memory.copy(g, g + G_SIZE, <usize>(open - k - 1) * G_SIZE);
}
