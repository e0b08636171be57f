// The libc calls the packet I/O layer needs, bound once through koffi (FFI: no compiled addon), with
// errors that name the call and the errno. Pointer arguments are declared `void *`: koffi then takes a
// BigInt address or a typed array's own memory as is (no marshalling, no copy). Hot loops pass BigInt
// addresses computed once, because a plain Number above 2^31 is boxed (a heap allocation) per call.
import koffi from "koffi";

const lib = koffi.load("libc.so.6");

export const sys = {
  open: lib.func("int open(const char *path, int flags, ...)"),
  close: lib.func("int close(int fd)"),
  ioctl: lib.func("int ioctl(int fd, unsigned long request, ...)"),
  read: lib.func("long read(int fd, void *buf, size_t count)"),
  write: lib.func("long write(int fd, void *buf, size_t count)"),
  writev: lib.func("long writev(int fd, void *iov, int iovcnt)"),
  readv: lib.func("long readv(int fd, void *iov, int iovcnt)"),
  socket: lib.func("int socket(int domain, int type, int protocol)"),
  bind: lib.func("int bind(int fd, void *addr, uint32_t addrlen)"),
  getsockname: lib.func("int getsockname(int fd, void *addr, void *addrlen)"),
  setsockopt: lib.func("int setsockopt(int fd, int level, int name, void *value, uint32_t len)"),
  getsockopt: lib.func("int getsockopt(int fd, int level, int name, void *value, void *len)"),
  sendto: lib.func("long sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t addrlen)"),
  recvmmsg: lib.func("int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)"),
  sendmmsg: lib.func("int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)"),
  poll: lib.func("int poll(void *fds, unsigned long nfds, int timeout)"),
  mmap: lib.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)"),
  munmap: lib.func("int munmap(void *addr, size_t length)"),
  eventfd: lib.func("int eventfd(unsigned int initval, int flags)"),
  setns: lib.func("int setns(int fd, int nstype)"),
  strerror: lib.func("const char *strerror(int errnum)"),
} as const;

/** Linux constants (x86-64 and arm64 share them). */
export const C = {
  O_RDONLY: 0, O_RDWR: 2, O_NONBLOCK: 0o4000, O_CLOEXEC: 0o2000000,
  AF_INET: 2, AF_INET6: 10, SOCK_DGRAM: 2, SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1, SO_SNDBUF: 7, SO_RCVBUF: 8, SO_REUSEPORT: 15, SO_SNDBUFFORCE: 32, SO_RCVBUFFORCE: 33,
  IPPROTO_IPV6: 41, IPV6_V6ONLY: 26, SOL_UDP: 17, UDP_SEGMENT: 103, UDP_GRO: 104,
  SOCK_RAW: 3, IPPROTO_IP: 0, IPPROTO_AH: 51, IP_HDRINCL: 3, IPV6_HDRINCL: 36, SO_MARK: 36,
  IPV6_RECVPKTINFO: 49, IPV6_PKTINFO: 50, IPV6_RECVHOPLIMIT: 51, IPV6_HOPLIMIT: 52, IPV6_RECVTCLASS: 66, IPV6_TCLASS: 67,
  MSG_TRUNC: 0x20, MSG_DONTWAIT: 0x40,
  POLLIN: 0x1,
  EFD_NONBLOCK: 0o4000, EFD_CLOEXEC: 0o2000000,
  CLONE_NEWNET: 0x40000000,
  TUNSETIFF: 0x400454ca, IFF_TUN: 0x0001, IFF_NO_PI: 0x1000, IFNAMSIZ: 16,
  IFF_VNET_HDR: 0x4000, IFF_MULTI_QUEUE: 0x0100, TUNSETOFFLOAD: 0x400454d0, TUN_F_CSUM: 0x01, TUN_F_TSO4: 0x02, TUN_F_TSO6: 0x04, TUN_F_USO4: 0x20, TUN_F_USO6: 0x40,
} as const;

export const E = koffi.os.errno as Readonly<Record<string, number>>;

// errno → name; the first name in alphabetical order wins for aliases (EAGAIN over EWOULDBLOCK).
const errnoNames = new Map<number, string>();
for (const name of Object.keys(E).sort()) if (!errnoNames.has(E[name])) errnoNames.set(E[name], name);

