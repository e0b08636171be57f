// Raw AH sockets (RFC 4302, IP protocol 51), one per address family: recvmmsg() straight into PacketBatch
// slots and sendmmsg() straight from batch outputs, through mmsghdr/iovec/sockaddr rings allocated once and
// reused, as udp.ts does for ESP-in-UDP. The data plane takes and makes whole IP packets, so:
//   IPv4: the socket receives the packet with its IP header (reassembled by the kernel) and sends the
//     packet as built, IP_HDRINCL (the kernel fills in only the checksum and a zero Identification).
//   IPv6: the kernel delivers what follows the IPv6 header and any extension headers before AH. The header
//     is rebuilt in the slot's headroom: addresses from the sender's sockaddr and IPV6_PKTINFO, traffic
//     class and hop limit from their ancillary data, flow label 0 (mutable fields: the ICV does not cover
//     them). Limitation: extension headers before AH are lost, and the ICV covers them, so such packets
//     fail authentication (counted by the data plane as auth_failed). Sending uses IPV6_HDRINCL.
// Neither family fragments on send (IP_HDRINCL): a packet larger than the route's MTU fails (EMSGSIZE,
// counted as a send error); the TUN MTU must leave room for AH's overhead.
import type { DataPlane } from "../dataplane/dataplane.js";
import type { PacketBatch } from "../dataplane/batch.js";
import { sys, C, E, check, errno, SysError, memoryAddress, LAYOUT } from "./libc.js";
import { encodeSockaddr, type IpVersion } from "./sockaddr.js";
import { Poller, Wait, type Wakeup } from "./wakeup.js";
import { MmsgRing as Ring } from "./mmsg.js";

export interface RawAhOptions {
  /** Open the IPv4 socket (default true). */
  ipv4?: boolean;
  /** Open the IPv6 socket (default true). */
  ipv6?: boolean;
  /** Socket buffers in bytes (SO_RCVBUFFORCE / SO_SNDBUFFORCE as root, else capped at net.core.[rw]mem_max). */
  receiveBuffer?: number;
  sendBuffer?: number;
  /** SO_MARK (CAP_NET_ADMIN) on the packets sent, for policy routing: in transport mode the AH packet has the
   *  plaintext's destination, which the TUN routes capture; a fwmark rule sends AH the other way. */
  mark?: number;
  /** Packets per sendmmsg() call and family (default 64). */
  sendRing?: number;
  /** Makes a blocking recvBatch() return early (another thread calls wakeup.signal()). */
  wakeup?: Wakeup;
}

/** What a worker needs to adopt the sockets (-1: that family is not open). */
export interface RawAhHandle { fd4: number; fd6: number }

export interface RawAhStats {
  /** Packets received, both families. */
  received: number;
  /** Packets longer than a slot's maxPacket (MSG_TRUNC): dropped. */
  truncated: number;
  /** IPv6 packets without their destination address (no IPV6_PKTINFO): dropped. */
  noAddress: number;
  sent: number;
  /** Packets the kernel refused (lastErrno says why). */
  sendErrors: number;
  /** Packets of a family whose socket is not open. */
  unroutable: number;
  lastErrno: number;
}

const { CMSG_HDR, CMSG_ALIGN } = LAYOUT;
const IP6_HDR = 40;
// in6_pktinfo (20 bytes), hop limit and traffic class (int each), each behind a cmsghdr, aligned.
const cmsgSpace = (n: number) => CMSG_HDR + Math.ceil(n / CMSG_ALIGN) * CMSG_ALIGN;
const CONTROL_SIZE = cmsgSpace(20) + 2 * cmsgSpace(4);


/** One family's socket, its send ring and, per batch, its receive ring. */
class Family {
  readonly tx: Ring;
  readonly rx = new Map<PacketBatch, Ring>();
  queued = 0;

  constructor(readonly version: IpVersion, readonly fd: number, sendRing: number) {
    this.tx = new Ring(sendRing);
  }
}

