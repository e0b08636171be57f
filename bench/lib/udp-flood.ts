// A cheap UDP small-packet generator and sink for bench/tunnel.ts, in place of iperf3 -u (one sendto() and
// one recv() per datagram, which made the tools, not the tunnel, the ceiling). Run as a program in a
// namespace:
//
//   node udp-flood.js sink --bind ADDR --port P --run ID [--flows F]
//       counts until SIGTERM/SIGINT, then prints one JSON line (SinkResult) and exits;
//   node udp-flood.js send --to ADDR --port P --run ID --pps N|0 --seconds S [--length L] [--flows F] [--first-flow K]
//                          [--path udp|packet] [--interleave]
//       sends for S seconds (--pps 0: as fast as it can), then prints one JSON line (SendResult); its flows are
//       numbered K..K+F-1, so that several senders (processes: one thread each) can feed one sink.
//
// Two ways out of the sending host (--path): `udp` (the default), connected UDP sockets, each datagram
// through the host's own UDP/IP output (route, neighbour, qdisc); `packet`, one AF_PACKET socket that sends
// ready-made Ethernet frames (the datagrams a connected UDP socket sends: IPv4 with DF and an ID counting up,
// UDP checksums; headers built once per flow, ID and checksums updated incrementally) straight to the device, past the qdisc
// (PACKET_QDISC_BYPASS): what pktgen-style generators do, so that one generator thread spends its time on the
// packets' way through the next hop, not on its own stack. The next hop's MAC address comes from the
// neighbour table (`ip route get`, `ip neigh`; one ping fills it if empty). Every datagram still arrives at
// the next hop as a single 64-byte-payload packet. --interleave (packet path) sends the flows in turn
// datagram by datagram, as many hosts behind a gateway would, instead of a batch of one flow after another.
//
// The sender's datagrams go out with sendmmsg() in batches from rings allocated once; it paces by sleeping
// (clock_nanosleep, absolute CLOCK_MONOTONIC deadlines, so no drift) before each batch, a batch being
// ~200 µs worth of the target rate (1..64 datagrams): bursts stay short next to any queue on the way. F flows
// are F sockets (distinct source ports) sending in turn. The sink takes up to 64 datagrams per recvmmsg().
// Every payload starts with a header (PROBE_HEADER bytes, big-endian): magic, run id (so datagrams of an
// earlier step still in flight are not counted), flow, 64-bit sequence number; the rest is zero.
import koffi from "koffi";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { C, E, LAYOUT, NativeBlock, SysError, check, errno, putPointer, sys } from "../../src/io/libc.js";
import { SockAddr } from "../../src/io/sockaddr.js";

export const PROBE_MAGIC = 0x57504b54; // "WPKT"
export const PROBE_HEADER = 20;
export const MAX_FLOWS = 64;
/** Datagrams per sendmmsg()/recvmmsg() at most. */
const RING = 64;
/** Pacing: a batch is this much of the target rate. */
const BATCH_NS = 200_000;

/** Write a probe header at `off` (the payload is at least PROBE_HEADER bytes). */
export function writeProbe(view: DataView, off: number, run: number, flow: number, seq: number): void {
  view.setUint32(off, PROBE_MAGIC);
  view.setUint32(off + 4, run >>> 0);
  view.setUint32(off + 8, flow);
  view.setUint32(off + 12, Math.floor(seq / 0x1_0000_0000));
  view.setUint32(off + 16, seq >>> 0);
}

/**
 * Per-flow accounting of sequence numbers: `received` counts distinct datagrams, `lost` the holes below the
 * highest number seen (a late arrival fills its hole), `reordered` datagrams that came after a higher one,
 * `duplicates` numbers seen twice. Late datagrams are remembered over WINDOW numbers; older ones cannot be
 * told from duplicates and count as received (and reordered).
 */
export class SeqTracker {
  static readonly WINDOW = 1 << 16;
  received = 0;
  reordered = 0;
  duplicates = 0;
  /** Highest sequence number seen, plus one. */
  next = 0;
  private readonly seen = new Uint8Array(SeqTracker.WINDOW);

  get lost(): number { return this.next - this.received; }

