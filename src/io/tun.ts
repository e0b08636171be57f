// A TUN device (IFF_TUN | IFF_NO_PI: bare IPv4/IPv6 packets) whose reads and writes go straight between
// the kernel and the data plane's shared WASM memory: readv() into PacketBatch slots, writev() from batch
// outputs, no copy and no allocation per packet. With IFF_VNET_HDR and TCP/UDP segmentation offload, one
// read may return a TCP or UDP "super-packet" of up to 64 KB that the data plane splits into segments or
// datagrams (UDP ones come from UDP_SEGMENT senders on this host, or from GRO forwarding on the interface
// the traffic arrives on: `ethtool -K IFACE rx-udp-gro-forwarding on`), and one write
// may carry a run of decapsulated segments of one TCP flow, or datagrams of one UDP flow, that it
// coalesced (src/dataplane/offload.ts): far fewer syscalls and trips through the kernel's stack. A stream of
// small packets has no such batching in the kernel, so reads go through io_uring where the kernel offers it
// (src/io/uring.ts): one system call reads up to a batch of packets into staging buffers, each then copied
// into its slot inside WASM memory; after a super-packet the device is read with readv() for a while, since
// TCP flows batch by themselves.
// Configuration (MTU, addresses, routes) uses `ip` from iproute2: it is not on the packet path.
import { execFileSync } from "node:child_process";
import type { DataPlane } from "../dataplane/dataplane.js";
import type { PacketBatch } from "../dataplane/batch.js";
import { TsoReader, GroPlan, OVERFLOW_BYTES, type TsoStats } from "../dataplane/offload.js";
import { constant } from "../dataplane/wasm.js";
import { sys, C, E, errno, SysError, NativeBlock, putPointer, memoryAddress, LAYOUT } from "./libc.js";
import { withNetns } from "./netns.js";
import { Poller, Wait, type Wakeup } from "./wakeup.js";
import { UringReader } from "./uring.js";

export interface TunOptions {
  /** Interface name, at most 15 bytes; a "%d" lets the kernel number it. Default "wipsec%d". */
  name?: string;
  /** Create the device in this network namespace (`ip netns` name) and configure it there. */
  netns?: string;
  mtu?: number;
  /** Addresses with prefix length, e.g. "192.0.2.1/24", "fd00::1/64" (IPv6 without DAD). */
  addresses?: string[];
  /** Prefixes routed into the device, e.g. "198.51.100.0/24". */
  routes?: string[];
  /** Packets the kernel queues for us to read before it drops (default 16384, ~60 ms of small packets at
   *  250k/s; the kernel's own 500 overflows when a worker is descheduled for a few milliseconds, and on a
   *  2-core machine shared with the traffic's endpoints 4096 still did at ~175k/s). */
  txQueueLen?: number;
  /** Bring the link up (default true). */
  up?: boolean;
  /** Makes a blocking readBatch() return early (another thread calls wakeup.signal()). */
  wakeup?: Wakeup;
  /** Queues (IFF_MULTI_QUEUE, default 1): a descriptor each, the kernel spreads flows over them by hash, so
   *  each encap worker reads its own (queueHandle(i)). */
  queues?: number;
  /** Batched reads through io_uring (default true; readv() alone where the kernel has no io_uring). */
  uring?: boolean;
}

/** What another thread needs to adopt the device (post it in workerData; descriptors are process-wide). */
export interface TunHandle { fd: number; name: string }

export interface TunStats extends TsoStats {
  /** Packets read into batches (each segment of a super-packet counts). */
  received: number;
  /** Packets written (each packet of a coalesced write counts). */
  sent: number;
  /** Writes that carried several TCP segments or UDP datagrams coalesced into one GSO packet. */
  coalescedWrites: number;
  /** Writes the kernel refused (e.g. not an IP packet); lastErrno says why. */
  sendErrors: number;
  lastErrno: number;
  /** io_uring submissions, each up to a batch of reads (0 without io_uring). */
  batchedReads: number;
}

