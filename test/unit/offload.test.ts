// TCP/UDP segmentation (TSO, USO) and coalescing (GRO) of the TUN offload path (assembly/offload.ts
// through src/dataplane/offload.ts), against an oracle written here: TCP/IP and UDP packets, their
// checksums (RFC 1071, big-endian words, summed the plain way) and the kernel's segmentation of a GSO
// packet (tcp_gso_segment / __udp_gso_segment: lengths, IPv4 IDs counted up, sequence numbers, FIN/PSH on
// the last segment, CWR on the first) are built by hand, independently of the code under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import { DROP_REASONS } from "../../src/dataplane/layout.js";
import { GroPlan, TsoReader } from "../../src/dataplane/offload.js";
import { hex } from "../helpers/packets.js";

const dp = DataPlane.create({ maxSAs: 4, backend: "wasm" });
const L = dp.L;
const VNET = 10;
const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80;
const GSO_TCPV4 = 1, GSO_TCPV6 = 4, GSO_UDP_L4 = 5;

// ------------------------------------------------------------------------------------------ oracle

function sum16(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

const protoOf = (p: Uint8Array) => (p[0] >> 4 === 6 ? p[6] : p[9]);

function pseudoSum(p: Uint8Array, l4len: number): number {
  const v6 = p[0] >> 4 === 6;
  const ph = new Uint8Array(v6 ? 40 : 12);
  if (v6) { ph.set(p.subarray(8, 40)); ph[34] = l4len >> 8; ph[35] = l4len & 255; ph[39] = protoOf(p); }
  else { ph.set(p.subarray(12, 20)); ph[9] = protoOf(p); ph[10] = l4len >> 8; ph[11] = l4len & 255; }
  return sum16(ph);
}

const ipLen = (p: Uint8Array) => (p[0] >> 4 === 6 ? 40 : (p[0] & 15) * 4);
const be16 = (p: Uint8Array, at: number) => (p[at] << 8) | p[at + 1];
const put16 = (p: Uint8Array, at: number, v: number) => { p[at] = (v >> 8) & 255; p[at + 1] = v & 255; };
const put32 = (p: Uint8Array, at: number, v: number) => { put16(p, at, v >>> 16); put16(p, at + 2, v & 0xffff); };
const be32 = (p: Uint8Array, at: number) => ((be16(p, at) << 16) | be16(p, at + 2)) >>> 0;

/** Fill in the IPv4 header checksum and the TCP or UDP checksum of a complete packet. */
function finish(p: Uint8Array): Uint8Array {
  const ipl = ipLen(p), at = ipl + (protoOf(p) === 17 ? 6 : 16);
  if (p[0] >> 4 === 4) { put16(p, 10, 0); put16(p, 10, ~sum16(p.subarray(0, ipl)) & 0xffff); }
  put16(p, at, 0);
  put16(p, at, ~sum16(p.subarray(ipl), pseudoSum(p, p.length - ipl)) & 0xffff || (protoOf(p) === 17 ? 0xffff : 0));
  return p;
}

/** A UDP datagram with correct checksums: a TCP packet's IP header in front of a UDP header. */
function udp(s: Seg): Uint8Array {
  const t = tcp({ ...s, payload: new Uint8Array(0), options: undefined });
  const ipl = ipLen(t);
  const p = new Uint8Array(ipl + 8 + s.payload.length);
  p.set(t.subarray(0, ipl));
  if (s.v6) { p[6] = 17; put16(p, 4, p.length - 40); } else { p[9] = 17; put16(p, 2, p.length); }
  put16(p, ipl, s.sport ?? 40000); put16(p, ipl + 2, s.dport ?? 5201); put16(p, ipl + 4, p.length - ipl);
  p.set(s.payload, ipl + 8);
  return finish(p);
}

function ipv4Ok(p: Uint8Array): boolean { return sum16(p.subarray(0, ipLen(p))) === 0xffff; }
function tcpOk(p: Uint8Array): boolean { const ipl = ipLen(p); return sum16(p.subarray(ipl), pseudoSum(p, p.length - ipl)) === 0xffff; }

interface Seg {
  v6?: boolean; src?: number; dst?: number; sport?: number; dport?: number; seq?: number; ack?: number;
  flags?: number; window?: number; urg?: number; options?: Uint8Array; payload: Uint8Array;
  id?: number; ttl?: number; tos?: number; df?: boolean; mf?: boolean; ipOptions?: Uint8Array; flow?: number; next?: number;
}

/** A TCP/IP packet with correct checksums (addresses vary in their last byte). */
function tcp(s: Seg): Uint8Array {
  const opts = s.options ?? new Uint8Array(0);
  const ipo = s.ipOptions ?? new Uint8Array(0);
  const ipl = s.v6 ? 40 : 20 + ipo.length, tl = 20 + opts.length;
  const p = new Uint8Array(ipl + tl + s.payload.length);
  if (s.v6) {
    p[0] = 0x60 | ((s.tos ?? 0) >> 4); p[1] = (((s.tos ?? 0) & 15) << 4) | (((s.flow ?? 0x12345) >> 16) & 15);
    put16(p, 2, (s.flow ?? 0x12345) & 0xffff);
    put16(p, 4, p.length - 40); p[6] = s.next ?? 6; p[7] = s.ttl ?? 64;
    p[8] = 0xfd; p[23] = s.src ?? 1; p[24] = 0xfd; p[39] = s.dst ?? 2;
  } else {
    p[0] = 0x40 | (ipl / 4); p[1] = s.tos ?? 0; put16(p, 2, p.length); put16(p, 4, s.id ?? 0x1234);
    p[6] = (s.df ?? true ? 0x40 : 0) | (s.mf ? 0x20 : 0); p[8] = s.ttl ?? 64; p[9] = 6;
    p.set([10, 0, 0, s.src ?? 1], 12); p.set([10, 0, 1, s.dst ?? 2], 16); p.set(ipo, 20);
  }
  put16(p, ipl, s.sport ?? 40000); put16(p, ipl + 2, s.dport ?? 5201);
  put32(p, ipl + 4, s.seq ?? 1000); put32(p, ipl + 8, s.ack ?? 77);
  p[ipl + 12] = (tl / 4) << 4; p[ipl + 13] = s.flags ?? ACK; put16(p, ipl + 14, s.window ?? 502); put16(p, ipl + 18, s.urg ?? 0);
  p.set(opts, ipl + 20); p.set(s.payload, ipl + tl);
  return finish(p);
}

/** The run of segments the kernel's TSO makes of `len` payload bytes at MSS `mss`, first flags `flags`. */
function segments(base: Omit<Seg, "payload">, data: Uint8Array, mss: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = Math.ceil(data.length / mss);
  for (let k = 0; k < n; k++) {
    let f = base.flags ?? ACK;
    if (k !== n - 1) f &= ~(FIN | PSH);
    if (k !== 0) f &= ~CWR;
    out.push(tcp({ ...base, flags: f, seq: ((base.seq ?? 1000) + k * mss) >>> 0, id: ((base.id ?? 0x1234) + k) & 0xffff, payload: data.subarray(k * mss, (k + 1) * mss) }));
  }
  return out;
}

/** The kernel's view of a GSO packet: one header, all the payload, the TCP checksum field holding the
 *  pseudo-header sum (CHECKSUM_PARTIAL), and its virtio_net_hdr. */
function gsoPacket(base: Omit<Seg, "payload">, data: Uint8Array, mss: number): { hdr: Uint8Array; pkt: Uint8Array } {
  const pkt = tcp({ ...base, payload: data });
  const ipl = ipLen(pkt), hl = ipl + (pkt[ipl + 12] >> 4) * 4;
  put16(pkt, ipl + 16, pseudoSum(pkt, pkt.length - ipl));
  return { hdr: vnetHdr(1, base.v6 ? GSO_TCPV6 : GSO_TCPV4, hl, mss, ipl, 16), pkt };
}

function vnetHdr(flags: number, type: number, hdrLen: number, gso: number, start: number, off: number): Uint8Array {
  const h = new Uint8Array(VNET);
  const dv = new DataView(h.buffer);
  h[0] = flags; h[1] = type; dv.setUint16(2, hdrLen, true); dv.setUint16(4, gso, true); dv.setUint16(6, start, true); dv.setUint16(8, off, true);
  return h;
}

/** The kernel's segmentation of a GSO write (what the stack does with what we write), for GRO's output. */
function kernelSplit(write: Uint8Array): Uint8Array[] {
  const h = write.subarray(0, VNET), pkt = write.slice(VNET);
  const dv = new DataView(h.buffer, h.byteOffset);
  if (h[1] === 0) return [pkt];
  const ipl = dv.getUint16(6, true), mss = dv.getUint16(4, true), hl = dv.getUint16(2, true);
  const isUdp = h[1] === GSO_UDP_L4;
  assert.equal(h[0], 1, "NEEDS_CSUM");
  assert.equal(protoOf(pkt), isUdp ? 17 : 6);
  if (!isUdp) assert.equal(h[1], pkt[0] >> 4 === 6 ? GSO_TCPV6 : GSO_TCPV4);
  assert.equal(ipl, ipLen(pkt));
  assert.equal(dv.getUint16(8, true), isUdp ? 6 : 16);
  assert.equal(hl, ipl + (isUdp ? 8 : (pkt[ipl + 12] >> 4) * 4));
  if (pkt[0] >> 4 === 4) { assert.equal(be16(pkt, 2), pkt.length); assert.ok(ipv4Ok(pkt), "IPv4 header checksum of the GSO packet"); }
  else assert.equal(be16(pkt, 4), pkt.length - 40);
  if (isUdp) assert.equal(be16(pkt, ipl + 4), pkt.length - ipl, "UDP length of the GSO packet");
  assert.equal(be16(pkt, ipl + (isUdp ? 6 : 16)), pseudoSum(pkt, pkt.length - ipl), "checksum field = pseudo-header sum");
  const data = pkt.subarray(hl);
  const out: Uint8Array[] = [];
  const n = Math.ceil(data.length / mss);
  for (let k = 0; k < n; k++) {
    const seg = new Uint8Array(hl + Math.min(mss, data.length - k * mss));
    seg.set(pkt.subarray(0, hl)); seg.set(data.subarray(k * mss, (k + 1) * mss), hl);
    if (pkt[0] >> 4 === 4) { put16(seg, 2, seg.length); put16(seg, 4, (be16(pkt, 4) + k) & 0xffff); } else put16(seg, 4, seg.length - 40);
    if (isUdp) put16(seg, ipl + 4, seg.length - ipl);
    else {
      put32(seg, ipl + 4, (be32(pkt, ipl + 4) + k * mss) >>> 0);
      if (k !== n - 1) seg[ipl + 13] &= ~(FIN | PSH);
      if (k !== 0) seg[ipl + 13] &= ~CWR;
    }
    out.push(finish(seg));
  }
  return out;
}

// ------------------------------------------------------------------------------------------ harness

const u8 = () => dp.views.refresh().u8;

/** Put a read into slot i as the kernel does with the two iovecs (header + slot, then overflow). */
function stage(b: PacketBatch, r: TsoReader, i: number, hdr: Uint8Array, pkt: Uint8Array): number {
  const m = u8();
  m.set(hdr, b.slotOffset(i) - VNET);
  m.set(pkt.subarray(0, b.maxPacket), b.slotOffset(i));
  if (pkt.length > b.maxPacket) m.set(pkt.subarray(b.maxPacket), r.overflow);
  return r.accept(i, pkt.length);
}

function packets(b: PacketBatch, from: number, n: number): Uint8Array[] {
  const m = u8(), v = dp.views.u32;
  return Array.from({ length: n }, (_, k) => {
    const d = (b.descOff + (from + k) * L.DESC_SIZE) >> 2;
    assert.equal(v[d + (L.D_IN_OFF >> 2)], b.slotOffset(from + k));
    return m.slice(v[d + (L.D_IN_OFF >> 2)], v[d + (L.D_IN_OFF >> 2)] + v[d + (L.D_IN_LEN >> 2)]);
  });
}

/** Split `gso` into a fresh batch of `cap` slots; returns every segment, over as many batches as needed. */
function tso(hdr: Uint8Array, pkt: Uint8Array, cap = 64, slotSize = 2048): { segs: Uint8Array[]; batches: number } {
  const b = dp.batch(cap, slotSize), r = new TsoReader(dp, b);
  const segs: Uint8Array[] = [];
  let n = stage(b, r, 0, hdr, pkt), batches = 1;
  segs.push(...packets(b, 0, n));
  while (r.pending) { n = r.resume(0); segs.push(...packets(b, 0, n)); batches++; }
  return { segs, batches };
}

/** Decapsulated outputs as the data plane leaves them: packet k at slot k, status OK unless `drop`. */
function outputs(pkts: Uint8Array[], drop: number[] = []): PacketBatch {
  const b = dp.batch(Math.max(pkts.length, 1));
  const m = u8(), v = dp.views.u32;
  pkts.forEach((p, k) => {
    const off = b.slotOffset(k) + 24; // behind an ESP header and IV, as decap leaves it
    m.set(p, off);
    const d = (b.descOff + k * L.DESC_SIZE) >> 2;
    v[d + (L.D_STATUS >> 2)] = drop.includes(k) ? DROP_REASONS.indexOf("auth_failed") : L.ST_OK;
    v[d + (L.D_OUT_OFF >> 2)] = off;
    v[d + (L.D_OUT_LEN >> 2)] = p.length;
  });
  b.count = pkts.length;
  return b;
}

/** The writes GRO plans for `pkts`: each the bytes its iovecs gather (virtio_net_hdr first). */
function gro(pkts: Uint8Array[], drop: number[] = []): Uint8Array[] {
  const b = outputs(pkts, drop);
  const plan = new GroPlan(dp, b.capacity, 0n);
  const writes = plan.plan(b);
  const m = u8(), dv = new DataView(m.buffer);
  const out: Uint8Array[] = [];
  for (let w = 0, j = 0; w < writes; w++) {
    const parts: Uint8Array[] = [];
    for (let k = plan.iovecs(w); k > 0; k--, j++) {
      const at = plan.iovOff + j * 16;
      const off = Number(dv.getBigUint64(at, true)), len = Number(dv.getBigUint64(at + 8, true));
      parts.push(m.slice(off, off + len));
    }
    out.push(Buffer.concat(parts));
  }
  return out;
}

const plain = (p: Uint8Array) => Buffer.concat([new Uint8Array(VNET), p]);
const ts = (v: number) => Uint8Array.of(1, 1, 8, 10, v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, 0, 0, 0, 9);

// ------------------------------------------------------------------------------------------ TSO

test("TSO: an IPv4 super-packet becomes the kernel's segments, byte for byte (IDs, seq, FIN/PSH last, CWR first)", () => {
  const data = randomBytes(20_000);
  const base = { seq: 0xfffff000, id: 0xfffe, flags: ACK | PSH | FIN | CWR, options: ts(12345) };
  const { hdr, pkt } = gsoPacket(base, data, 1388);
  const { segs } = tso(hdr, pkt);
  const want = segments(base, data, 1388);
  assert.equal(segs.length, 15);
  assert.deepEqual(segs.map(Buffer.from), want.map(Buffer.from));
  for (const s of segs) { assert.ok(ipv4Ok(s)); assert.ok(tcpOk(s)); }
  assert.deepEqual(Buffer.concat(segs.map((s) => s.subarray(20 + 32))), data);
});

test("TSO: an IPv6 super-packet, MSS not a multiple of 4 and a short last segment", () => {
  const data = randomBytes(9_999);
  const base = { v6: true, seq: 5, flags: ACK | PSH, tos: 0xb8, flow: 0xabcde };
  const { hdr, pkt } = gsoPacket(base, data, 1001);
  const { segs } = tso(hdr, pkt);
  assert.deepEqual(segs.map(Buffer.from), segments(base, data, 1001).map(Buffer.from));
  assert.equal(segs.at(-1)!.length, 40 + 20 + (9_999 % 1001));
});

test("TSO: more segments than the batch has slots continue in the next batches, in order", () => {
  const data = randomBytes(60_000);
  const base = { seq: 1, id: 7 };
  const { hdr, pkt } = gsoPacket(base, data, 536);
  const { segs, batches } = tso(hdr, pkt, 16);
  assert.equal(segs.length, Math.ceil(60_000 / 536));
  assert.equal(batches, Math.ceil(segs.length / 16));
  assert.deepEqual(segs.map(Buffer.from), segments(base, data, 536).map(Buffer.from));
});

test("TSO: a packet without GSO whose checksum the kernel left (CHECKSUM_PARTIAL) gets it; UDP's 0 becomes 0xffff", () => {
  const b = dp.batch(4), r = new TsoReader(dp, b);
  // TCP: the field holds the pseudo-header sum.
  const t = tcp({ payload: randomBytes(777), flags: ACK | PSH });
  const partial = t.slice();
  put16(partial, 36, pseudoSum(t, t.length - 20));
  assert.equal(stage(b, r, 0, vnetHdr(1, 0, 0, 0, 20, 16), partial), 1);
  const want = t.slice();
  if (be16(want, 36) === 0) put16(want, 36, 0xffff); // the same sum, written as the kernel writes it
  assert.deepEqual(Buffer.from(packets(b, 0, 1)[0]), Buffer.from(want));
  // UDP over IPv6 whose data sums to a checksum of 0 must carry 0xffff (RFC 8200 §8.1).
  const u = new Uint8Array(48 + 2);
  u[0] = 0x60; put16(u, 4, 10); u[6] = 17; u[7] = 64; u[8] = 0xfd; u[23] = 1; u[24] = 0xfd; u[39] = 2;
  put16(u, 40, 1000); put16(u, 42, 2000); put16(u, 44, 10);
  const ph = new Uint8Array(40); ph.set(u.subarray(8, 40)); ph[35] = 10; ph[39] = 17;
  const rest = ~sum16(Buffer.concat([ph, u.subarray(40)])) & 0xffff; // payload word making the sum 0xffff
  put16(u, 48, rest);
  assert.equal(~sum16(Buffer.concat([ph, u.subarray(40)])) & 0xffff, 0);
  put16(u, 46, sum16(ph));
  assert.equal(stage(b, r, 1, vnetHdr(1, 0, 0, 0, 40, 6), u), 1);
  assert.equal(be16(packets(b, 1, 1)[0], 46), 0xffff);
  // Without NEEDS_CSUM the packet is left alone.
  assert.equal(stage(b, r, 2, vnetHdr(0, 0, 0, 0, 0, 0), t), 1);
  assert.deepEqual(Buffer.from(packets(b, 2, 1)[0]), Buffer.from(t));
});

test("TSO: malformed virtio headers and super-packets are dropped and counted, the next read is intact", () => {
  const data = randomBytes(5000);
  const good = gsoPacket({}, data, 1400);
  const cases: [string, Uint8Array, Uint8Array][] = [];
  const mut = (name: string, f: (h: Uint8Array, p: Uint8Array) => void) => {
    const h = good.hdr.slice(), p = good.pkt.slice(); f(h, p); cases.push([name, h, p]);
  };
  mut("UDP GSO type", (h) => { h[1] = 3; });
  mut("UDP_L4 GSO type", (h) => { h[1] = 5; });
  mut("ECN bit", (h) => { h[1] |= 0x80; });
  mut("TCPv6 type on IPv4", (h) => { h[1] = GSO_TCPV6; });
  mut("gso_size 0", (h) => { h[4] = h[5] = 0; });
  mut("segment larger than a slot", (h) => { h[4] = 0x00; h[5] = 0x10; });
  mut("csum_offset 6", (h) => { h[8] = 6; });
  mut("csum_start off the TCP header", (h) => { h[6] = 24; });
  mut("no NEEDS_CSUM", (h) => { h[0] = 0; });
  mut("IPv4 total length too long", (_, p) => { put16(p, 2, p.length + 1); });
  mut("IPv4 total length too short", (_, p) => { put16(p, 2, p.length - 1); });
  mut("fragment (MF)", (_, p) => { p[6] |= 0x20; });
  mut("fragment offset", (_, p) => { p[7] = 1; });
  mut("not TCP", (_, p) => { p[9] = 17; });
  mut("IP version 5", (_, p) => { p[0] = 0x55; });
  mut("TCP data offset 4", (_, p) => { p[32] = 0x40; });
  cases.push(["header only, no payload", good.hdr, tcp({ payload: new Uint8Array(0) })]);
  const past = tcp({ payload: randomBytes(10) }); past[32] = 0xf0; // a 60-byte TCP header in 30 bytes
  cases.push(["TCP header past the end", good.hdr, past]);
  const v6 = gsoPacket({ v6: true }, data, 1400);
  const eh = v6.pkt.slice(); eh[6] = 0; // hop-by-hop options: extension headers are not segmented
  cases.push(["IPv6 extension header", v6.hdr, eh]);
  const pl = v6.pkt.slice(); put16(pl, 4, 7);
  cases.push(["IPv6 payload length", v6.hdr, pl]);
  cases.push(["non-GSO checksum field past the end", vnetHdr(1, 0, 0, 0, 40, 0x7fff), tcp({ payload: randomBytes(10) })]);
  const b = dp.batch(4), r = new TsoReader(dp, b);
  for (const [name, h, p] of cases) {
    const before = r.stats.malformed;
    assert.equal(stage(b, r, 0, h, p), 0, name);
    assert.equal(r.stats.malformed, before + 1, name);
    assert.equal(r.pending, false, name);
  }
  // Without GSO, longer than a slot: truncated, not malformed.
  assert.equal(stage(b, r, 0, vnetHdr(0, 0, 0, 0, 0, 0), tcp({ payload: randomBytes(b.maxPacket) })), 0);
  assert.equal(r.stats.truncated, 1);
  assert.equal(stage(b, r, 0, good.hdr, good.pkt), 4);
  assert.deepEqual(packets(b, 0, 4).map(Buffer.from), segments({}, data, 1400).map(Buffer.from));
});

test("TSO fuzz: random corruption of header and packet never traps; whatever is accepted is well-formed", () => {
  const b = dp.batch(64), r = new TsoReader(dp, b);
  for (let n = 0; n < 3000; n++) {
    const v6 = n % 2 === 1;
    const { hdr, pkt } = gsoPacket({ v6, options: n % 3 ? ts(n) : undefined }, randomBytes(100 + (n * 37) % 9000), 200 + (n % 1300));
    const flips = 1 + (n % 4);
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(Math.random() * (VNET + 80));
      if (at < VNET) hdr[at] ^= 1 << (n % 8); else pkt[at - VNET] ^= 1 << (f % 8);
    }
    let got = stage(b, r, 0, hdr, pkt.subarray(0, n % 7 ? pkt.length : Math.floor(Math.random() * pkt.length)));
    while (r.pending) got = r.resume(0);
    for (const s of packets(b, 0, got)) {
      if (hdr[1] === 0) continue; // without GSO the packet is passed on as it is
      const ipl = ipLen(s);
      assert.equal(s[0] >> 4 === 4 ? be16(s, 2) : be16(s, 4) + 40, s.length);
      if (s[0] >> 4 === 4) assert.ok(ipv4Ok(s));
      assert.ok(tcpOk(s));
      assert.ok(s.length <= b.maxPacket && ipl >= 20);
    }
  }
});