  add(seq: number): void {
    const W = SeqTracker.WINDOW, seen = this.seen;
    if (seq >= this.next) {
      // The numbers skipped are holes until they arrive: clear their marks (at most the whole window).
      if (seq - this.next >= W) seen.fill(0);
      else for (let s = this.next; s < seq; s++) seen[s & (W - 1)] = 0;
      seen[seq & (W - 1)] = 1;
      this.next = seq + 1;
      this.received++;
      return;
    }
    if (this.next - seq <= W) {
      if (seen[seq & (W - 1)]) { this.duplicates++; return; }
      seen[seq & (W - 1)] = 1;
    }
    this.reordered++;
    this.received++;
  }
}

export interface SinkResult {
  /** Distinct datagrams of this run, all flows. */
  received: number;
  /** Holes in the sequence numbers below the highest seen (tail losses are the sender's count minus `received`). */
  lost: number;
  reordered: number;
  duplicates: number;
  /** Datagrams that are not this run's probes (another run, too short, unknown flow). */
  stray: number;
  /** Highest sequence number seen + 1, per flow. */
  next: number[];
  recvmmsgCalls: number;
}

/** Counts probe datagrams of one run, given each payload as it arrived. */
export class ProbeCounter {
  readonly flows: SeqTracker[];
  stray = 0;

  constructor(readonly run: number, flows: number) {
    this.flows = Array.from({ length: flows }, () => new SeqTracker());
  }

  add(view: DataView, off: number, len: number): void {
    if (len < PROBE_HEADER || view.getUint32(off) !== PROBE_MAGIC || view.getUint32(off + 4) !== this.run >>> 0) { this.stray++; return; }
    const flow = view.getUint32(off + 8);
    if (flow >= this.flows.length) { this.stray++; return; }
    this.flows[flow].add(view.getUint32(off + 12) * 0x1_0000_0000 + view.getUint32(off + 16));
  }

  result(recvmmsgCalls: number): SinkResult {
    const sum = (f: (t: SeqTracker) => number) => this.flows.reduce((n, t) => n + f(t), 0);
    return {
      received: sum((t) => t.received), lost: sum((t) => t.lost), reordered: sum((t) => t.reordered),
      duplicates: sum((t) => t.duplicates), stray: this.stray, next: this.flows.map((t) => t.next), recvmmsgCalls,
    };
  }
}

export interface SendResult {
  sent: number;
  /** From the first send to the end of the last. */
  seconds: number;
  sendmmsgCalls: number;
  /** sendmmsg() calls that failed (e.g. ECONNREFUSED from an ICMP error), retried; lastErrno names the last. */
  errors: number;
  lastErrno: string;
}

// ------------------------------------------------------------------------------------------ sockets

const libc = koffi.load("libc.so.6");
const connect = libc.func("int connect(int fd, void *addr, uint32_t addrlen)");
const clockNanosleep = libc.func("int clock_nanosleep(int clock, int flags, void *request, void *remain)");
const CLOCK_MONOTONIC = 1, TIMER_ABSTIME = 1;
export const SLOT = 2048;

function udpSocket(family: number): number {
  return check("socket(UDP)", sys.socket(family, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0));
}

function sockaddr(addr: SockAddr): [Uint8Array, number] {
  const sa = new Uint8Array(LAYOUT.SOCKADDR_SIZE);
  return [sa, addr.encode(sa, 0, addr.version)];
}

/** n mmsghdrs, each with one iovec over its own SLOT-byte buffer (and no address: connected or received). */
export class MsgRing {
  readonly block: NativeBlock;
  readonly data: NativeBlock;
  readonly view: DataView;
  private readonly entries: bigint[];

  constructor(readonly n: number, length: number) {
    const { MMSG_SIZE, IOV_SIZE } = LAYOUT;
    this.block = new NativeBlock(n * (MMSG_SIZE + IOV_SIZE));
    this.data = new NativeBlock(n * SLOT);
    this.view = new DataView(this.data.u8.buffer);
    const { u32, address } = this.block;
    for (let i = 0; i < n; i++) {
      const m = i * MMSG_SIZE, iov = n * MMSG_SIZE + i * IOV_SIZE;
      putPointer(u32, m + LAYOUT.MSG_IOV, address + iov);
      u32[(m + LAYOUT.MSG_IOVLEN) >> 2] = 1;
      putPointer(u32, iov + LAYOUT.IOV_BASE, this.data.address + i * SLOT);
      u32[(iov + LAYOUT.IOV_LEN) >> 2] = length;
    }
    this.entries = Array.from({ length: n }, (_, i) => this.block.ptr + BigInt(i * MMSG_SIZE));
  }

