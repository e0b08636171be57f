// The ESP-in-UDP socket (RFC 3948, port 4500): recvmmsg() straight into PacketBatch slots and sendmmsg()
// straight from batch outputs, through mmsghdr/iovec/sockaddr rings allocated once and reused, so a batch
// costs one syscall and no allocation. On send, a run of equal-sized datagrams to one peer (the ESP packets
// of a TCP flow's segments) goes as one message with UDP_SEGMENT (UDP GSO): its iovecs gather the packets
// and the kernel passes them through its stack once, cutting them apart at the end. Received datagrams
// are demultiplexed: the non-ESP marker (four zero bytes) means IKE, copied out to the control plane; a
// lone 0xFF byte is a NAT keepalive; the rest is ESP, starting at its SPI for decap. The receive side mirrors
// the send side with UDP_GRO: a peer's GSO message (or a run the NIC's GRO merged) arrives as one buffer
// instead of being cut into one socket-queue entry per datagram on the way in (work that lands on the
// sending thread over veth); it is split here, each datagram copied into a batch slot, and what does not
// fit waits for the next recvBatch(). Without GRO, datagrams land straight in the slots.
import type { DataPlane } from "../dataplane/dataplane.js";
import type { PacketBatch } from "../dataplane/batch.js";
import { sys, C, E, check, errno, SysError, NativeBlock, putPointer, memoryAddress, LAYOUT } from "./libc.js";
import { SockAddr, encodeSockaddr, sockaddrEquals, type IpVersion } from "./sockaddr.js";
import { Poller, Wait, type Wakeup } from "./wakeup.js";
import { MmsgRing as Ring } from "./mmsg.js";

export interface UdpOptions {
  /** Local address. Default "::": IPv6 and IPv4 (v4-mapped) on one socket. */
  address?: string;
  /** Default 4500; 0 picks a free port (see `port`). */
  port?: number;
  /** SO_REUSEPORT: several workers, each with its own socket on the same port. */
  reusePort?: boolean;
  /** SO_MARK (CAP_NET_ADMIN) on the datagrams sent, for policy routing: a fwmark rule keeps them out of the
   *  TUN routes when a remote traffic selector covers the peer (see src/daemon/routing.ts). */
  mark?: number;
  /** Socket buffers in bytes: SO_RCVBUFFORCE / SO_SNDBUFFORCE (root: beyond net.core.[rw]mem_max), else
   *  SO_RCVBUF / SO_SNDBUF (capped there). */
  receiveBuffer?: number;
  sendBuffer?: number;
  /** Datagrams per sendmmsg() call (default 64). */
  sendRing?: number;
  /** UDP segmentation offload on send (default true; off by itself if the kernel refuses it). */
  gso?: boolean;
  /** UDP_GRO on receive (default true; off if the kernel refuses it). An adopted socket keeps its owner's. */
  gro?: boolean;
  /** Makes a blocking recvBatch() return early (another thread calls wakeup.signal()). */
  wakeup?: Wakeup;
  /** IKE messages received with the non-ESP marker (marker removed; a copy, the slot is reused). */
  onControl?: (message: Uint8Array, from: SockAddr) => void;
}

export interface UdpStats {
  /** Datagrams received, of every kind. */
  received: number;
  esp: number;
  ike: number;
  keepalives: number;
  /** Datagrams longer than a slot's maxPacket (MSG_TRUNC; with GRO, a buffer beyond 64 KiB): dropped. */
  truncated: number;
  /** Datagrams too short for ESP (SPI + sequence number) that are neither IKE nor a keepalive. */
  runts: number;
  /** Buffers that carried several datagrams (UDP GRO). */
  groBuffers: number;
  sent: number;
  /** Messages that carried several datagrams (UDP GSO). */
  gsoSends: number;
  /** Datagrams the kernel refused (lastErrno says why). */
  sendErrors: number;
  /** Packets with no destination: an SA without a remote endpoint, IPv6 on an IPv4 socket. */
  unroutable: number;
  lastErrno: number;
}