// ------------------------------------------------------------------------------------------ USO

/** A UDP super-packet as the kernel hands it over (what our GRO writes is that format): its virtio_net_hdr
 *  and packet, made of `pkts` (datagrams of one flow, all but the last of one size). */
function usoPacket(pkts: Uint8Array[]): { hdr: Uint8Array; pkt: Uint8Array } {
  const [w] = gro(pkts);
  assert.equal(w[1], GSO_UDP_L4);
  return { hdr: Uint8Array.from(w.subarray(0, VNET)), pkt: Uint8Array.from(w.subarray(VNET)) }; // copies (Buffer's slice is a view)
}

test("USO: a UDP super-packet (IPv4 and IPv6) becomes its datagrams, byte for byte, as the kernel splits it", () => {
  for (const v6 of [false, true]) {
    const pkts = Array.from({ length: 40 }, (_, k) => udp({ v6, id: 0xffe0 + k, tos: 0x28, payload: randomBytes(k === 39 ? 3 : 1201) }));
    const { hdr, pkt } = usoPacket(pkts);
    const { segs } = tso(hdr, pkt);
    assert.deepEqual(segs.map(Buffer.from), pkts.map(Buffer.from), v6 ? "IPv6" : "IPv4");
    assert.deepEqual(segs.map(Buffer.from), kernelSplit(Buffer.concat([hdr, pkt])).map(Buffer.from));
    for (const s of segs) { if (!v6) assert.ok(ipv4Ok(s)); assert.ok(tcpOk(s), "UDP checksum"); }
  }
});