  msgLen(i: number): number { return this.block.u32[(i * LAYOUT.MMSG_SIZE + LAYOUT.MSG_LEN) >> 2]; }

  /** The address of entry i, for sendmmsg() from there (made once: a BigInt per call would allocate). */
  entry(i: number): bigint { return this.entries[i]; }
}

/** Absolute CLOCK_MONOTONIC sleeps (process.hrtime is that clock on Linux). */
class Sleeper {
  private readonly ts = new NativeBlock(16);

  until(ns: bigint): void {
    const u32 = this.ts.u32, sec = ns / 1_000_000_000n, nsec = Number(ns % 1_000_000_000n);
    u32[0] = Number(sec & 0xffffffffn); u32[1] = Number(sec >> 32n); u32[2] = nsec; u32[3] = 0;
    while ((clockNanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, this.ts.ptr, null) as number) === E.EINTR) { /* again */ }
  }
}

export type SendPath = "udp" | "packet";
export const SEND_PATHS: readonly SendPath[] = ["udp", "packet"];

export interface SendOptions {
  to: string; port: number; run: number; pps: number; seconds: number; length: number; flows: number; firstFlow?: number; path?: SendPath;
  /** Packet path: the flows take turns datagram by datagram, not batch by batch. */
  interleave?: boolean;
}

/** Batch size for a target rate: ~BATCH_NS worth, 1..RING datagrams (RING when unpaced). */
export function batchFor(pps: number): number {
  return pps <= 0 ? RING : Math.max(1, Math.min(RING, Math.round(pps * BATCH_NS / 1e9)));
}

/**
 * A ring of datagrams and the socket it is sent on: one flow's (each UDP socket, or each flow of the packet
 * path), or, with --interleave, all flows' of the packet path in turn, slot by slot.
 */
export interface Flow {
  fd: number; ring: MsgRing;
  /** Offset of the payload (the probe header) in each slot. */
  payload: number;
  /** The sequence number each of the ring's flows sends next. */
  seqs: number[];
  /** Which of `seqs` each slot carries. */
  slotFlow: Uint8Array;
  /** Slots in use (a multiple of seqs.length, so that slot i always carries flow i % seqs.length). */
  slots: number;
  /** The slot the next send starts at. */
  next: number;
  /** Packet path: the checksums to stamp (UDP's, and IPv4's header with the ID) per slot. */
  sums?: FrameSums[];
}

function ringFlow(fd: number, ring: MsgRing, payload: number, flows: number, sums?: FrameSums[]): Flow {
  const slots = RING - (RING % flows);
  return { fd, ring, payload, seqs: new Array<number>(flows).fill(0), slotFlow: Uint8Array.from({ length: RING }, (_, i) => i % flows), slots, next: 0, sums };
}

function udpFlows(o: SendOptions, dst: SockAddr): Flow[] {
  const [sa, saLen] = sockaddr(dst);
  return Array.from({ length: o.flows }, (_, f) => {
    const fd = udpSocket(dst.version === 6 ? C.AF_INET6 : C.AF_INET);
    check(`connect(${dst})`, connect(fd, sa, saLen) as number);
    const ring = new MsgRing(RING, o.length);
    for (let i = 0; i < RING; i++) writeProbe(ring.view, i * SLOT, o.run, (o.firstFlow ?? 0) + f, 0);
    return ringFlow(fd, ring, 0, 1);
  });
}

// ------------------------------------------------------------------------------------------ packet path

const AF_PACKET = 17, SOL_PACKET = 263, PACKET_QDISC_BYPASS = 20, SOCKADDR_LL = 20;
const ETH_HEADER = 14, IP4_HEADER = 20, IP6_HEADER = 40, UDP_HEADER = 8;
/** Source ports of the packet path's flows: FIRST_PORT + flow number. */
const FIRST_PORT = 49152;
const ifNameToIndex = libc.func("unsigned int if_nametoindex(const char *ifname)");

