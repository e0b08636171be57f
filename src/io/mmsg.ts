// The native ring recvmmsg()/sendmmsg() work on, allocated once per socket and batch size and reused:
// mmsghdr[n], then iovec[n], then sockaddr[n], then optionally a control buffer per entry; entry i points
// to iovec i, sockaddr i (and control buffer i). Shared by the ESP-in-UDP (udp.ts) and raw AH (raw.ts) sockets.
import { NativeBlock, putPointer, LAYOUT } from "./libc.js";

const { MMSG_SIZE, IOV_SIZE, SOCKADDR_SIZE } = LAYOUT;

export class MmsgRing {
  readonly block: NativeBlock;
  /** BigInt address of each mmsghdr (a call may start mid-ring, e.g. after a partial sendmmsg). */
  readonly entries: bigint[];
  /** Entries the last receive filled (their name lengths were shrunk by the kernel). */
  used = 0;

  constructor(readonly size: number, readonly control = 0) {
    this.block = new NativeBlock(size * (MMSG_SIZE + IOV_SIZE + SOCKADDR_SIZE + control));
    const { u32, address } = this.block;
    for (let i = 0; i < size; i++) {
      const m = i * MMSG_SIZE;
      putPointer(u32, m + LAYOUT.MSG_NAME, address + this.nameOff(i));
      u32[(m + LAYOUT.MSG_NAMELEN) >> 2] = SOCKADDR_SIZE;
      putPointer(u32, m + LAYOUT.MSG_IOV, address + this.iovOff(i));
      u32[(m + LAYOUT.MSG_IOVLEN) >> 2] = 1;
      if (control > 0) putPointer(u32, m + LAYOUT.MSG_CONTROL, address + this.controlOff(i));
    }
    this.entries = Array.from({ length: size }, (_, i) => this.block.at(i * MMSG_SIZE));
  }

  iovOff(i: number): number { return this.size * MMSG_SIZE + i * IOV_SIZE; }
  nameOff(i: number): number { return this.size * (MMSG_SIZE + IOV_SIZE) + i * SOCKADDR_SIZE; }
  controlOff(i: number): number { return this.size * (MMSG_SIZE + IOV_SIZE + SOCKADDR_SIZE) + i * this.control; }
  /** Point entry i's buffer at `address`, `length` bytes. */
  setBuffer(i: number, address: number, length: number): void {
    const { u32 } = this.block;
    putPointer(u32, this.iovOff(i) + LAYOUT.IOV_BASE, address);
    u32[(this.iovOff(i) + LAYOUT.IOV_LEN) >> 2] = length;
  }
  /** Before a receive: the kernel shrinks the name and control lengths of the entries it fills. */
  reset(from: number, to: number): void {
    const u32 = this.block.u32;
    for (let i = from; i < to; i++) {
      const m = i * MMSG_SIZE;
      u32[(m + LAYOUT.MSG_NAMELEN) >> 2] = SOCKADDR_SIZE;
      if (this.control > 0) u32[(m + LAYOUT.MSG_CONTROLLEN) >> 2] = this.control; // size_t: the high word stays 0
    }
  }
  setNameLen(i: number, len: number): void { this.block.u32[(i * MMSG_SIZE + LAYOUT.MSG_NAMELEN) >> 2] = len; }
  msgLen(i: number): number { return this.block.u32[(i * MMSG_SIZE + LAYOUT.MSG_LEN) >> 2]; }
  msgFlags(i: number): number { return this.block.u32[(i * MMSG_SIZE + LAYOUT.MSG_FLAGS) >> 2]; }
  controlLen(i: number): number { return this.block.u32[(i * MMSG_SIZE + LAYOUT.MSG_CONTROLLEN) >> 2]; }
}