test("USO: 64-byte datagrams over several batches; a datagram whose checksum sums to 0 carries 0xffff", () => {
  const pkts = Array.from({ length: 64 }, (_, k) => udp({ id: k, payload: randomBytes(64) }));
  const { hdr, pkt } = usoPacket(pkts);
  const { segs, batches } = tso(hdr, pkt, 10);
  assert.equal(batches, 7);
  assert.deepEqual(segs.map(Buffer.from), pkts.map(Buffer.from));
  // A datagram whose checksum computes to 0 carries 0xffff (RFC 768): make its last payload word so.
  const a = udp({ id: 1, payload: randomBytes(64) }), b = udp({ id: 2, payload: randomBytes(64) });
  put16(b, b.length - 2, 0); put16(b, 26, 0);
  put16(b, b.length - 2, 0xffff - sum16(b.subarray(20), pseudoSum(b, b.length - 20)));
  finish(b);
  assert.equal(be16(b, 26), 0xffff);
  const two = usoPacket([a, b]);
  const { segs: split } = tso(two.hdr, two.pkt);
  assert.deepEqual(split.map(Buffer.from), [a, b].map(Buffer.from));
});

test("USO: malformed UDP super-packets are dropped and counted, the next read is intact", () => {
  const pkts = Array.from({ length: 5 }, (_, k) => udp({ id: k, payload: randomBytes(1000) }));
  const good = usoPacket(pkts);
  const cases: [string, Uint8Array, Uint8Array][] = [];
  const mut = (name: string, f: (h: Uint8Array, p: Uint8Array) => void, g = good) => {
    const h = g.hdr.slice(), p = g.pkt.slice(); f(h, p); cases.push([name, h, p]);
  };
  mut("csum_offset 16", (h) => { h[8] = 16; });
  mut("csum_start off the UDP header", (h) => { h[6] = 24; });
  mut("no NEEDS_CSUM", (h) => { h[0] = 0; });
  mut("gso_size 0", (h) => { h[4] = h[5] = 0; });
  mut("datagram larger than a slot", (h) => { h[4] = 0x00; h[5] = 0x10; });
  mut("not UDP", (_, p) => { p[9] = 6; });
  mut("IPv4 options", (_, p) => { p[0] = 0x46; });
  mut("IPv4 total length", (_, p) => { put16(p, 2, p.length - 1); });
  mut("fragment (MF)", (_, p) => { p[6] |= 0x20; });
  mut("IP version 5", (_, p) => { p[0] = 0x55; });
  const v6 = usoPacket(Array.from({ length: 3 }, (_, k) => udp({ v6: true, id: k, payload: randomBytes(500) })));
  mut("IPv6 extension header", (_, p) => { p[6] = 0; }, v6);
  mut("IPv6 payload length", (_, p) => { put16(p, 4, 7); }, v6);
  cases.push(["UDP header only", good.hdr, udp({ payload: new Uint8Array(0) })]);
  const b = dp.batch(8), r = new TsoReader(dp, b);
  for (const [name, h, p] of cases) {
    const before = r.stats.malformed;
    assert.equal(stage(b, r, 0, h, p), 0, name);
    assert.equal(r.stats.malformed, before + 1, name);
  }
  assert.equal(stage(b, r, 0, good.hdr, good.pkt), 5);
  assert.deepEqual(packets(b, 0, 5).map(Buffer.from), pkts.map(Buffer.from));
});