/** Where frames to `to` go from this namespace: the device, its MAC, the next hop's MAC, the source address. */
export interface NextHop { dev: string; ifindex: number; srcMac: Uint8Array; dstMac: Uint8Array; src: string }

const ip = (args: string[]) => JSON.parse(execFileSync("ip", ["-j", ...args], { encoding: "utf8" }) || "[]") as Record<string, string>[];
const mac = (s: string | undefined) => (s && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(s) ? Uint8Array.from(s.split(":"), (x) => parseInt(x, 16)) : undefined);

export function nextHop(to: string): NextHop {
  let route: Record<string, string> | undefined;
  try {
    route = ip(["route", "get", to])[0];
  } catch (e) {
    throw new Error(`no route to ${to}: ${(e as { stderr?: string }).stderr?.trim() || String(e)}`);
  }
  if (!route?.dev) throw new Error(`no route to ${to}`);
  const hop = route.gateway ?? to, dev = route.dev;
  const neighbour = () => mac(ip(["neigh", "show", hop, "dev", dev])[0]?.lladdr);
  let dstMac = neighbour();
  if (!dstMac) {
    try {
      execFileSync("ping", [hop.includes(":") ? "-6" : "-4", "-n", "-c", "1", "-W", "2", hop], { stdio: "ignore" });
    } catch { /* no answer: the neighbour table says what came of it */ }
    dstMac = neighbour();
  }
  if (!dstMac) throw new Error(`the next hop ${hop} (dev ${dev}) has no MAC address in the neighbour table`);
  const srcMac = mac(ip(["link", "show", "dev", dev])[0]?.address);
  if (!srcMac) throw new Error(`device ${dev} has no Ethernet address: the packet path needs an Ethernet device`);
  const ifindex = ifNameToIndex(dev) as number;
  if (!ifindex) throw new Error(`if_nametoindex(${dev}) failed`);
  if (!route.prefsrc) throw new Error(`no source address for ${to} on ${dev}`);
  return { dev, ifindex, srcMac, dstMac, src: route.prefsrc };
}

/** One's-complement sum of big-endian 16-bit words of u8[from, to) (even length), not folded. */
function sum16(u8: Uint8Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i += 2) s += (u8[i] << 8) | u8[i + 1];
  return s;
}

const fold = (s: number) => { while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000); return s; };

/** The checksums a flow's frames need per sequence number, as unfolded sums with sequence 0 (and ID 0). */
export interface FrameSums {
  /** UDP checksum field's offset from the frame's start, and the sum over pseudo-header, header and payload. */
  udp: number; udpBase: number;
  /** IPv4: the header's offset (the ID is at +4, the checksum at +10) and its sum; -1 for IPv6. */
  ip: number; ipBase: number;
}

/**
 * Writes the Ethernet, IP and UDP headers of one flow's frame at u8[off] (the probe payload, `length`
 * bytes, follows them and is already written with sequence 0), as a connected UDP socket's datagrams are:
 * IPv4 with DF and an ID that counts up, a UDP checksum. Returns what `stamp` needs to keep the checksums
 * right for each sequence number.
 */
