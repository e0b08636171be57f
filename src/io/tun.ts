// A TUN device (IFF_TUN | IFF_NO_PI: bare IPv4/IPv6 packets) whose reads and writes go straight between
// the kernel and the data plane's shared WASM memory: read() into PacketBatch slots, writev() from batch
// outputs. One syscall per packet (TUN has no batched read), no copy and no allocation per packet.
// Configuration (MTU, addresses, routes) uses `ip` from iproute2: it is not on the packet path.
import { execFileSync } from "node:child_process";
import type { DataPlane } from "../dataplane/dataplane.js";
import type { PacketBatch } from "../dataplane/batch.js";
import { sys, C, E, check, errno, SysError, NativeBlock, putPointer, memoryAddress, LAYOUT } from "./libc.js";
import { withNetns } from "./netns.js";
import { Poller, Wait, type Wakeup } from "./wakeup.js";

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
  /** Bring the link up (default true). */
  up?: boolean;
  /** Makes a blocking readBatch() return early (another thread calls wakeup.signal()). */
  wakeup?: Wakeup;
}

/** What another thread needs to adopt the device (post it in workerData; descriptors are process-wide). */
export interface TunHandle { fd: number; name: string }

export interface TunStats {
  /** Packets read into batches. */
  received: number;
  /** Packets longer than a slot's maxPacket: dropped (the kernel cuts them to the read size). */
  truncated: number;
  sent: number;
  /** Writes the kernel refused (e.g. not an IP packet); lastErrno says why. */
  sendErrors: number;
  lastErrno: number;
}

export class Tun {
  readonly stats: TunStats = { received: 0, truncated: 0, sent: 0, sendErrors: 0, lastErrno: 0 };
  /** Set when the last readBatch() returned because the Wakeup was signalled. */
  woken = false;
  private readonly memBase: number;
  private readonly poller: Poller;
  private readonly iov = new NativeBlock(LAYOUT.IOV_SIZE);
  private readonly slotPtrs = new WeakMap<PacketBatch, bigint[]>();
  private closed = false;

  private constructor(private readonly dp: DataPlane, readonly fd: number, readonly name: string,
                      readonly netns: string | undefined, wakeup?: Wakeup, private readonly owned = true) {
    this.memBase = memoryAddress(dp.memory);
    this.poller = new Poller(fd, C.POLLIN, wakeup);
  }

  static open(dp: DataPlane, opts: TunOptions = {}): Tun {
    const create = () => createTun(opts.name ?? "wipsec%d");
    const { fd, name } = opts.netns ? withNetns(opts.netns, create) : create();
    const tun = new Tun(dp, fd, name, opts.netns, opts.wakeup);
    try {
      tun.configure(opts);
    } catch (e) {
      tun.close();
      throw e;
    }
    return tun;
  }

  /** Use a device opened by another thread of this process; close() leaves the descriptor to its owner. */
  static adopt(dp: DataPlane, h: TunHandle, opts: { wakeup?: Wakeup } = {}): Tun {
    if (!Number.isInteger(h.fd) || h.fd < 0) throw new RangeError(`bad TUN descriptor ${h.fd}`);
    return new Tun(dp, h.fd, h.name, undefined, opts.wakeup, false);
  }

  get handle(): TunHandle { return { fd: this.fd, name: this.name }; }

  /**
   * Read up to batch.capacity packets into the batch's slots (packet i at slotOffset(i), described with
   * SA 0) and return how many. With nothing queued it waits up to timeoutMs (0: return at once, -1:
   * forever) for the first packet; it returns 0 on timeout, or when the Wakeup fired (then `woken`).
   */
  readBatch(batch: PacketBatch, timeoutMs = 0): number {
    batch.clear();
    this.woken = false;
    const ptrs = this.slotPointers(batch);
    const max = batch.maxPacket;
    let i = 0, waited = false;
    while (i < batch.capacity) {
      // One byte more than a slot takes: a read that fills it means the kernel cut the packet short.
      const n = sys.read(this.fd, ptrs[i], max + 1) as number;
      if (n > max) { this.stats.truncated++; continue; }
      if (n > 0) { batch.set(i++, n, 0); continue; }
      if (n < 0) {
        const e = errno();
        if (e !== E.EAGAIN && e !== E.EINTR) throw new SysError(`read(${this.name})`, e);
      }
      if (i > 0 || waited || timeoutMs === 0) break;
      waited = true;
      const w = this.poller.wait(timeoutMs);
      if (w === Wait.Woken) this.woken = true;
      if (w !== Wait.Ready) break;
    }
    batch.count = i;
    this.stats.received += i;
    return i;
  }

  /** Write packets 0..count-1 of a processed batch whose status is OK (the others are dropped).
   *  Returns the number written. */
  writeBatch(batch: PacketBatch): number {
    const ok = this.dp.L.ST_OK;
    let n = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.status(i) === ok && this.write(batch.outOffset(i), batch.outLength(i))) n++;
    }
    return n;
  }

  /** Write one packet of `length` bytes at byte `offset` of the data plane's memory. */
  write(offset: number, length: number): boolean {
    const { u32 } = this.iov;
    putPointer(u32, LAYOUT.IOV_BASE, this.memBase + offset);
    u32[LAYOUT.IOV_LEN >> 2] = length;
    if ((sys.writev(this.fd, this.iov.ptr, 1) as number) < 0) {
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
    if (this.owned) sys.close(this.fd); // a non-persistent TUN device disappears with its last descriptor
    this.poller.free();
    this.iov.free();
  }

  private slotPointers(batch: PacketBatch): bigint[] {
    let p = this.slotPtrs.get(batch);
    if (!p) {
      p = Array.from({ length: batch.capacity }, (_, i) => BigInt(this.memBase + batch.slotOffset(i)));
      this.slotPtrs.set(batch, p);
    }
    return p;
  }

  private configure(o: TunOptions): void {
    const dev = ["dev", this.name];
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

function createTun(name: string): { fd: number; name: string } {
  const nameBytes = Buffer.from(name);
  if (nameBytes.length >= C.IFNAMSIZ || nameBytes.length === 0) {
    throw new RangeError(`interface name ${JSON.stringify(name)} must be 1..${C.IFNAMSIZ - 1} bytes`);
  }
  const fd = check("open(/dev/net/tun)", sys.open("/dev/net/tun", C.O_RDWR | C.O_NONBLOCK | C.O_CLOEXEC));
  // struct ifreq: char ifr_name[IFNAMSIZ]; short ifr_flags; (40 bytes with the union's padding)
  const ifr = new Uint8Array(40);
  ifr.set(nameBytes);
  new DataView(ifr.buffer).setUint16(C.IFNAMSIZ, C.IFF_TUN | C.IFF_NO_PI, true);
  if ((sys.ioctl(fd, C.TUNSETIFF, "void *", ifr) as number) < 0) {
    const e = errno();
    sys.close(fd);
    throw new SysError("ioctl(TUNSETIFF)", e);
  }
  const end = ifr.indexOf(0);
  return { fd, name: Buffer.from(ifr.subarray(0, end < 0 ? C.IFNAMSIZ : end)).toString() };
}