export class RawAh {
  readonly stats: RawAhStats = { received: 0, truncated: 0, noAddress: 0, sent: 0, sendErrors: 0, unroutable: 0, lastErrno: 0 };
  /** Set when the last recvBatch() returned because the Wakeup was signalled. */
  woken = false;
  private readonly memBase: number;
  private readonly v4?: Family;
  private readonly v6?: Family;
  private readonly poller: Poller;
  private v6First = false;
  private closed = false;

  private constructor(private readonly dp: DataPlane, fd4: number, fd6: number, opts: RawAhOptions,
                      private readonly owned: boolean) {
    const ring = opts.sendRing ?? 64;
    if (!Number.isInteger(ring) || ring < 1) throw new RangeError(`sendRing must be an integer ≥ 1, got ${ring}`);
    this.memBase = memoryAddress(dp.memory);
    if (fd4 >= 0) this.v4 = new Family(4, fd4, ring);
    if (fd6 >= 0) this.v6 = new Family(6, fd6, ring);
    this.poller = new Poller([fd4, fd6].filter((fd) => fd >= 0), C.POLLIN, opts.wakeup);
  }

  /** Open the raw sockets (root or CAP_NET_RAW). */
  static open(dp: DataPlane, opts: RawAhOptions = {}): RawAh {
    const want4 = opts.ipv4 ?? true, want6 = opts.ipv6 ?? true;
    if (!want4 && !want6) throw new RangeError("open at least one of the IPv4 and IPv6 sockets");
    const opened: number[] = [];
    try {
      const fd4 = want4 ? openSocket(4, opts) : -1;
      if (fd4 >= 0) opened.push(fd4);
      const fd6 = want6 ? openSocket(6, opts) : -1;
      return new RawAh(dp, fd4, fd6, opts, true);
    } catch (e) {
      for (const fd of opened) sys.close(fd);
      throw e;
    }
  }

  /** Use sockets opened by another thread of this process (descriptors are process-wide); close() leaves
   *  them to their owner. */
  static adopt(dp: DataPlane, h: RawAhHandle, opts: Pick<RawAhOptions, "sendRing" | "wakeup"> = {}): RawAh {
    for (const fd of [h.fd4, h.fd6]) if (!Number.isInteger(fd) || fd < -1) throw new RangeError(`bad socket descriptor ${fd}`);
    if (h.fd4 < 0 && h.fd6 < 0) throw new RangeError("no raw AH socket to adopt");
    return new RawAh(dp, h.fd4, h.fd6, opts, false);
  }

  get handle(): RawAhHandle { return { fd4: this.v4?.fd ?? -1, fd6: this.v6?.fd ?? -1 }; }

  /**
   * Receive up to batch.capacity AH packets from both sockets (one recvmmsg() each; which goes first
   * alternates, so neither starves the other). They end up as packets 0..count-1 of the batch, each a
   * whole IP packet at slotOffset(i), SA 0, for PacketBatch.ahDecap(). With nothing queued it waits up to
   * timeoutMs (0: return at once, -1: forever); returns 0 on timeout or when the Wakeup fired (then `woken`).
   */
  recvBatch(batch: PacketBatch, timeoutMs = 0): number {
    batch.clear();
    this.woken = false;
    let n = this.receive(batch);
    if (n === 0 && timeoutMs !== 0) {
      const w = this.poller.wait(timeoutMs);
      if (w === Wait.Woken) { this.woken = true; return 0; }
      if (w === Wait.Ready) n = this.receive(batch);
    }
    return n;
  }