export function writeFrameHeaders(u8: Uint8Array, off: number, hop: NextHop, dst: SockAddr, sport: number, length: number): FrameSums {
  const src = new SockAddr(hop.src, 0).bytes, dstIp = dst.bytes;
  if (src.length !== dstIp.length) throw new Error(`source ${hop.src} and destination ${dst.address} are of different families`);
  const v6 = dst.version === 6, ipLen = v6 ? IP6_HEADER : IP4_HEADER, udpLen = UDP_HEADER + length;
  const v = new DataView(u8.buffer, u8.byteOffset);
  u8.set(hop.dstMac, off); u8.set(hop.srcMac, off + 6);
  v.setUint16(off + 12, v6 ? 0x86dd : 0x0800);
  const iph = off + ETH_HEADER, udp = iph + ipLen;
  let pseudo: number;
  if (v6) {
    v.setUint32(iph, 0x60000000); v.setUint16(iph + 4, udpLen); u8[iph + 6] = 17; u8[iph + 7] = 64;
    u8.set(src, iph + 8); u8.set(dstIp, iph + 24);
    pseudo = sum16(u8, iph + 8, iph + 40);
  } else {
    u8[iph] = 0x45; u8[iph + 1] = 0; v.setUint16(iph + 2, ipLen + udpLen); v.setUint32(iph + 4, 0x00004000); // ID 0 (stamped), DF
    u8[iph + 8] = 64; u8[iph + 9] = 17; v.setUint16(iph + 10, 0);
    u8.set(src, iph + 12); u8.set(dstIp, iph + 16);
    pseudo = sum16(u8, iph + 12, iph + 20);
  }
  v.setUint16(udp, sport); v.setUint16(udp + 2, dst.port); v.setUint16(udp + 4, udpLen); v.setUint16(udp + 6, 0);
  // RFC 768 / RFC 8200 §8.1: pseudo-header (addresses, protocol, UDP length) + UDP header + payload; an odd
  // length pads a zero byte.
  const end = udp + udpLen, even = end - (udpLen & 1);
  let udpBase = pseudo + 17 + udpLen + sum16(u8, udp, even);
  if (udpLen & 1) udpBase += u8[end - 1] << 8;
  return { udp: udp + 6 - off, udpBase, ip: v6 ? -1 : iph - off, ipBase: v6 ? 0 : sum16(u8, iph, iph + IP4_HEADER) };
}

function packetFlows(o: SendOptions, dst: SockAddr): Flow[] {
  const hop = nextHop(dst.address);
  const fd = check("socket(AF_PACKET)", sys.socket(AF_PACKET, C.SOCK_RAW | C.SOCK_CLOEXEC, 0)); // protocol 0: receives nothing
  const ll = new Uint8Array(SOCKADDR_LL), llv = new DataView(ll.buffer);
  llv.setUint16(0, AF_PACKET, true); llv.setInt32(4, hop.ifindex, true);
  check(`bind(AF_PACKET, ${hop.dev})`, sys.bind(fd, ll, SOCKADDR_LL) as number);
  check("setsockopt(PACKET_QDISC_BYPASS)", sys.setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, Int32Array.of(1), 4) as number);
  const first = o.firstFlow ?? 0;
  if (o.interleave) return [packetFlow(o, hop, dst, fd, first, o.flows)];
  return Array.from({ length: o.flows }, (_, f) => packetFlow(o, hop, dst, fd, first + f));
}

/**
 * The packet path's ring of frames to `dst` via `hop`, sent on `fd`: flow number `flow` in every slot, or
 * flows flow..flow+count-1 slot by slot (interleaved).
 */
export function packetFlow(o: Pick<SendOptions, "run" | "length">, hop: NextHop, dst: SockAddr, fd: number, flow: number, count = 1): Flow {
  const payload = ETH_HEADER + (dst.version === 6 ? IP6_HEADER : IP4_HEADER) + UDP_HEADER;
  if (payload + o.length > SLOT) throw new Error(`--length ${o.length} does not fit a ${SLOT}-byte frame`);
  if (count < 1 || count > RING) throw new Error(`a ring interleaves 1 to ${RING} flows`);
  const ring = new MsgRing(RING, payload + o.length);
  const u8 = new Uint8Array(ring.data.u8.buffer, ring.data.u8.byteOffset);
  const sums = Array.from({ length: RING }, (_, i) => {
    const f = flow + (i % count);
    writeProbe(ring.view, i * SLOT + payload, o.run, f, 0);
    return writeFrameHeaders(u8, i * SLOT, hop, dst, FIRST_PORT + f, o.length);
  });
  return ringFlow(fd, ring, payload, count, sums);
}

/**
 * Stamps the next sequence numbers into up to n slots from `flow.next` (fewer at the ring's end), each
 * slot its own flow's next one; on the packet path also the IPv4 ID (the sequence number's low 16 bits)
 * and the checksums, updated from their sums with sequence 0. Returns how many slots; `unstamp` gives
 * back the numbers of those that were not sent.
 */
