// A cheap UDP small-packet generator and sink for bench/tunnel.ts, in place of iperf3 -u (one sendto() and
// one recv() per datagram, which made the tools, not the tunnel, the ceiling). Run as a program in a
// namespace:
//
//   node udp-flood.js sink --bind ADDR --port P --run ID [--flows F]
//       counts until SIGTERM/SIGINT, then prints one JSON line (SinkResult) and exits;
//   node udp-flood.js send --to ADDR --port P --run ID --pps N|0 --seconds S [--length L] [--flows F] [--first-flow K]
//       sends for S seconds (--pps 0: as fast as it can), then prints one JSON line (SendResult); its flows are
//       numbered K..K+F-1, so that several senders (processes: one thread each) can feed one sink.
//
// The sender's datagrams go out with sendmmsg() in batches from rings allocated once; it paces by sleeping
// (clock_nanosleep, absolute CLOCK_MONOTONIC deadlines, so no drift) before each batch, a batch being
// ~200 µs worth of the target rate (1..64 datagrams): bursts stay short next to any queue on the way. F flows
// are F sockets (distinct source ports) sending in turn. The sink takes up to 64 datagrams per recvmmsg().
// Every payload starts with a header (PROBE_HEADER bytes, big-endian): magic, run id (so datagrams of an
// earlier step still in flight are not counted), flow, 64-bit sequence number; the rest is zero.
import koffi from "koffi";
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
const SLOT = 2048;

function udpSocket(family: number): number {
  return check("socket(UDP)", sys.socket(family, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0));
}

function sockaddr(addr: SockAddr): [Uint8Array, number] {
  const sa = new Uint8Array(LAYOUT.SOCKADDR_SIZE);
  return [sa, addr.encode(sa, 0, addr.version)];
}

/** n mmsghdrs, each with one iovec over its own SLOT-byte buffer (and no address: connected or received). */
class MsgRing {
  readonly block: NativeBlock;
  readonly data: NativeBlock;
  readonly view: DataView;

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
  }

  msgLen(i: number): number { return this.block.u32[(i * LAYOUT.MMSG_SIZE + LAYOUT.MSG_LEN) >> 2]; }
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

export interface SendOptions { to: string; port: number; run: number; pps: number; seconds: number; length: number; flows: number; firstFlow?: number }

/** Batch size for a target rate: ~BATCH_NS worth, 1..RING datagrams (RING when unpaced). */
export function batchFor(pps: number): number {
  return pps <= 0 ? RING : Math.max(1, Math.min(RING, Math.round(pps * BATCH_NS / 1e9)));
}

export function send(o: SendOptions): SendResult {
  const dst = new SockAddr(o.to, o.port);
  const [sa, saLen] = sockaddr(dst);
  const batch = batchFor(o.pps);
  const flows = Array.from({ length: o.flows }, (_, f) => {
    const fd = udpSocket(dst.version === 6 ? C.AF_INET6 : C.AF_INET);
    check(`connect(${dst})`, connect(fd, sa, saLen) as number);
    const ring = new MsgRing(RING, o.length);
    for (let i = 0; i < RING; i++) writeProbe(ring.view, i * SLOT, o.run, (o.firstFlow ?? 0) + f, 0);
    return { fd, ring, seq: 0, entries: ring.block.ptr };
  });
  const sleeper = new Sleeper();
  const r: SendResult = { sent: 0, seconds: 0, sendmmsgCalls: 0, errors: 0, lastErrno: "" };
  const total = o.pps > 0 ? Math.round(o.pps * o.seconds) : Infinity;
  const t0 = process.hrtime.bigint(), end = t0 + BigInt(Math.round(o.seconds * 1e9));
  const nsPerPacket = o.pps > 0 ? 1e9 / o.pps : 0;
  let f = 0;
  for (;;) {
    if (o.pps > 0) {
      if (r.sent >= total) break;
      const due = t0 + BigInt(Math.round(r.sent * nsPerPacket));
      if (process.hrtime.bigint() < due) sleeper.until(due);
    } else if (process.hrtime.bigint() >= end) break;
    const flow = flows[f];
    f = f + 1 === flows.length ? 0 : f + 1;
    const n = Math.min(batch, total - r.sent);
    const view = flow.ring.view;
    for (let i = 0, seq = flow.seq; i < n; i++, seq++) {
      view.setUint32(i * SLOT + 12, Math.floor(seq / 0x1_0000_0000));
      view.setUint32(i * SLOT + 16, seq >>> 0);
    }
    const k = sendmmsg(flow.fd, flow.entries, n);
    r.sendmmsgCalls++;
    if (k > 0) { flow.seq += k; r.sent += k; continue; }
    const e = errno();
    if (e === E.EINTR) continue;
    // An ICMP error reported on the connected socket (once: the next call sends again), or worse.
    r.lastErrno = new SysError("sendmmsg", e).code;
    if (++r.errors > 1000) throw new SysError("sendmmsg", e);
  }
  r.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const fl of flows) sys.close(fl.fd);
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
      flows: { type: "string", default: "1" }, "first-flow": { type: "string", default: "0" }, "receive-buffer": { type: "string", default: String(4 << 20) },
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
    const r = send({ to: values.to, port, run, pps: num("pps", values.pps, 0, 1e8), seconds: num("seconds", values.seconds, 0.1, 600), length, flows, firstFlow });
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