  /** Send the packets from..count-1 of an encapsulated batch whose status is OK (the others are skipped),
   *  each to its IP destination on its family's socket, with as few sendmmsg() calls as the rings allow.
   *  Returns the number the kernel accepted. */
  sendBatch(batch: PacketBatch, from = 0): number {
    const ok = this.dp.L.ST_OK;
    const u8 = this.dp.views.refresh().u8;
    const before = this.stats.sent;
    for (let i = from; i < batch.count; i++) {
      if (batch.status(i) !== ok) continue;
      const out = batch.outOffset(i);
      const version = u8[out] >> 4;
      const f = version === 4 ? this.v4 : version === 6 ? this.v6 : undefined;
      if (!f) { this.stats.unroutable++; continue; }
      const m = f.queued;
      const nameLen = encodeSockaddr(f.tx.block.u8, f.tx.nameOff(m), f.version, version, u8, out + (version === 4 ? 16 : 24), 0);
      f.tx.setNameLen(m, nameLen);
      f.tx.setBuffer(m, this.memBase + out, batch.outLength(i));
      if (++f.queued === f.tx.size) this.flush(f);
    }
    for (const f of [this.v4, this.v6]) if (f && f.queued > 0) this.flush(f);
    return this.stats.sent - before;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of [this.v4, this.v6]) {
      if (!f) continue;
      if (this.owned) sys.close(f.fd);
      f.tx.block.free();
      for (const r of f.rx.values()) r.block.free();
    }
    this.poller.free();
  }

  // Both sockets, without waiting: the first fills slots 0..k-1, the second from k on.
  private receive(batch: PacketBatch): number {
    const order = this.v6First ? [this.v6, this.v4] : [this.v4, this.v6];
    this.v6First = !this.v6First;
    let n = 0;
    for (const f of order) if (f && n < batch.capacity) n = this.receiveFrom(f, batch, n);
    batch.count = n;
    return n;
  }

  // recvmmsg() into slots at..capacity-1; accepted packets are moved down over the dropped ones (rare: a
  // copy inside WASM memory) and described with batch.set(). Returns the new number of packets.
  private receiveFrom(f: Family, batch: PacketBatch, at: number): number {
    const ring = this.rxRing(f, batch);
    ring.reset(at, batch.capacity);
    const r = sys.recvmmsg(f.fd, ring.entries[at], batch.capacity - at, C.MSG_DONTWAIT, null) as number;
    if (r < 0) {
      const e = errno();
      if (e !== E.EAGAIN && e !== E.EINTR) throw new SysError("recvmmsg", e);
      return at;
    }
    const u8 = this.dp.views.refresh().u8;
    const s = this.stats;
    s.received += r;
    let k = at;
    for (let i = at; i < at + r; i++) {
      if (ring.msgFlags(i) & C.MSG_TRUNC) { s.truncated++; continue; }
      let len = ring.msgLen(i);
      const slot = batch.slotOffset(i);
      if (f.version === 6) {
        if (!this.ipv6Header(u8, slot, len, ring, i)) { s.noAddress++; continue; }
        len += IP6_HDR;
      }
      if (k !== i) u8.copyWithin(batch.slotOffset(k), slot, slot + len);
      batch.set(k++, len, 0);
    }
    return k;
  }

  // Rebuild the IPv6 header at slot (the payload was received 40 bytes further): see the top of the file.
  private ipv6Header(u8: Uint8Array, slot: number, payloadLen: number, ring: Ring, i: number): boolean {
    const c = ring.block.u8, cu32 = ring.block.u32;
    let haveDst = false, tclass = 0, hops = 0;
    const base = ring.controlOff(i), end = base + Math.min(ring.controlLen(i), ring.control);
    for (let at = base; at + CMSG_HDR <= end;) {
      const len = cu32[at >> 2]; // size_t, little-endian: its low word
      if (len < CMSG_HDR || at + len > end) break;
      const level = cu32[(at + CMSG_ALIGN) >> 2], type = cu32[(at + CMSG_ALIGN + 4) >> 2];
      const data = at + CMSG_HDR;
      if (level === C.IPPROTO_IPV6) {
        if (type === C.IPV6_PKTINFO && len >= CMSG_HDR + 20) { u8.set(c.subarray(data, data + 16), slot + 24); haveDst = true; }
        else if (type === C.IPV6_TCLASS) tclass = cu32[data >> 2] & 0xff;
        else if (type === C.IPV6_HOPLIMIT) hops = cu32[data >> 2] & 0xff;
      }
      at += Math.ceil(len / CMSG_ALIGN) * CMSG_ALIGN;
    }
    if (!haveDst) return false;
    u8[slot] = 0x60 | (tclass >> 4);
    u8[slot + 1] = (tclass & 15) << 4;
    u8[slot + 2] = 0; u8[slot + 3] = 0;
    u8[slot + 4] = payloadLen >> 8; u8[slot + 5] = payloadLen & 0xff;
    u8[slot + 6] = C.IPPROTO_AH;
    u8[slot + 7] = hops;
    const name = ring.nameOff(i);
    u8.set(c.subarray(name + 8, name + 24), slot + 8); // sockaddr_in6.sin6_addr
    return true;
  }

  // sendmmsg() returns how many it sent; it fails only when the first one fails, which is then dropped.
  private flush(f: Family): void {
    const m = f.queued;
    f.queued = 0;
    let done = 0;
    while (done < m) {
      const r = sys.sendmmsg(f.fd, f.tx.entries[done], m - done, 0) as number;
      if (r > 0) { done += r; this.stats.sent += r; continue; }
      const e = errno();
      if (e === E.EINTR) continue;
      this.stats.sendErrors++;
      this.stats.lastErrno = e;
      done++;
    }
  }

  // Slot i's buffer: the whole slot for IPv4; for IPv6 40 bytes in, where the rebuilt header goes.
  private rxRing(f: Family, batch: PacketBatch): Ring {
    let ring = f.rx.get(batch);
    if (!ring) {
      const skip = f.version === 6 ? IP6_HDR : 0;
      ring = new Ring(batch.capacity, f.version === 6 ? CONTROL_SIZE : 0);
      for (let i = 0; i < batch.capacity; i++) ring.setBuffer(i, this.memBase + batch.slotOffset(i) + skip, batch.maxPacket - skip);
      f.rx.set(batch, ring);
    }
    return ring;
  }
}

