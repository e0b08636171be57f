// The ESP-in-UDP socket (RFC 3948, port 4500): recvmmsg() straight into PacketBatch slots and sendmmsg()
// straight from batch outputs, through mmsghdr/iovec/sockaddr rings allocated once and reused, so a batch
// costs one syscall and no allocation. On send, a run of equal-sized datagrams to one peer (the ESP packets
// of a TCP flow's segments) goes as one message with UDP_SEGMENT (UDP GSO): its iovecs gather the packets
// and the kernel passes them through its stack once, cutting them apart at the end. Received datagrams
// are demultiplexed: the non-ESP marker (four zero bytes) means IKE, copied out to the control plane; a
// lone 0xFF byte is a NAT keepalive; the rest is ESP, left in place starting at its SPI for decap.
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
  /** Datagrams longer than a slot's maxPacket (MSG_TRUNC): dropped. */
  truncated: number;
  /** Datagrams too short for ESP (SPI + sequence number) that are neither IKE nor a keepalive. */
  runts: number;
  sent: number;
  /** Messages that carried several datagrams (UDP GSO). */
  gsoSends: number;
  /** Datagrams the kernel refused (lastErrno says why). */
  sendErrors: number;
  /** Packets with no destination: an SA without a remote endpoint, IPv6 on an IPv4 socket. */
  unroutable: number;
  lastErrno: number;
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
    received: 0, esp: 0, ike: 0, keepalives: 0, truncated: 0, runts: 0,
    sent: 0, gsoSends: 0, sendErrors: 0, unroutable: 0, lastErrno: 0,
  };
  /** Set when the last recvBatch() returned because the Wakeup was signalled. */
  woken = false;
  private readonly memBase: number;
  private readonly poller: Poller;
  private readonly rx = new Map<PacketBatch, Ring>();
  private readonly tx: TxRing;
  private gso: boolean;
  private readonly onControl?: UdpOptions["onControl"];
  private closed = false;

  private constructor(private readonly dp: DataPlane, readonly fd: number, readonly version: IpVersion,
                      readonly port: number, opts: UdpOptions, private readonly owned = true) {
    this.memBase = memoryAddress(dp.memory);
    this.poller = new Poller(fd, C.POLLIN, opts.wakeup);
    this.tx = new TxRing(opts.sendRing ?? 64);
    this.gso = opts.gso ?? true;
    this.onControl = opts.onControl;
  }

  static open(dp: DataPlane, opts: UdpOptions = {}): UdpSocket {
    const local = new SockAddr(opts.address ?? "::", opts.port ?? 4500);
    if (opts.sendRing !== undefined && !(Number.isInteger(opts.sendRing) && opts.sendRing >= 1)) {
      throw new RangeError(`sendRing must be an integer ≥ 1, got ${opts.sendRing}`);
    }
    const family = local.version === 6 ? C.AF_INET6 : C.AF_INET;
    // Blocking socket: receives pass MSG_DONTWAIT and wait in poll() (wakeable); a send that finds the
    // send buffer full blocks briefly, which is the back-pressure we want.
    const fd = check("socket(UDP)", sys.socket(family, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0));
    try {
      const opt = (level: number, name: number, value: number, what: string) =>
        check(`setsockopt(${what})`, sys.setsockopt(fd, level, name, Int32Array.of(value), 4));
      if (local.version === 6) opt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, local.address === "::" ? 0 : 1, "IPV6_V6ONLY");
      if (opts.reusePort) opt(C.SOL_SOCKET, C.SO_REUSEPORT, 1, "SO_REUSEPORT");
      if (opts.mark !== undefined) opt(C.SOL_SOCKET, C.SO_MARK, opts.mark, "SO_MARK");
      // The FORCE options need CAP_NET_ADMIN; without it the capped ones still give what the sysctl allows.
      const buffer = (force: number, plain: number, bytes: number, what: string) => {
        if ((sys.setsockopt(fd, C.SOL_SOCKET, force, Int32Array.of(bytes), 4) as number) < 0) opt(C.SOL_SOCKET, plain, bytes, what);
      };
      if (opts.receiveBuffer) buffer(C.SO_RCVBUFFORCE, C.SO_RCVBUF, opts.receiveBuffer, "SO_RCVBUF");
      if (opts.sendBuffer) buffer(C.SO_SNDBUFFORCE, C.SO_SNDBUF, opts.sendBuffer, "SO_SNDBUF");
      const sa = new Uint8Array(SOCKADDR_SIZE);
      const len = local.encode(sa, 0, local.version);
      check(`bind(${local})`, sys.bind(fd, sa, len));
      const lenBox = Uint32Array.of(SOCKADDR_SIZE);
      check("getsockname", sys.getsockname(fd, sa, lenBox));
      return new UdpSocket(dp, fd, local.version, SockAddr.decode(sa, 0).port, opts);
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
    return new UdpSocket(dp, fd, version, local.port, opts, false);
  }

  /**
   * Receive up to batch.capacity datagrams with one recvmmsg(). ESP datagrams end up as packets
   * 0..count-1 of the batch (slotOffset(i), SA 0, starting at the SPI); the others are consumed as
   * described above. With nothing queued it waits up to timeoutMs (0: return at once, -1: forever);
   * returns 0 on timeout or when the Wakeup fired (then `woken`).
   */
  recvBatch(batch: PacketBatch, timeoutMs = 0): number {
    batch.clear();
    this.woken = false;
    const ring = this.rxRing(batch);
    for (let i = 0; i < ring.used; i++) ring.setNameLen(i, SOCKADDR_SIZE); // the kernel shrank them
    let n = sys.recvmmsg(this.fd, ring.entries[0], batch.capacity, C.MSG_DONTWAIT, null) as number;
    if (n < 0) {
      this.checkRecv();
      if (timeoutMs === 0) return 0;
      const w = this.poller.wait(timeoutMs);
      if (w === Wait.Woken) this.woken = true;
      if (w !== Wait.Ready) return 0;
      n = sys.recvmmsg(this.fd, ring.entries[0], batch.capacity, C.MSG_DONTWAIT, null) as number;
      if (n < 0) { this.checkRecv(); return 0; }
    }
    ring.used = n;
    return this.demux(batch, ring, n);
  }

  /** Where packet i of the last recvBatch() into `batch` came from (allocates: not for every packet). */
  sender(batch: PacketBatch, i: number): SockAddr {
    const ring = this.receivedRing(batch, i);
    return SockAddr.decode(ring.block.u8, ring.nameOff(i));
  }

  /** Whether packet i of the last recvBatch() came from SA `sa`'s remote endpoint. A mismatch on an
   *  authenticated packet is the peer's NAT mapping moving (RFC 3948 / RFC 7296 §2.23 port floating). */
  senderMatches(batch: PacketBatch, i: number, sa: number): boolean {
    const ring = this.receivedRing(batch, i);
    const { L } = this.dp;
    const { u8, u32 } = this.dp.views.refresh();
    const rec = this.dp.saAddress(sa);
    const port = u8[rec + L.SA_REMOTE_PORT] | (u8[rec + L.SA_REMOTE_PORT + 1] << 8);
    return sockaddrEquals(ring.block.u8, ring.nameOff(i), u32[(rec + L.SA_AF) >> 2], u8, rec + L.SA_REMOTE_ADDR, port);
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
    for (let i = 0; i < end; i++) {
      if (batch.status(i) !== ok) continue;
      const len = batch.outLength(i);
      const nameLen = this.encodeDestination(ring.block.u8, ring.nameOff(m), batch, i, to);
      if (nameLen === 0) { this.stats.unroutable++; continue; }
      ring.setBuffer(k, this.memBase + batch.outOffset(i), len);
      if (open && len <= size && bytes + len <= GSO_MAX_BYTES && ring.segments[m - 1] < GSO_MAX_SEGMENTS && ring.sameName(m - 1, m)) {
        ring.extend(m - 1, size);
        bytes += len;
        open = len === size; // a shorter datagram ends the run
      } else {
        ring.setNameLen(m, nameLen);
        ring.start(m++, k);
        size = bytes = len;
        open = this.gso;
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

  // Sort n received datagrams; ESP ones are moved down over the holes the others leave (rare: a copy
  // inside WASM memory) so they form packets 0..k-1, with their sender addresses moved alongside.
  private demux(batch: PacketBatch, ring: Ring, n: number): number {
    const u8 = this.dp.views.refresh().u8;
    const s = this.stats;
    s.received += n;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const len = ring.msgLen(i);
      const off = batch.slotOffset(i);
      if (ring.msgFlags(i) & C.MSG_TRUNC) { s.truncated++; continue; }
      if (len === 1 && u8[off] === 0xff) { s.keepalives++; continue; }
      if (len >= MARKER_LEN && (u8[off] | u8[off + 1] | u8[off + 2] | u8[off + 3]) === 0) {
        s.ike++;
        this.onControl?.(u8.slice(off + MARKER_LEN, off + len), SockAddr.decode(ring.block.u8, ring.nameOff(i)));
        continue;
      }
      if (len < ESP_MIN) { s.runts++; continue; }
      s.esp++;
      if (k !== i) {
        u8.copyWithin(batch.slotOffset(k), off, off + len);
        ring.block.u8.copyWithin(ring.nameOff(k), ring.nameOff(i), ring.nameOff(i) + SOCKADDR_SIZE);
      }
      batch.set(k++, len, 0);
    }
    batch.count = k;
    return k;
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

  private rxRing(batch: PacketBatch): Ring {
    let ring = this.rx.get(batch);
    if (!ring) {
      ring = new Ring(batch.capacity);
      for (let i = 0; i < batch.capacity; i++) ring.setBuffer(i, this.memBase + batch.slotOffset(i), batch.maxPacket);
      this.rx.set(batch, ring);
    }
    return ring;
  }

  private receivedRing(batch: PacketBatch, i: number): Ring {
    const ring = this.rx.get(batch);
    if (!ring || i < 0 || i >= batch.count) throw new RangeError(`no packet ${i} received into this batch`);
    return ring;
  }
}