const { IOV_SIZE, IOV_BASE, IOV_LEN } = LAYOUT;

/** Per batch read into: two iovecs per slot (virtio_net_hdr + slot, overflow) and the segmenter; with io_uring,
 *  a staging buffer per request (`stride` bytes from `staging`), results next..count-1 not taken yet, how many
 *  reads the next submit asks for, and how many more batches use readv() (after a super-packet). */
interface ReadRing {
  reader: TsoReader; iovs: NativeBlock; addrs: bigint[];
  uring?: UringReader; staging: number; stride: number; next: number; count: number; burst: number; plain: number;
}

/** Reads a submit asks for at least (it asks for twice what the last one got, up to the batch). */
const MIN_BURST = 8;
/** Batches read with readv() after one that held a TCP super-packet. */
const PLAIN_AFTER_SUPER = 32;
/** Per batch written from: the data plane's write plan and the address of each of its iovecs. */
interface WriteRing { plan: GroPlan; addrs: bigint[] }

export class Tun {
  readonly stats: TunStats = {
    received: 0, superPackets: 0, truncated: 0, malformed: 0, sent: 0, coalescedWrites: 0, sendErrors: 0, lastErrno: 0,
    batchedReads: 0,
  };
  /** Set when the last readBatch() returned because the Wakeup was signalled. */
  woken = false;
  private readonly memBase: number;
  private readonly vnetHdrLen: number;
  private readonly poller: Poller;
  /** write(): an all-zero virtio_net_hdr (no offload), then the packet. */
  private readonly single: NativeBlock;
  private readonly readRings = new Map<PacketBatch, ReadRing>();
  private readonly writeRings = new WeakMap<PacketBatch, WriteRing>();
  private closed = false;
  /** Descriptors of queues 1.. (multi-queue devices). */
  private readonly moreQueues: number[] = [];

  private constructor(private readonly dp: DataPlane, readonly fd: number, readonly name: string,
                      readonly netns: string | undefined, wakeup?: Wakeup, private readonly useUring = true,
                      private readonly owned = true) {
    this.memBase = memoryAddress(dp.memory);
    this.vnetHdrLen = constant(dp.ex, "VNET_HDR_LEN");
    this.poller = new Poller(fd, C.POLLIN, wakeup);
    this.single = new NativeBlock(2 * IOV_SIZE + 16);
    putPointer(this.single.u32, IOV_BASE, this.single.address + 2 * IOV_SIZE);
    this.single.u32[IOV_LEN >> 2] = this.vnetHdrLen;
  }

  static open(dp: DataPlane, opts: TunOptions = {}): Tun {
    const queues = opts.queues ?? 1;
    if (!Number.isInteger(queues) || queues < 1 || queues > MAX_QUEUES) throw new RangeError(`queues must be 1-${MAX_QUEUES}, got ${queues}`);
    const create = () => createTun(opts.name ?? "wipsec%d", queues);
    const { fds: [fd, ...more], name } = opts.netns ? withNetns(opts.netns, create) : create();
    const tun = new Tun(dp, fd, name, opts.netns, opts.wakeup, opts.uring ?? true);
    tun.moreQueues.push(...more);
    try {
      tun.configure(opts);
    } catch (e) {
      tun.close();
      throw e;
    }
    return tun;
  }

  /** Use a device opened by another thread of this process; close() leaves the descriptor to its owner. */
  static adopt(dp: DataPlane, h: TunHandle, opts: { wakeup?: Wakeup; uring?: boolean } = {}): Tun {
    if (!Number.isInteger(h.fd) || h.fd < 0) throw new RangeError(`bad TUN descriptor ${h.fd}`);
    return new Tun(dp, h.fd, h.name, undefined, opts.wakeup, opts.uring ?? true, false);
  }