export function stamp(flow: Flow, n: number): number {
  const view = flow.ring.view, p = flow.payload, sums = flow.sums, seqs = flow.seqs, slotFlow = flow.slotFlow;
  const from = flow.next, to = Math.min(from + n, flow.slots);
  for (let i = from; i < to; i++) {
    const seq = seqs[slotFlow[i]]++;
    const hi = Math.floor(seq / 0x1_0000_0000), lo = seq >>> 0, at = i * SLOT + p;
    view.setUint32(at + 12, hi);
    view.setUint32(at + 16, lo);
    if (!sums) continue;
    const c = sums[i];
    const s = fold(c.udpBase + (hi >>> 16) + (hi & 0xffff) + (lo >>> 16) + (lo & 0xffff));
    view.setUint16(i * SLOT + c.udp, (~s & 0xffff) || 0xffff); // a computed 0 is sent as 0xffff
    if (c.ip < 0) continue;
    const id = lo & 0xffff, ip = i * SLOT + c.ip;
    view.setUint16(ip + 4, id);
    view.setUint16(ip + 10, ~fold(c.ipBase + id) & 0xffff);
  }
  return to - from;
}

/** After a send of `sent` of the `stamped` slots from flow.next: the rest give their numbers back, and
 *  the next send starts after the sent ones. */
export function unstamp(flow: Flow, stamped: number, sent: number): void {
  for (let i = flow.next + stamped - 1; i >= flow.next + sent; i--) flow.seqs[flow.slotFlow[i]]--;
  flow.next = (flow.next + sent) % flow.slots;
}

export function send(o: SendOptions): SendResult {
  const dst = new SockAddr(o.to, o.port);
  const batch = batchFor(o.pps);
  const flows = (o.path ?? "udp") === "packet" ? packetFlows(o, dst) : udpFlows(o, dst);
  const sleeper = new Sleeper();
  const r: SendResult = { sent: 0, seconds: 0, sendmmsgCalls: 0, errors: 0, lastErrno: "" };
  const total = o.pps > 0 ? Math.round(o.pps * o.seconds) : Infinity;
  const t0 = process.hrtime.bigint(), end = t0 + BigInt(Math.round(o.seconds * 1e9));
  const nsPerPacket = o.pps > 0 ? 1e9 / o.pps : 0;
  let f = 0, fatal = 0;
  for (;;) {
    if (o.pps > 0) {
      if (r.sent >= total) break;
      const due = t0 + BigInt(Math.round(r.sent * nsPerPacket));
      if (process.hrtime.bigint() < due) sleeper.until(due);
    } else if (process.hrtime.bigint() >= end) break;
    const flow = flows[f];
    f = f + 1 === flows.length ? 0 : f + 1;
    const start = flow.next, n = stamp(flow, Math.min(batch, total - r.sent));
    const k = sendmmsg(flow.fd, flow.ring.entry(start), n);
    r.sendmmsgCalls++;
    unstamp(flow, n, Math.max(k, 0));
    if (k > 0) { r.sent += k; continue; }
    const e = errno();
    if (e === E.EINTR) continue;
    // An ICMP error reported on the connected socket (once: the next call sends again), a device queue
    // that was full (ENOBUFS, packet path: nothing sent, tried again), or worse.
    r.errors++;
    r.lastErrno = new SysError("sendmmsg", e).code;
    if (e !== E.ENOBUFS && ++fatal > 1000) throw new SysError("sendmmsg", e);
  }
  r.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const fd of new Set(flows.map((fl) => fl.fd))) sys.close(fd);
  return r;
}

function sendmmsg(fd: number, entries: bigint, n: number): number { return sys.sendmmsg(fd, entries, n, 0) as number; }

export interface SinkOptions { bind: string; port: number; run: number; flows: number; receiveBuffer: number }

/** Counts until `stopped()` turns true; it is checked, and the event loop let run, every ~20 ms. `ready`
 *  gets the port bound (o.port 0: a free one). */