test("USO fuzz: random corruption never traps; whatever is accepted is a well-formed datagram", () => {
  const b = dp.batch(64), r = new TsoReader(dp, b);
  for (let n = 0; n < 2000; n++) {
    const v6 = n % 2 === 1, size = 20 + (n * 37) % 1400;
    const { hdr, pkt } = usoPacket(Array.from({ length: 2 + (n % 30) }, (_, k) => udp({ v6, id: k, payload: randomBytes(size) })));
    for (let f = 0; f < 1 + (n % 4); f++) {
      const at = Math.floor(Math.random() * (VNET + 60));
      if (at < VNET) hdr[at] ^= 1 << (n % 8); else pkt[at - VNET] ^= 1 << (f % 8);
    }
    let got = stage(b, r, 0, hdr, pkt.subarray(0, n % 7 ? pkt.length : Math.floor(Math.random() * pkt.length)));
    while (r.pending) got = r.resume(0);
    for (const s of packets(b, 0, got)) {
      if (hdr[1] !== GSO_UDP_L4) continue; // without GSO (or TCP's) not this test's business
      const ipl = ipLen(s);
      assert.equal(s[0] >> 4 === 4 ? be16(s, 2) : be16(s, 4) + 40, s.length);
      if (s[0] >> 4 === 4) assert.ok(ipv4Ok(s));
      assert.equal(be16(s, ipl + 4), s.length - ipl);
      assert.ok(tcpOk(s), "UDP checksum");
    }
  }
});