  get handle(): TunHandle { return { fd: this.fd, name: this.name }; }

  /** How many queues the device has (the descriptors of all belong to this Tun). */
  get queues(): number { return 1 + this.moreQueues.length; }

  /** What another thread needs to adopt queue i (0: this Tun's own descriptor). */
  queueHandle(i: number): TunHandle {
    if (!Number.isInteger(i) || i < 0 || i >= this.queues) throw new RangeError(`no TUN queue ${i} (${this.queues} queues)`);
    return { fd: i === 0 ? this.fd : this.moreQueues[i - 1], name: this.name };
  }

  /**
   * Read up to batch.capacity packets into the batch's slots (packet i at slotOffset(i), described with
   * SA 0) and return how many; a TCP super-packet becomes its segments, in consecutive slots (those that
   * do not fit come first in the next call). With nothing queued it waits up to timeoutMs (0: return at
   * once, -1: forever) for the first packet; it returns 0 on timeout, or when the Wakeup fired (then `woken`).
   */
  readBatch(batch: PacketBatch, timeoutMs = 0): number {
    batch.clear();
    this.woken = false;
    const ring = this.readRing(batch);
    const { reader, addrs } = ring;
    const st = this.stats;
    const uring = ring.uring && ring.plain === 0 ? ring.uring : undefined;
    if (ring.plain > 0) ring.plain--;
    const supers = st.superPackets;
    let i = 0, waited = false;
    while (i < batch.capacity) {
      if (reader.pending) { i += reader.resume(i); continue; }
      if (ring.next < ring.count) { i = this.takeStaged(ring, batch, i); continue; }
      let n: number;
      if (uring) {
        const want = Math.min(ring.burst, batch.capacity - i);
        const got = uring.submit(this.fd, want, this.memBase + ring.staging, ring.stride, ring.stride);
        st.batchedReads++;
        ring.next = 0;
        ring.count = want;
        ring.burst = got === want ? Math.min(2 * want, uring.entries) : Math.max(MIN_BURST, 2 * got);
        if (got > 0) continue;
        i = this.takeStaged(ring, batch, i); // nothing read: throws if that was a device gone bad, not EAGAIN
        n = 0;
      } else {
        n = sys.readv(this.fd, addrs[i], 2) as number;
        if (n > this.vnetHdrLen) { i += reader.accept(i, n - this.vnetHdrLen); continue; }
        if (n > 0) { st.malformed++; continue; } // shorter than its header: not from this kernel
      }
      if (n < 0) {
        const e = errno();
        if (e !== E.EAGAIN && e !== E.EINTR) throw new SysError(`readv(${this.name})`, e);
      } // 0 (nothing, like EAGAIN): never spin on it
      if (i > 0 || waited || timeoutMs === 0) break;
      waited = true;
      const w = this.poller.wait(timeoutMs);
      if (w === Wait.Woken) this.woken = true;
      if (w !== Wait.Ready) break;
    }
    batch.count = i;
    st.received += i;
    if (st.superPackets !== supers) ring.plain = PLAIN_AFTER_SUPER; // TCP (or GRO'd UDP): its reads batch by themselves
    return i;
  }

  // Move io_uring results into slots from i on, in order, until the batch is full or a super-packet has
  // segments waiting (they go first: the outer loop resumes them). Returns the next free slot.
  private takeStaged(ring: ReadRing, batch: PacketBatch, i: number): number {
    const { reader } = ring;
    const results = ring.uring!.results, h = this.vnetHdrLen, max = batch.maxPacket, copy = this.dp.ex.copyBytes;
    while (ring.next < ring.count && i < batch.capacity && !reader.pending) {
      const j = ring.next++;
      const n = results[j];
      if (n <= 0) {
        if (n < 0 && n !== -E.EAGAIN && n !== -E.EINTR) throw new SysError(`io_uring read(${this.name})`, -n);
        continue;
      }
      if (n <= h) { this.stats.malformed++; continue; }
      const src = ring.staging + j * ring.stride, len = n - h;
      copy(batch.slotOffset(i) - h, src, h + Math.min(len, max));
      if (len > max) copy(reader.overflow, src + h + max, len - max); // a super-packet: where the segmenter expects the rest
      i += reader.accept(i, len);
    }
    return i;
  }