export async function sink(o: SinkOptions, ready: (port: number) => void, stopped: () => boolean): Promise<SinkResult> {
  const local = new SockAddr(o.bind, o.port);
  const fd = udpSocket(local.version === 6 ? C.AF_INET6 : C.AF_INET);
  // Room for a few ms of datagrams when the sink is descheduled on a busy machine (as root beyond rmem_max).
  const size = Int32Array.of(o.receiveBuffer);
  if ((sys.setsockopt(fd, C.SOL_SOCKET, C.SO_RCVBUFFORCE, size, 4) as number) < 0) {
    check("setsockopt(SO_RCVBUF)", sys.setsockopt(fd, C.SOL_SOCKET, C.SO_RCVBUF, size, 4) as number);
  }
  const [sa, saLen] = sockaddr(local);
  check(`bind(${local})`, sys.bind(fd, sa, saLen) as number);
  const lenBox = Uint32Array.of(LAYOUT.SOCKADDR_SIZE);
  check("getsockname", sys.getsockname(fd, sa, lenBox) as number);
  const ring = new MsgRing(RING, SLOT);
  const pollfd = new NativeBlock(LAYOUT.POLLFD_SIZE);
  pollfd.u32[0] = fd; pollfd.u16[2] = C.POLLIN;
  const counter = new ProbeCounter(o.run, o.flows);
  const view = ring.view;
  let calls = 0;
  ready(SockAddr.decode(sa, 0).port);
  while (!stopped()) {
    const until = performance.now() + 20;
    do {
      const n = sys.recvmmsg(fd, ring.block.ptr, RING, C.MSG_DONTWAIT, null) as number;
      calls++;
      if (n > 0) { for (let i = 0; i < n; i++) counter.add(view, i * SLOT, ring.msgLen(i)); continue; }
      const e = errno();
      if (e !== E.EAGAIN && e !== E.EINTR) throw new SysError("recvmmsg", e);
      sys.poll(pollfd.ptr, 1, 10);
    } while (performance.now() < until);
    await new Promise((r) => setImmediate(r));
  }
  sys.close(fd);
  return counter.result(calls);
}

// ------------------------------------------------------------------------------------------ program

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      to: { type: "string" }, bind: { type: "string" }, port: { type: "string", default: "5201" }, run: { type: "string" },
      pps: { type: "string", default: "0" }, seconds: { type: "string", default: "3" }, length: { type: "string", default: "64" },
      flows: { type: "string", default: "1" }, "first-flow": { type: "string", default: "0" }, path: { type: "string", default: "udp" }, interleave: { type: "boolean", default: false }, "receive-buffer": { type: "string", default: String(4 << 20) },
    },
  });
  const num = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number ${min}-${max}`);
    return n;
  };
  const port = num("port", values.port, 0, 65535), run = num("run", values.run, 0, 0xffffffff);
  const flows = num("flows", values.flows, 1, MAX_FLOWS);
  if (positionals[0] === "send") {
    if (!values.to) throw new Error("send needs --to");
    const length = num("length", values.length, PROBE_HEADER, SLOT);
    const firstFlow = num("first-flow", values["first-flow"], 0, MAX_FLOWS - flows);
    const path = values.path as SendPath;
    if (!SEND_PATHS.includes(path)) throw new Error(`--path must be one of ${SEND_PATHS.join(", ")}`);
    if (values.interleave && path !== "packet") throw new Error("--interleave needs --path packet");
    const r = send({
      to: values.to, port, run, pps: num("pps", values.pps, 0, 1e8), seconds: num("seconds", values.seconds, 0.1, 600), length, flows, firstFlow, path,
      interleave: values.interleave,
    });
    console.log(JSON.stringify(r));
  } else if (positionals[0] === "sink") {
    if (!values.bind) throw new Error("sink needs --bind");
    let stop = false;
    for (const s of ["SIGTERM", "SIGINT"] as const) process.on(s, () => { stop = true; });
    const r = await sink({ bind: values.bind, port, run, flows, receiveBuffer: num("receive-buffer", values["receive-buffer"], 4096, 1 << 30) },
      (p) => console.log(`ready on port ${p}`), () => stop);
    console.log(JSON.stringify(r));
  } else {
    throw new Error("usage: udp-flood.js send|sink [options] (see the comment at the top of bench/lib/udp-flood.ts)");
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