// ------------------------------------------------------------------------------------------ GRO

test("GRO: consecutive in-order segments of a flow become one GSO write the kernel splits back into them", () => {
  for (const v6 of [false, true]) {
    const data = randomBytes(1300 * 5 + 11);
    const base = { v6, seq: 0xffffff00, id: 0xffff, flags: ACK | PSH, options: ts(99) };
    const segs = segments(base, data, 1300);
    const writes = gro(segs);
    assert.equal(writes.length, 1, v6 ? "IPv6" : "IPv4");
    const w = writes[0];
    assert.equal(w[1], v6 ? GSO_TCPV6 : GSO_TCPV4);
    assert.equal(new DataView(w.buffer, w.byteOffset).getUint16(4, true), 1300);
    assert.equal(w[VNET + ipLen(w.subarray(VNET)) + 13], ACK | PSH, "PSH from the last segment");
    assert.deepEqual(kernelSplit(w).map(Buffer.from), segs.map(Buffer.from));
  }
});

test("GRO: segment, then coalesce, gives back the super-packet's bytes", () => {
  const data = randomBytes(40_000);
  const base = { seq: 123, id: 50, flags: ACK | PSH, options: ts(7) };
  const { hdr, pkt } = gsoPacket(base, data, 1448);
  const { segs } = tso(hdr, pkt);
  const writes = gro(segs);
  assert.equal(writes.length, 1);
  assert.deepEqual(Buffer.from(writes[0].subarray(VNET)), Buffer.from(pkt));
  assert.deepEqual(Buffer.from(writes[0].subarray(0, VNET)), Buffer.from(hdr));
});