function openSocket(version: IpVersion, opts: RawAhOptions): number {
  const fd = check(`socket(raw AH, IPv${version})`, sys.socket(version === 6 ? C.AF_INET6 : C.AF_INET,
    C.SOCK_RAW | C.SOCK_CLOEXEC, C.IPPROTO_AH));
  try {
    const opt = (level: number, name: number, value: number, what: string) =>
      check(`setsockopt(${what})`, sys.setsockopt(fd, level, name, Int32Array.of(value), 4));
    if (version === 4) {
      opt(C.IPPROTO_IP, C.IP_HDRINCL, 1, "IP_HDRINCL");
    } else {
      opt(C.IPPROTO_IPV6, C.IPV6_HDRINCL, 1, "IPV6_HDRINCL");
      opt(C.IPPROTO_IPV6, C.IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
      opt(C.IPPROTO_IPV6, C.IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
      opt(C.IPPROTO_IPV6, C.IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
    }
    // As udp.ts: the FORCE options (CAP_NET_ADMIN) go beyond net.core.[rw]mem_max, the plain ones up to it.
    const buffer = (force: number, plain: number, bytes: number, what: string) => {
      if ((sys.setsockopt(fd, C.SOL_SOCKET, force, Int32Array.of(bytes), 4) as number) < 0) opt(C.SOL_SOCKET, plain, bytes, what);
    };
    if (opts.mark !== undefined) opt(C.SOL_SOCKET, C.SO_MARK, opts.mark, "SO_MARK");
    if (opts.receiveBuffer) buffer(C.SO_RCVBUFFORCE, C.SO_RCVBUF, opts.receiveBuffer, "SO_RCVBUF");
    if (opts.sendBuffer) buffer(C.SO_SNDBUFFORCE, C.SO_SNDBUF, opts.sendBuffer, "SO_SNDBUF");
    return fd;
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}