export function errnoName(errno: number): string { return errnoNames.get(errno) ?? `errno ${errno}`; }

/** errno of the last koffi call on this thread: read it right after the call that failed. */
export function errno(): number { return koffi.errno(); }

export class SysError extends Error {
  readonly code: string;
  constructor(readonly call: string, readonly errno: number) {
    const hint = errno === E.EPERM || errno === E.EACCES ? "; are you root?" : "";
    super(`${call}: ${errnoName(errno)} (${sys.strerror(errno) as string}${hint})`);
    this.name = "SysError";
    this.code = errnoName(errno);
  }
}

/** Return `ret`, or throw a SysError naming `call` if it is negative (the libc failure convention). */
export function check(call: string, ret: number): number {
  if (ret < 0) throw new SysError(call, errno());
  return ret;
}

/** Native memory from koffi.alloc with views over it: for the kernel structures (iovec, mmsghdr,
 *  pollfd, sockaddr) the hot loops fill in place and reuse across calls. Zeroed. */
export class NativeBlock {
  readonly ptr: bigint;
  readonly address: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  private freed = false;

  constructor(readonly size: number) {
    this.ptr = koffi.alloc("uint8_t", size) as bigint;
    this.address = Number(this.ptr);
    const ab = koffi.view(this.ptr, size);
    this.u8 = new Uint8Array(ab);
    this.u16 = new Uint16Array(ab);
    this.u32 = new Uint32Array(ab);
    this.u8.fill(0);
  }

  /** BigInt address of byte `offset` (compute once, outside hot loops). */
  at(offset: number): bigint { return this.ptr + BigInt(offset); }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.ptr);
  }
}

/** Store a 64-bit address at byte offset `off` (8-aligned) of `u32` without a BigInt. */
export function putPointer(u32: Uint32Array, off: number, address: number): void {
  u32[off >> 2] = address >>> 0;
  u32[(off >> 2) + 1] = (address / 0x1_0000_0000) >>> 0;
}

/** Address of byte 0 of a shared WebAssembly.Memory. A shared memory never moves (the engine reserves
 *  its maximum up front), so the address stays valid after memory.grow(). */
export function memoryAddress(memory: WebAssembly.Memory): number {
  return Number(koffi.address(new Uint8Array(memory.buffer)));
}

/** Kernel structure layouts, from koffi's C layout rules for this ABI. */
const iovec = koffi.struct({ iov_base: "void *", iov_len: "size_t" });
const msghdr = koffi.struct({
  msg_name: "void *", msg_namelen: "uint32_t", msg_iov: "void *", msg_iovlen: "size_t",
  msg_control: "void *", msg_controllen: "size_t", msg_flags: "int",
});
const mmsghdr = koffi.struct({ msg_hdr: msghdr, msg_len: "uint32_t" });

export const LAYOUT = {
  IOV_SIZE: koffi.sizeof(iovec),
  IOV_BASE: koffi.offsetof(iovec, "iov_base"),
  IOV_LEN: koffi.offsetof(iovec, "iov_len"),
  MMSG_SIZE: koffi.sizeof(mmsghdr),
  MSG_NAME: koffi.offsetof(msghdr, "msg_name"),
  MSG_NAMELEN: koffi.offsetof(msghdr, "msg_namelen"),
  MSG_IOV: koffi.offsetof(msghdr, "msg_iov"),
  MSG_IOVLEN: koffi.offsetof(msghdr, "msg_iovlen"),
  MSG_FLAGS: koffi.offsetof(msghdr, "msg_flags"),
  MSG_CONTROL: koffi.offsetof(msghdr, "msg_control"),
  MSG_CONTROLLEN: koffi.offsetof(msghdr, "msg_controllen"),
  /** struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type; the data follows, size_t-aligned. */
  CMSG_HDR: koffi.sizeof("size_t") + 8,
  CMSG_ALIGN: koffi.sizeof("size_t"),
  MSG_LEN: koffi.offsetof(mmsghdr, "msg_len"),
  /** sockaddr_in6 is the largest address the sockets use (28 bytes), rounded up for alignment. */
  SOCKADDR_SIZE: 32,
  POLLFD_SIZE: 8,
} as const;