test("GRO: each rule that forbids coalescing keeps the two packets apart, written unchanged", () => {
  const p1 = randomBytes(1000), p2 = randomBytes(1000), p3 = randomBytes(1000);
  const first: Omit<Seg, "payload"> = { seq: 5000, id: 10, options: ts(1) };
  const second = (o: Partial<Seg>) => ({ ...first, seq: 6000, id: 11, ...o });
  const cases: [string, Uint8Array[]][] = [
    ["source address", [tcp({ ...first, payload: p1 }), tcp({ ...second({ src: 9 }), payload: p2 })]],
    ["destination address", [tcp({ ...first, payload: p1 }), tcp({ ...second({ dst: 9 }), payload: p2 })]],
    ["source port", [tcp({ ...first, payload: p1 }), tcp({ ...second({ sport: 1 }), payload: p2 })]],
    ["destination port", [tcp({ ...first, payload: p1 }), tcp({ ...second({ dport: 1 }), payload: p2 })]],
    ["sequence gap", [tcp({ ...first, payload: p1 }), tcp({ ...second({ seq: 6001 }), payload: p2 })]],
    ["sequence overlap (retransmission)", [tcp({ ...first, payload: p1 }), tcp({ ...second({ seq: 5500 }), payload: p2 })]],
    ["out of order", [tcp({ ...second({}), payload: p2 }), tcp({ ...first, payload: p1 })]],
    ["acknowledgement number", [tcp({ ...first, payload: p1 }), tcp({ ...second({ ack: 78 }), payload: p2 })]],
    ["window", [tcp({ ...first, payload: p1 }), tcp({ ...second({ window: 503 }), payload: p2 })]],
    ["option bytes (timestamp)", [tcp({ ...first, payload: p1 }), tcp({ ...second({ options: ts(2) }), payload: p2 })]],
    ["option length", [tcp({ ...first, payload: p1 }), tcp({ ...second({ options: new Uint8Array(0) }), payload: p2 })]],
    ["PSH on the first", [tcp({ ...first, flags: ACK | PSH, payload: p1 }), tcp({ ...second({}), payload: p2 })]],
    ["FIN", [tcp({ ...first, payload: p1 }), tcp({ ...second({ flags: ACK | FIN }), payload: p2 })]],
    ["SYN", [tcp({ ...first, payload: p1 }), tcp({ ...second({ flags: ACK | SYN }), payload: p2 })]],
    ["RST", [tcp({ ...first, payload: p1 }), tcp({ ...second({ flags: ACK | RST }), payload: p2 })]],
    ["URG", [tcp({ ...first, payload: p1 }), tcp({ ...second({ flags: ACK | URG, urg: 3 }), payload: p2 })]],
    ["ECE", [tcp({ ...first, payload: p1 }), tcp({ ...second({ flags: ACK | ECE }), payload: p2 })]],
    ["CWR", [tcp({ ...first, payload: p1 }), tcp({ ...second({ flags: ACK | CWR }), payload: p2 })]],
    ["no ACK", [tcp({ ...first, flags: 0, payload: p1 }), tcp({ ...second({ flags: 0 }), payload: p2 })]],
    ["TTL", [tcp({ ...first, payload: p1 }), tcp({ ...second({ ttl: 63 }), payload: p2 })]],
    ["TOS (ECN CE mark)", [tcp({ ...first, payload: p1 }), tcp({ ...second({ tos: 3 }), payload: p2 })]],
    ["DF", [tcp({ ...first, payload: p1 }), tcp({ ...second({ df: false }), payload: p2 })]],
    ["IPv4 ID out of sequence without DF", [tcp({ ...first, df: false, payload: p1 }), tcp({ ...second({ df: false, id: 13 }), payload: p2 })]],
    ["IPv4 options", [tcp({ ...first, ipOptions: Uint8Array.of(1, 1, 1, 1), payload: p1 }), tcp({ ...second({ ipOptions: Uint8Array.of(1, 1, 1, 1) }), payload: p2 })]],
    ["fragment", [tcp({ ...first, payload: p1 }), tcp({ ...second({ mf: true }), payload: p2 })]],
    ["larger than the first", [tcp({ ...first, payload: p1 }), tcp({ ...second({}), payload: randomBytes(1001) })]],
    ["no payload", [tcp({ ...first, payload: p1 }), tcp({ ...second({}), payload: new Uint8Array(0) })]],
    ["IPv4 then IPv6", [tcp({ ...first, payload: p1 }), tcp({ ...second({ v6: true }), payload: p2 })]],
    ["IPv6 flow label", [tcp({ ...first, v6: true, payload: p1 }), tcp({ ...second({ v6: true, flow: 7 }), payload: p2 })]],
    ["IPv6 traffic class", [tcp({ ...first, v6: true, payload: p1 }), tcp({ ...second({ v6: true, tos: 4 }), payload: p2 })]],
    ["IPv6 hop limit", [tcp({ ...first, v6: true, payload: p1 }), tcp({ ...second({ v6: true, ttl: 1 }), payload: p2 })]],
  ];
  const badTcp = tcp({ ...second({}), payload: p2 }); badTcp[100] ^= 1;
  cases.push(["corrupted TCP checksum", [tcp({ ...first, payload: p1 }), badTcp]]);
  const badIp = tcp({ ...second({}), payload: p2 }); badIp[10] ^= 1;
  cases.push(["corrupted IPv4 header checksum", [tcp({ ...first, payload: p1 }), badIp]]);
  const ext = tcp({ ...second({ v6: true }), payload: p2 }); ext[6] = 60; // a destination-options header
  cases.push(["IPv6 extension header", [tcp({ ...first, v6: true, payload: p1 }), ext]]);
  for (const [name, pkts] of cases) {
    assert.deepEqual(gro(pkts).map(Buffer.from), pkts.map(plain), name);
  }
  // A short segment ends the group: the one after it starts a new write.
  const short = [tcp({ ...first, payload: p1 }), tcp({ ...second({}), payload: p2.subarray(0, 500) }), tcp({ ...second({ seq: 6500, id: 12 }), payload: p3 })];
  const w = gro(short);
  assert.equal(w.length, 2);
  assert.deepEqual(kernelSplit(w[0]).map(Buffer.from), short.slice(0, 2).map(Buffer.from));
  assert.deepEqual(Buffer.from(w[1]), plain(short[2]));
});