  /** Write packets 0..count-1 of a processed batch whose status is OK (the others are dropped), runs of
   *  one TCP or UDP flow coalesced. Each output needs the virtio_net_hdr's bytes of its slot before it (decap
   *  outputs have them). Returns the number of packets written. */
  writeBatch(batch: PacketBatch): number {
    const { plan, addrs } = this.writeRing(batch);
    const writes = plan.plan(batch);
    const st = this.stats;
    let sent = 0;
    for (let w = 0, j = 0; w < writes; w++) {
      const k = plan.iovecs(w);
      if ((sys.writev(this.fd, addrs[j], k) as number) < 0) {
        st.sendErrors++;
        st.lastErrno = errno();
      } else {
        sent += k;
        if (k > 1) st.coalescedWrites++;
      }
      j += k;
    }
    st.sent += sent;
    return sent;
  }

  /** Write one packet of `length` bytes at byte `offset` of the data plane's memory. */
  write(offset: number, length: number): boolean {
    const { u32 } = this.single;
    putPointer(u32, IOV_SIZE + IOV_BASE, this.memBase + offset);
    u32[(IOV_SIZE + IOV_LEN) >> 2] = length;
    if ((sys.writev(this.fd, this.single.ptr, 2) as number) < 0) {
      this.stats.sendErrors++;
      this.stats.lastErrno = errno();
      return false;
    }
    this.stats.sent++;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A non-persistent TUN device disappears with its last descriptor.
    if (this.owned) for (const fd of [this.fd, ...this.moreQueues]) sys.close(fd);
    this.poller.free();
    this.single.free();
    for (const r of this.readRings.values()) { r.iovs.free(); r.uring?.close(); }
    this.readRings.clear();
  }

  private readRing(batch: PacketBatch): ReadRing {
    let r = this.readRings.get(batch);
    if (!r) {
      const reader = new TsoReader(this.dp, batch, this.stats);
      const iovs = new NativeBlock(batch.capacity * 2 * IOV_SIZE);
      const h = this.vnetHdrLen;
      for (let i = 0; i < batch.capacity; i++) {
        const at = i * 2 * IOV_SIZE;
        putPointer(iovs.u32, at + IOV_BASE, this.memBase + batch.slotOffset(i) - h);
        iovs.u32[(at + IOV_LEN) >> 2] = h + batch.maxPacket;
        putPointer(iovs.u32, at + IOV_SIZE + IOV_BASE, this.memBase + reader.overflow);
        iovs.u32[(at + IOV_SIZE + IOV_LEN) >> 2] = OVERFLOW_BYTES;
      }
      r = {
        reader, iovs, addrs: Array.from({ length: batch.capacity }, (_, i) => iovs.at(i * 2 * IOV_SIZE)),
        staging: 0, stride: 0, next: 0, count: 0, burst: MIN_BURST, plain: 0,
      };
      if (this.useUring) r.uring = UringReader.open(batch.capacity);
      if (r.uring) {
        r.stride = Math.ceil((h + batch.maxPacket + OVERFLOW_BYTES) / 64) * 64;
        r.staging = this.dp.allocate(r.uring.entries * r.stride);
      }
      this.readRings.set(batch, r);
    }
    return r;
  }

  private writeRing(batch: PacketBatch): WriteRing {
    let r = this.writeRings.get(batch);
    if (!r) {
      const plan = new GroPlan(this.dp, batch.capacity, BigInt(this.memBase));
      r = { plan, addrs: Array.from({ length: batch.capacity }, (_, j) => BigInt(this.memBase + plan.iovOff + j * 16)) };
      this.writeRings.set(batch, r);
    }
    return r;
  }