/** What is set on a UDP socket before it is bound (see UdpOptions). */
export type UdpSetup = Pick<UdpOptions, "reusePort" | "mark" | "receiveBuffer" | "sendBuffer" | "gro">;

/**
 * A UDP socket bound to `local` with `o` set, and whether UDP_GRO took. Blocking: the batched receives pass
 * MSG_DONTWAIT and wait in poll() (wakeable), and a send that finds the send buffer full blocks briefly, which
 * is the back-pressure we want. Also the IKE sockets' (ike-socket.ts), for SO_MARK. Closed again on failure.
 */
export function bindUdp(local: SockAddr, o: UdpSetup): { fd: number; gro: boolean } {
  const fd = check("socket(UDP)", sys.socket(local.version === 6 ? C.AF_INET6 : C.AF_INET, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0));
  try {
    const opt = (level: number, name: number, value: number, what: string) =>
      check(`setsockopt(${what})`, sys.setsockopt(fd, level, name, Int32Array.of(value), 4));
    if (local.version === 6) opt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, local.address === "::" ? 0 : 1, "IPV6_V6ONLY");
    if (o.reusePort) opt(C.SOL_SOCKET, C.SO_REUSEPORT, 1, "SO_REUSEPORT");
    if (o.mark !== undefined) opt(C.SOL_SOCKET, C.SO_MARK, o.mark, "SO_MARK");
    // The FORCE options need CAP_NET_ADMIN; without it the capped ones still give what the sysctl allows.
    const buffer = (force: number, plain: number, bytes: number, what: string) => {
      if ((sys.setsockopt(fd, C.SOL_SOCKET, force, Int32Array.of(bytes), 4) as number) < 0) opt(C.SOL_SOCKET, plain, bytes, what);
    };
    if (o.receiveBuffer) buffer(C.SO_RCVBUFFORCE, C.SO_RCVBUF, o.receiveBuffer, "SO_RCVBUF");
    if (o.sendBuffer) buffer(C.SO_SNDBUFFORCE, C.SO_SNDBUF, o.sendBuffer, "SO_SNDBUF");
    // An older kernel (before 5.0) refuses UDP_GRO: then every datagram is received on its own.
    const gro = (o.gro ?? true) && (sys.setsockopt(fd, C.SOL_UDP, C.UDP_GRO, Int32Array.of(1), 4) as number) === 0;
    const sa = new Uint8Array(SOCKADDR_SIZE);
    check(`bind(${local})`, sys.bind(fd, sa, local.encode(sa, 0, local.version)));
    return { fd, gro };
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** Where sendBatch() sends each packet: its SA's remote endpoint, one peer, or a per-packet choice. */
export type Destination = "sa" | SockAddr | ((i: number) => SockAddr | null);

const { MMSG_SIZE, SOCKADDR_SIZE } = LAYOUT;
const MARKER_LEN = 4;
const ESP_MIN = 8; // SPI + sequence number


/** UDP_MAX_SEGMENTS of older kernels, and what one IP packet can carry. */
const GSO_MAX_SEGMENTS = 64;
const GSO_MAX_BYTES = 65000;
const CMSG_LEN = LAYOUT.CMSG_HDR + 2; // a cmsghdr and the uint16_t segment size
const CMSG_SPACE = LAYOUT.CMSG_HDR + LAYOUT.CMSG_ALIGN;

/** A GRO buffer: a UDP payload of up to 64 KiB (the IP length is 16 bits), so nothing is ever cut off. */
const GRO_BUFFER = 65536;
/** Room for the UDP_GRO control message: a cmsghdr and the int segment size. */
const GRO_CONTROL = LAYOUT.CMSG_HDR + LAYOUT.CMSG_ALIGN;

/** The receive side for one batch. Without GRO, entry i receives straight into slot i. With GRO, entry i
 *  receives into staging buffer i (WASM memory, GRO_BUFFER bytes) and split() copies datagrams out into
 *  slots, resuming at (next, pos) when the batch filled up. */
class RxRing extends Ring {
  /** The entry packet k of the batch came from (where its sender's address is). */
  readonly from: Int32Array;
  next = 0;
  pos = 0;
  seg = 0;

  constructor(size: number, readonly stage: number) {
    super(size, stage < 0 ? 0 : GRO_CONTROL);
    this.from = new Int32Array(size);
    this.reset(0, size);
  }

  get pending(): boolean { return this.next < this.used; }

  /** The segment size of entry m's buffer from its UDP_GRO control message; 0 if it holds one datagram. */
  segmentSize(m: number): number {
    const { u32 } = this.block;
    const at = this.controlOff(m);
    const len = Math.min(this.controlLen(m), this.control);
    if (len < GRO_CONTROL || u32[(at + LAYOUT.CMSG_ALIGN) >> 2] !== C.SOL_UDP || u32[(at + LAYOUT.CMSG_ALIGN + 4) >> 2] !== C.UDP_GRO) return 0;
    return u32[(at + LAYOUT.CMSG_HDR) >> 2];
  }
}

/** The send side: entry m sends iovecs [first(m), first(m) + segments[m]) to sockaddr m, with a UDP_SEGMENT
 *  control message when it gathers several datagrams. */
class TxRing extends Ring {
  readonly cmsgs: NativeBlock;
  readonly segments: Int32Array;

  constructor(size: number) {
    super(size);
    this.segments = new Int32Array(size);
    this.cmsgs = new NativeBlock(size * CMSG_SPACE);
    const { u32 } = this.cmsgs;
    for (let i = 0; i < size; i++) {
      u32[(i * CMSG_SPACE) >> 2] = CMSG_LEN; // cmsg_len is a size_t: its high half stays 0
      u32[(i * CMSG_SPACE + LAYOUT.CMSG_ALIGN) >> 2] = C.SOL_UDP;
      u32[(i * CMSG_SPACE + LAYOUT.CMSG_ALIGN + 4) >> 2] = C.UDP_SEGMENT;
    }
  }

  /** Entry m starts with iovec k, one datagram, no control message. */
  start(m: number, k: number): void {
    const { u32, address } = this.block;
    const e = m * MMSG_SIZE;
    putPointer(u32, e + LAYOUT.MSG_IOV, address + this.iovOff(k));
    u32[(e + LAYOUT.MSG_IOVLEN) >> 2] = 1;
    putPointer(u32, e + LAYOUT.MSG_CONTROL, 0);
    u32[(e + LAYOUT.MSG_CONTROLLEN) >> 2] = 0;
    this.segments[m] = 1;
  }

  /** Entry m gathers one more datagram; all but the last are `size` bytes. */
  extend(m: number, size: number): void {
    const { u32 } = this.block;
    const e = m * MMSG_SIZE;
    const n = ++this.segments[m];
    u32[(e + LAYOUT.MSG_IOVLEN) >> 2] = n;
    if (n > 2) return;
    this.cmsgs.u16[(m * CMSG_SPACE + LAYOUT.CMSG_HDR) >> 1] = size;
    putPointer(u32, e + LAYOUT.MSG_CONTROL, this.cmsgs.address + m * CMSG_SPACE);
    u32[(e + LAYOUT.MSG_CONTROLLEN) >> 2] = CMSG_SPACE;
  }

  sameName(a: number, b: number): boolean {
    const u32 = this.block.u32, x = this.nameOff(a) >> 2, y = this.nameOff(b) >> 2;
    for (let w = 0; w < SOCKADDR_SIZE >> 2; w++) if (u32[x + w] !== u32[y + w]) return false;
    return true;
  }
}

export class UdpSocket {
  readonly stats: UdpStats = {
    received: 0, esp: 0, ike: 0, keepalives: 0, truncated: 0, runts: 0, groBuffers: 0,
    sent: 0, gsoSends: 0, sendErrors: 0, unroutable: 0, lastErrno: 0,
  };
  /** Set when the last recvBatch() returned because the Wakeup was signalled. */
  woken = false;
  private readonly memBase: number;
  private readonly poller: Poller;
  private readonly rx = new Map<PacketBatch, RxRing>();
  private readonly tx: TxRing;
  private gso: boolean;
  /** Whether the socket has UDP_GRO on (then receives go through staging buffers). */
  readonly gro: boolean;
  private readonly onControl?: UdpOptions["onControl"];
  private closed = false;

  private constructor(private readonly dp: DataPlane, readonly fd: number, readonly version: IpVersion,
                      readonly port: number, opts: UdpOptions, gro: boolean, private readonly owned = true) {
    this.memBase = memoryAddress(dp.memory);
    this.poller = new Poller(fd, C.POLLIN, opts.wakeup);
    this.tx = new TxRing(opts.sendRing ?? 64);
    this.gso = opts.gso ?? true;
    this.gro = gro;
    this.onControl = opts.onControl;
  }

  static open(dp: DataPlane, opts: UdpOptions = {}): UdpSocket {
    const local = new SockAddr(opts.address ?? "::", opts.port ?? 4500);
    if (opts.sendRing !== undefined && !(Number.isInteger(opts.sendRing) && opts.sendRing >= 1)) {
      throw new RangeError(`sendRing must be an integer ≥ 1, got ${opts.sendRing}`);
    }
    const { fd, gro } = bindUdp(local, opts);
    try {
      const sa = new Uint8Array(SOCKADDR_SIZE);
      const lenBox = Uint32Array.of(SOCKADDR_SIZE);
      check("getsockname", sys.getsockname(fd, sa, lenBox));
      return new UdpSocket(dp, fd, local.version, SockAddr.decode(sa, 0).port, opts, gro);
    } catch (e) {
      sys.close(fd);
      throw e;
    }
  }

  /** Use a socket opened by another thread of this process (`fd`, as posted in workerData: descriptors are
   *  process-wide); close() leaves the descriptor to its owner. Binding options do not apply. */
  static adopt(dp: DataPlane, fd: number, opts: Pick<UdpOptions, "sendRing" | "gso" | "wakeup" | "onControl"> = {}): UdpSocket {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`bad socket descriptor ${fd}`);
    if (opts.sendRing !== undefined && !(Number.isInteger(opts.sendRing) && opts.sendRing >= 1)) {
      throw new RangeError(`sendRing must be an integer ≥ 1, got ${opts.sendRing}`);
    }
    const sa = new Uint8Array(SOCKADDR_SIZE);
    check("getsockname", sys.getsockname(fd, sa, Uint32Array.of(SOCKADDR_SIZE)));
    const local = SockAddr.decode(sa, 0);
    const version = (sa[0] | (sa[1] << 8)) === C.AF_INET6 ? 6 : 4; // decode() shows v4-mapped peers as IPv4
    const on = Int32Array.of(0);
    const gro = (sys.getsockopt(fd, C.SOL_UDP, C.UDP_GRO, on, Uint32Array.of(4)) as number) === 0 && on[0] !== 0;
    return new UdpSocket(dp, fd, version, local.port, opts, gro, false);
  }

  /**
   * Receive up to batch.capacity datagrams with one recvmmsg() (with GRO, none while an earlier receive
   * still holds datagrams). ESP datagrams end up as packets 0..count-1 of the batch (slotOffset(i), SA 0,
   * starting at the SPI); the others are consumed as described above. With nothing queued it waits up to
   * timeoutMs (0: return at once, -1: forever); returns 0 on timeout or when the Wakeup fired (then `woken`).
   */
  recvBatch(batch: PacketBatch, timeoutMs = 0): number {
    batch.clear();
    this.woken = false;
    const ring = this.rxRing(batch);
    if (ring.pending) return this.split(batch, ring);
    ring.reset(0, ring.used); // the kernel shrank the name and control lengths
    let n = sys.recvmmsg(this.fd, ring.entries[0], ring.size, C.MSG_DONTWAIT, null) as number;
    if (n < 0) {
      ring.used = 0;
      this.checkRecv();
      if (timeoutMs === 0) return 0;
      const w = this.poller.wait(timeoutMs);
      if (w === Wait.Woken) this.woken = true;
      if (w !== Wait.Ready) return 0;
      n = sys.recvmmsg(this.fd, ring.entries[0], ring.size, C.MSG_DONTWAIT, null) as number;
      if (n < 0) { this.checkRecv(); return 0; }
    }
    ring.used = n;
    ring.next = ring.pos = 0;
    return ring.stage < 0 ? this.demux(batch, ring, n) : this.split(batch, ring);
  }

  /** Where packet i of the last recvBatch() into `batch` came from (allocates: not for every packet). */
  sender(batch: PacketBatch, i: number): SockAddr {
    const ring = this.receivedRing(batch, i);
    return SockAddr.decode(ring.block.u8, ring.nameOff(ring.from[i]));
  }

  /** Which received message packet i of the last recvBatch() came from: packets with the same number share a
   *  sender (with GRO, one message carries many), so one senderMatches() covers them. */
  sourceOf(batch: PacketBatch, i: number): number {
    return this.receivedRing(batch, i).from[i];
  }

  /** Whether packet i of the last recvBatch() came from SA `sa`'s remote endpoint. A mismatch on an
   *  authenticated packet is the peer's NAT mapping moving (RFC 3948 / RFC 7296 §2.23 port floating). */
  senderMatches(batch: PacketBatch, i: number, sa: number): boolean {
    const ring = this.receivedRing(batch, i);
    const { L } = this.dp;
    const { u8, u32 } = this.dp.views; // SA records lie below every batch: recvBatch's views cover them
    const rec = this.dp.saAddress(sa);
    const port = u8[rec + L.SA_REMOTE_PORT] | (u8[rec + L.SA_REMOTE_PORT + 1] << 8);
    return sockaddrEquals(ring.block.u8, ring.nameOff(ring.from[i]), u32[(rec + L.SA_AF) >> 2], u8, rec + L.SA_REMOTE_ADDR, port);
  }

  /**
   * Send the packets of a processed batch whose status is OK (the others are dropped) with as few
   * sendmmsg() calls as the send ring allows; consecutive packets to one peer of one size (the last of a
   * run may be shorter) share a message with UDP GSO. Only packets before `end` (default all; after a mixed
   * encap, PacketBatch.ahStart: the AH outputs behind it go to the raw socket). Returns the number of
   * datagrams the kernel accepted.
   */
  sendBatch(batch: PacketBatch, to: Destination = "sa", end = batch.count): number {
    const ok = this.dp.L.ST_OK;
    const ring = this.tx;
    this.dp.views.refresh();
    const before = this.stats.sent;
    let m = 0, k = 0;           // entries and iovecs used
    let size = 0, bytes = 0;    // the open entry's datagram size and total
    let open = false;           // whether entry m-1 may take another datagram
    let entrySa = -1;           // with to = "sa": the SA whose peer entry m-1 goes to
    const bySa = to === "sa";
    for (let i = 0; i < end; i++) {
      if (batch.status(i) !== ok) continue;
      const len = batch.outLength(i);
      const fits = open && len <= size && bytes + len <= GSO_MAX_BYTES && ring.segments[m - 1] < GSO_MAX_SEGMENTS;
      // The next packet of the same SA goes where the last one went: no address to encode and compare.
      const sameSa = bySa && fits && batch.sa(i) === entrySa;
      if (!sameSa) {
        const nameLen = this.encodeDestination(ring.block.u8, ring.nameOff(m), batch, i, to);
        if (nameLen === 0) { this.stats.unroutable++; continue; }
        ring.setNameLen(m, nameLen);
      }
      ring.setBuffer(k, this.memBase + batch.outOffset(i), len);
      if (sameSa || (fits && ring.sameName(m - 1, m))) {
        ring.extend(m - 1, size);
        bytes += len;
        open = len === size; // a shorter datagram ends the run
      } else {
        ring.start(m++, k);
        size = bytes = len;
        open = this.gso;
        if (bySa) entrySa = batch.sa(i);
      }
      if (++k === ring.size) { this.flush(m); m = k = 0; open = false; }
    }
    if (m > 0) this.flush(m);
    return this.stats.sent - before;
  }

  /** Send an IKE message on this port, behind the non-ESP marker (RFC 3948 §2.2). Not the fast path. */
  sendControl(message: Uint8Array, to: SockAddr): void {
    const buf = new Uint8Array(MARKER_LEN + message.length);
    buf.set(message, MARKER_LEN);
    this.sendOne(buf, to, "sendto(IKE)");
  }

  /** Send a NAT keepalive (RFC 3948 §2.3: one 0xFF byte). */
  sendKeepalive(to: SockAddr): void {
    this.sendOne(Uint8Array.of(0xff), to, "sendto(keepalive)");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) sys.close(this.fd);
    this.poller.free();
    this.tx.block.free();
    this.tx.cmsgs.free();
    for (const r of this.rx.values()) r.block.free();
    this.rx.clear();
  }

  private checkRecv(): void {
    const e = errno();
    if (e !== E.EAGAIN && e !== E.EINTR) throw new SysError("recvmmsg", e);
  }

  // Without GRO: sort n datagrams received straight into the slots; ESP ones are moved down over the holes
  // the others leave (rare: a copy inside WASM memory) so they form packets 0..k-1.
  private demux(batch: PacketBatch, ring: RxRing, n: number): number {
    const u8 = this.dp.views.refresh().u8;
    this.stats.received += n;
    ring.next = n;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const off = batch.slotOffset(i);
      if (ring.msgFlags(i) & C.MSG_TRUNC) { this.stats.truncated++; continue; }
      if (!this.isEsp(u8, off, ring.msgLen(i), ring, i, batch.maxPacket)) continue;
      const len = ring.msgLen(i);
      if (k !== i) u8.copyWithin(batch.slotOffset(k), off, off + len);
      ring.from[k] = i;
      batch.set(k++, len, 0);
    }
    batch.count = k;
    return k;
  }

  // With GRO: cut the staged buffers into their datagrams (all the segment size but the last) and copy the
  // ESP ones into slots until the batch is full; the ring remembers where to go on.
  private split(batch: PacketBatch, ring: RxRing): number {
    const u8 = this.dp.views.refresh().u8;
    const s = this.stats, cap = batch.capacity, max = batch.maxPacket, copy = this.dp.ex.copyBytes;
    let k = 0;
    while (ring.pending && k < cap) {
      const m = ring.next, base = ring.stage + m * GRO_BUFFER, len = ring.msgLen(m);
      if (ring.pos === 0) {
        if (ring.msgFlags(m) & C.MSG_TRUNC) { s.received++; s.truncated++; ring.next++; continue; }
        if (len === 0) { s.received++; s.runts++; ring.next++; continue; }
        const seg = ring.segmentSize(m);
        ring.seg = seg > 0 && seg < len ? seg : len;
        if (ring.seg < len) s.groBuffers++;
      }
      while (ring.pos < len && k < cap) {
        const off = base + ring.pos, l = Math.min(ring.seg, len - ring.pos);
        ring.pos += l;
        s.received++;
        if (!this.isEsp(u8, off, l, ring, m, max)) continue;
        copy(batch.slotOffset(k), off, l);
        ring.from[k] = m;
        batch.set(k++, l, 0);
      }
      if (ring.pos >= len) { ring.next++; ring.pos = 0; }
    }
    batch.count = k;
    return k;
  }

  // One datagram: IKE is copied out to the control plane; keepalives, runts and ESP too long for a slot are
  // counted; true for ESP.
  private isEsp(u8: Uint8Array, off: number, len: number, ring: RxRing, m: number, max: number): boolean {
    const s = this.stats;
    if (len === 1 && u8[off] === 0xff) { s.keepalives++; return false; }
    if (len >= MARKER_LEN && (u8[off] | u8[off + 1] | u8[off + 2] | u8[off + 3]) === 0) {
      s.ike++;
      this.onControl?.(u8.slice(off + MARKER_LEN, off + len), SockAddr.decode(ring.block.u8, ring.nameOff(m)));
      return false;
    }
    if (len < ESP_MIN) { s.runts++; return false; }
    if (len > max) { s.truncated++; return false; }
    s.esp++;
    return true;
  }

  private encodeDestination(dst: Uint8Array, off: number, batch: PacketBatch, i: number, to: Destination): number {
    if (to === "sa") {
      const { L } = this.dp;
      const { u8, u32 } = this.dp.views;
      const rec = this.dp.saAddress(batch.sa(i));
      const port = u8[rec + L.SA_REMOTE_PORT] | (u8[rec + L.SA_REMOTE_PORT + 1] << 8);
      const version = u32[(rec + L.SA_AF) >> 2];
      if (version !== 4 && version !== 6) return 0;
      return encodeSockaddr(dst, off, this.version, version, u8, rec + L.SA_REMOTE_ADDR, port);
    }
    const peer = typeof to === "function" ? to(i) : to;
    return peer ? peer.encode(dst, off, this.version) : 0;
  }

  // sendmmsg() returns how many messages it sent; it fails only when the first one fails, which is then
  // dropped. A kernel or route that refuses UDP GSO (EIO: no checksum offload on the way) turns it off.
  private flush(m: number): void {
    const ring = this.tx, st = this.stats;
    let done = 0;
    while (done < m) {
      const r = sys.sendmmsg(this.fd, ring.entries[done], m - done, 0) as number;
      if (r > 0) {
        for (const end = done + r; done < end; done++) {
          st.sent += ring.segments[done];
          if (ring.segments[done] > 1) st.gsoSends++;
        }
        continue;
      }
      const e = errno();
      if (e === E.EINTR) continue;
      if (ring.segments[done] > 1 && (e === E.EIO || e === E.EINVAL)) this.gso = false;
      st.sendErrors += ring.segments[done];
      st.lastErrno = e;
      done++;
    }
  }

  private sendOne(buf: Uint8Array, to: SockAddr, call: string): void {
    const sa = new Uint8Array(SOCKADDR_SIZE);
    const len = to.encode(sa, 0, this.version);
    if (len === 0) throw new Error(`${call}: cannot reach ${to} from an IPv4 socket`);
    check(`${call} to ${to}`, sys.sendto(this.fd, buf, buf.length, 0, sa, len));
  }

  private rxRing(batch: PacketBatch): RxRing {
    let ring = this.rx.get(batch);
    if (!ring) {
      ring = new RxRing(batch.capacity, this.gro ? this.dp.allocate(batch.capacity * GRO_BUFFER) : -1);
      for (let i = 0; i < batch.capacity; i++) {
        if (this.gro) ring.setBuffer(i, this.memBase + ring.stage + i * GRO_BUFFER, GRO_BUFFER);
        else ring.setBuffer(i, this.memBase + batch.slotOffset(i), batch.maxPacket);
      }
      this.rx.set(batch, ring);
    }
    return ring;
  }

  private receivedRing(batch: PacketBatch, i: number): RxRing {
    const ring = this.rx.get(batch);
    if (!ring || i < 0 || i >= batch.count) throw new RangeError(`no packet ${i} received into this batch`);
    return ring;
  }
}