test("GRO: what may differ does not prevent it (DF set: any ID; PSH on the last), and a dropped packet is skipped", () => {
  const first = { seq: 1, id: 100 };
  const pkts = [tcp({ ...first, payload: randomBytes(600) }), tcp({ ...first, seq: 601, id: 4, payload: randomBytes(600) }),
    tcp({ ...first, seq: 1201, id: 0, flags: ACK | PSH, payload: randomBytes(600) })];
  const w = gro(pkts);
  assert.equal(w.length, 1);
  const back = kernelSplit(w[0]);
  // The kernel numbers the IDs from the first: only the IDs (and so the header checksum) differ.
  assert.deepEqual(back.map((p) => Buffer.from(p.subarray(20))), pkts.map((p) => Buffer.from(p.subarray(20))));
  const withDrop = [pkts[0], tcp({ ...first, seq: 99999, payload: randomBytes(600) }), pkts[1]];
  assert.equal(gro(withDrop, [1]).length, 1, "the dropped one is not written and does not split the run");
});

test("GRO: interleaved flows make a write each, in the order of their first packets; a run stops before 64 KB; other protocols pass unchanged", () => {
  const a = (k: number) => tcp({ seq: 1 + k * 1000, id: k, payload: randomBytes(1000) });
  const b = (k: number) => tcp({ sport: 1, seq: 1 + k * 1000, id: k, payload: randomBytes(1000) });
  const inter = [a(0), b(0), a(1), b(1)];
  const iw = gro(inter);
  assert.equal(iw.length, 2);
  assert.deepEqual(kernelSplit(iw[0]).map(Buffer.from), [inter[0], inter[2]].map(Buffer.from));
  assert.deepEqual(kernelSplit(iw[1]).map(Buffer.from), [inter[1], inter[3]].map(Buffer.from));
  const big = Array.from({ length: 70 }, (_, k) => tcp({ seq: 1 + k * 1400, id: k, payload: randomBytes(1400) }));
  const writes = gro(big);
  const counts = writes.map((w) => kernelSplit(w).length);
  assert.equal(counts.reduce((x, y) => x + y), 70);
  for (const w of writes) assert.ok(w.length - VNET <= 65535);
  assert.deepEqual(writes.flatMap(kernelSplit).map(Buffer.from), big.map(Buffer.from));
  const icmp = new Uint8Array(28); icmp[0] = 0x45; put16(icmp, 2, 28); icmp[9] = 1; put16(icmp, 10, ~sum16(icmp.subarray(0, 20)) & 0xffff);
  const a0 = a(0);
  assert.deepEqual(gro([icmp, a0]).map(Buffer.from), [plain(icmp), plain(a0)]);
});

/** The flow a packet belongs to, as text: addresses, protocol and ports. */
function flowOf(p: Uint8Array): string {
  const ipl = ipLen(p);
  return `${p[0] >> 4 === 4 ? hex(p.subarray(12, 20)) : hex(p.subarray(8, 40))}/${protoOf(p)}/${hex(p.subarray(ipl, ipl + 4))}`;
}

/** Check that `writes` carry exactly `pkts`, each flow's packets in their order, the writes in the
 *  order of their first packets; returns how many packets each write carries. */
function checkOrder(pkts: Uint8Array[], writes: Uint8Array[]): number[] {
  const out = writes.map(kernelSplit);
  const index = new Map(pkts.map((p, i) => [hex(p), i]));
  const firsts = out.map((w) => index.get(hex(w[0]))!);
  assert.deepEqual([...firsts].sort((x, y) => x - y), firsts, "writes in the order of their first packets");
  const flat = out.flat().map((p) => Buffer.from(p));
  assert.deepEqual([...flat].sort(Buffer.compare), pkts.map((p) => Buffer.from(p)).sort(Buffer.compare), "every packet once, unchanged");
  const byFlow = (list: Uint8Array[]) => {
    const m = new Map<string, string[]>();
    for (const p of list) m.set(flowOf(p), [...(m.get(flowOf(p)) ?? []), hex(p)]);
    return m;
  };
  assert.deepEqual(byFlow(flat), byFlow(pkts), "each flow's packets in order");
  return out.map((w) => w.length);
}