  private configure(o: TunOptions): void {
    const dev = ["dev", this.name];
    // No IPv6 link-local address: the kernel's router solicitations and MLD reports would otherwise enter
    // the tunnel (and be counted as policy drops). Addresses given here still work. Before the MTU: below
    // 1280 the device has no IPv6 to configure.
    this.ip("link", "set", ...dev, "addrgenmode", "none", "txqueuelen", String(o.txQueueLen ?? 16384));
    if (o.mtu !== undefined) this.ip("link", "set", ...dev, "mtu", String(o.mtu));
    for (const a of o.addresses ?? []) this.ip("addr", "add", a, ...dev, ...(a.includes(":") ? ["nodad"] : []));
    if (o.up ?? true) this.ip("link", "set", ...dev, "up");
    for (const r of o.routes ?? []) this.ip("route", "add", r, ...dev);
  }

  private ip(...args: string[]): void {
    const argv = this.netns ? ["-n", this.netns, ...args] : args;
    try {
      execFileSync("ip", argv, { stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`ip ${argv.join(" ")}: ${stderr || (e as Error).message}`);
    }
  }
}

/** The kernel's limit is far higher; more queues than worker threads is pointless. */
const MAX_QUEUES = 64;

function createTun(name: string, queues: number): { fds: number[]; name: string } {
  const nameBytes = Buffer.from(name);
  if (nameBytes.length >= C.IFNAMSIZ || nameBytes.length === 0) {
    throw new RangeError(`interface name ${JSON.stringify(name)} must be 1..${C.IFNAMSIZ - 1} bytes`);
  }
  const fds: number[] = [];
  // struct ifreq: char ifr_name[IFNAMSIZ]; short ifr_flags; (40 bytes with the union's padding)
  const ifr = new Uint8Array(40);
  ifr.set(nameBytes);
  new DataView(ifr.buffer).setUint16(C.IFNAMSIZ, C.IFF_TUN | C.IFF_NO_PI | C.IFF_VNET_HDR | (queues > 1 ? C.IFF_MULTI_QUEUE : 0), true);
  const ioctl = (fd: number, what: string, r: number) => {
    if (r >= 0) return;
    const e = errno();
    for (const f of fds) sys.close(f);
    throw new SysError(`ioctl(${what})`, e);
  };
  // Every queue attaches by the name the first one got ("%d" resolved), with the same flags.
  for (let q = 0; q < queues; q++) {
    const fd = sys.open("/dev/net/tun", C.O_RDWR | C.O_NONBLOCK | C.O_CLOEXEC);
    if (fd < 0) ioctl(fd, "open(/dev/net/tun)", fd);
    fds.push(fd);
    ioctl(fd, "TUNSETIFF", sys.ioctl(fd, C.TUNSETIFF, "void *", ifr) as number);
  }
  // The kernel may now hand us TCP and UDP super-packets and packets whose checksum it left to us. A device
  // setting: one queue's descriptor does. UDP segmentation (USO) came with Linux 6.2: an older kernel
  // refuses the flags (EINVAL) and gets TCP's alone.
  const tso = C.TUN_F_CSUM | C.TUN_F_TSO4 | C.TUN_F_TSO6;
  if ((sys.ioctl(fds[0], C.TUNSETOFFLOAD, "unsigned long", tso | C.TUN_F_USO4 | C.TUN_F_USO6) as number) < 0) {
    ioctl(fds[0], "TUNSETOFFLOAD", sys.ioctl(fds[0], C.TUNSETOFFLOAD, "unsigned long", tso) as number);
  }
  const end = ifr.indexOf(0);
  return { fds, name: Buffer.from(ifr.subarray(0, end < 0 ? C.IFNAMSIZ : end)).toString() };
}