test("GRO: up to 64 interleaved UDP and TCP flows (IPv4 and IPv6) coalesce at once; a 65th evicts the oldest; order kept per flow", () => {
  const flow = (f: number, k: number) => f % 2
    ? udp({ v6: f % 4 === 1, sport: 1000 + f, id: k, payload: randomBytes(200) })
    : tcp({ v6: f % 4 === 2, sport: 1000 + f, seq: 1 + k * 500, id: k, payload: randomBytes(500) });
  for (const [flows, each] of [[2, 8], [5, 8], [8, 8], [16, 4], [64, 2]]) {
    const pkts = Array.from({ length: each * flows }, (_, i) => flow(i % flows, Math.floor(i / flows)));
    const sizes = checkOrder(pkts, gro(pkts));
    assert.deepEqual(sizes, Array(flows).fill(each), `${flows} flows round-robin: one write each`);
  }
  // 65 flows round-robin: the table holds 64, so each new packet evicts the flow needed next.
  const many = Array.from({ length: 130 }, (_, i) => flow(i % 65, Math.floor(i / 65)));
  assert.deepEqual(checkOrder(many, gro(many)), Array(130).fill(1));
  // Runs of 65 flows, each a few packets long, still coalesce.
  const runs = Array.from({ length: 260 }, (_, i) => flow(Math.floor(i / 4), i % 4));
  assert.deepEqual(checkOrder(runs, gro(runs)), Array(65).fill(4));
});

test("GRO: a TCP packet that cannot join ends its own flow's group only; anything else ends them all; dropped packets are skipped", () => {
  const a = (k: number) => tcp({ seq: 1 + k * 1000, id: k, payload: randomBytes(1000) });
  const b = (k: number) => tcp({ sport: 7, seq: 1 + k * 1000, id: k, payload: randomBytes(1000) });
  const ackA = tcp({ seq: 1, ack: 99, id: 50, payload: new Uint8Array(0) }); // flow a's pure ACK (another ack number)
  const pkts = [a(0), b(0), a(1), ackA, b(1), a(2), b(2)];
  const writes = gro(pkts);
  assert.deepEqual(checkOrder(pkts, writes), [2, 3, 1, 1]); // a0+a1 | b0+b1+b2 | ACK | a2
  assert.deepEqual(Buffer.from(writes[2]), plain(ackA));
  const icmp = new Uint8Array(28); icmp[0] = 0x45; put16(icmp, 2, 28); icmp[9] = 1; put16(icmp, 10, ~sum16(icmp.subarray(0, 20)) & 0xffff);
  const withIcmp = [a(0), b(0), icmp, a(1), b(1)];
  assert.deepEqual(checkOrder(withIcmp, gro(withIcmp)), [1, 1, 1, 1, 1]);
  // A packet that failed decapsulation is not written and breaks nothing.
  const dropped = [a(0), b(0), a(1), b(1), a(2)];
  const dw = gro(dropped, [2]);
  assert.deepEqual(dw.map((w) => kernelSplit(w).length), [1, 2, 1]); // a0 | b0+b1 | a2 (a1 missing: a sequence gap)
});

test("GRO: consecutive datagrams of a UDP flow become one UDP GSO write the kernel splits back into them", () => {
  for (const v6 of [false, true]) {
    const pkts = Array.from({ length: 30 }, (_, k) => udp({ v6, id: 40 + k, payload: randomBytes(k === 29 ? 20 : 64) }));
    const writes = gro(pkts);
    assert.equal(writes.length, 1, v6 ? "IPv6" : "IPv4");
    assert.equal(writes[0][1], GSO_UDP_L4);
    assert.deepEqual(kernelSplit(writes[0]).map(Buffer.from), pkts.map(Buffer.from));
  }
});

test("GRO for UDP: other flows, larger datagrams, bad checksums and no checksum keep datagrams apart; at most 64 per write", () => {
  const first: Omit<Seg, "payload"> = { id: 1 };
  const p1 = randomBytes(100), p2 = randomBytes(100);
  const next = (o: Partial<Seg>) => ({ ...first, id: 2, ...o });
  const cases: [string, Uint8Array[]][] = [
    ["source port", [udp({ ...first, payload: p1 }), udp({ ...next({ sport: 1 }), payload: p2 })]],
    ["destination port", [udp({ ...first, payload: p1 }), udp({ ...next({ dport: 1 }), payload: p2 })]],
    ["source address", [udp({ ...first, payload: p1 }), udp({ ...next({ src: 7 }), payload: p2 })]],
    ["TTL", [udp({ ...first, payload: p1 }), udp({ ...next({ ttl: 3 }), payload: p2 })]],
    ["TOS", [udp({ ...first, payload: p1 }), udp({ ...next({ tos: 4 }), payload: p2 })]],
    ["larger than the first", [udp({ ...first, payload: p1 }), udp({ ...next({}), payload: randomBytes(101) })]],
    ["TCP then UDP of the same addresses and ports", [tcp({ ...first, payload: p1 }), udp({ ...next({}), payload: p2 })]],
    ["fragment", [udp({ ...first, payload: p1 }), udp({ ...next({ mf: true }), payload: p2 })]],
  ];
  const bad = udp({ ...next({}), payload: p2 }); bad[50] ^= 0x40;
  cases.push(["corrupted UDP checksum", [udp({ ...first, payload: p1 }), bad]]);
  const none = udp({ ...next({}), payload: p2 }); put16(none, 26, 0);
  cases.push(["IPv4 UDP without checksum (0)", [udp({ ...first, payload: p1 }), none]]);
  const badLen = udp({ ...next({}), payload: p2 }); put16(badLen, 24, 50); finish(badLen);
  cases.push(["UDP length disagreeing with the IP length", [udp({ ...first, payload: p1 }), badLen]]);
  for (const [name, pkts] of cases) assert.deepEqual(gro(pkts).map(Buffer.from), pkts.map(plain), name);
  const many = Array.from({ length: 70 }, (_, k) => udp({ id: k, payload: randomBytes(64) }));
  const writes = gro(many);
  assert.deepEqual(writes.map((w) => kernelSplit(w).length), [64, 6]);
  assert.deepEqual(writes.flatMap(kernelSplit).map(Buffer.from), many.map(Buffer.from));
});
