// Many reads on one descriptor with one system call, through a minimal io_uring (Linux 5.18+). A TUN device
// has no batched read (recvmmsg() is for sockets), so a stream of small packets otherwise costs one readv()
// and one JavaScript→C call per packet, the biggest share of the encap thread's time. Here up to `entries`
// READ requests, each into its own buffer, go in with one io_uring_enter() and their results come back from
// the completion ring. The descriptor must be O_NONBLOCK: a read that finds nothing then completes at once
// with -EAGAIN (the kernel arms no poll for it), so when the call returns every request is done and no
// buffer is left in the kernel's hands. The requests run in order, each as a read() would.
import koffi from "koffi";
import { E, SysError, errno, putPointer, sys } from "./libc.js";

// io_uring_setup and io_uring_enter have these numbers on every architecture (the unified syscall table).
const NR_SETUP = 425, NR_ENTER = 426;
const lib = koffi.load("libc.so.6");
const uringSetup = lib.func("long syscall(long nr, uint32_t entries, void *params)");
const uringEnter = lib.func("long syscall(long nr, int fd, uint32_t submit, uint32_t wait, uint32_t flags, void *sig, size_t sigsz)");

const SETUP_SUBMIT_ALL = 1 << 7;      // a failing request does not stop the others (5.18)
const FEAT_SINGLE_MMAP = 1 << 0;      // both rings in one mapping (5.4)
const ENTER_GETEVENTS = 1 << 0;
const OP_READ = 22;
const RWF_NOWAIT = 0x8;
const OFF_SQ_RING = 0, OFF_SQES = 0x10000000;
const PROT_READ_WRITE = 3, MAP_SHARED = 1, MAP_POPULATE = 0x8000;
const SQE_SIZE = 64, CQE_SIZE = 16;
// struct io_uring_params (120 bytes): the offsets of the ring fields are at 40 (sq_off) and 80 (cq_off).
const P_SQ_ENTRIES = 0, P_CQ_ENTRIES = 4, P_FLAGS = 8, P_FEATURES = 20;
const SQ_HEAD = 40, SQ_TAIL = 44, SQ_MASK = 48, SQ_ARRAY = 64;
const CQ_HEAD = 80, CQ_TAIL = 84, CQ_MASK = 88, CQ_CQES = 100;

interface Mapping { ptr: bigint; size: number }

function map(fd: number, size: number, offset: number): Mapping {
  const ptr = sys.mmap(null, size, PROT_READ_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset) as bigint;
  if (ptr === 0xffffffffffffffffn) throw new SysError("mmap(io_uring)", errno());
  return { ptr, size };
}

export class UringReader {
  /** Result of request j of the last submit(): bytes read, or -errno (-EAGAIN: nothing was there). */
  readonly results: Int32Array;
  private readonly sqes: Uint32Array;
  private readonly sqTail: Uint32Array;
  private readonly cqHead: Uint32Array;
  private readonly cqTail: Uint32Array;
  private readonly cqes: Int32Array;
  private readonly sqMask: number;
  private readonly cqMask: number;
  private tail = 0;
  private head = 0;
  /** RWF_NOWAIT: a file the kernel can read without blocking (FMODE_NOWAIT) would otherwise have a read that
   *  finds nothing wait for data, O_NONBLOCK or not; a file without it refuses the flag (EOPNOTSUPP), and
   *  there O_NONBLOCK is what keeps the reads from waiting. */
  private rwFlags = RWF_NOWAIT;
  private closed = false;

  private constructor(private readonly ringFd: number, readonly entries: number, params: Uint32Array,
                      private readonly rings: Mapping, private readonly sqeMap: Mapping) {
    const ring = koffi.view(rings.ptr, rings.size) as ArrayBuffer;
    this.sqes = new Uint32Array(koffi.view(sqeMap.ptr, sqeMap.size) as ArrayBuffer);
    const u32 = new Uint32Array(ring);
    this.sqTail = u32.subarray(params[SQ_TAIL >> 2] >> 2, (params[SQ_TAIL >> 2] >> 2) + 1);
    this.cqHead = u32.subarray(params[CQ_HEAD >> 2] >> 2, (params[CQ_HEAD >> 2] >> 2) + 1);
    this.cqTail = u32.subarray(params[CQ_TAIL >> 2] >> 2, (params[CQ_TAIL >> 2] >> 2) + 1);
    this.sqMask = u32[params[SQ_MASK >> 2] >> 2];
    this.cqMask = u32[params[CQ_MASK >> 2] >> 2];
    this.cqes = new Int32Array(ring, params[CQ_CQES >> 2]);
    this.tail = this.sqTail[0];
    this.head = this.cqHead[0];
    // Submission queue entry i always sits in array slot i: the indirection is set up once.
    const array = params[SQ_ARRAY >> 2] >> 2;
    for (let i = 0; i <= this.sqMask; i++) u32[array + i] = i;
    this.results = new Int32Array(entries);
  }

  /** A ring for up to `entries` requests per submit(), or undefined if this kernel has no usable io_uring
   *  (older than 5.18, or io_uring disabled: kernel.io_uring_disabled, a seccomp filter). */
  static open(entries: number): UringReader | undefined {
    if (!Number.isInteger(entries) || entries < 1 || entries > 4096) throw new RangeError(`io_uring entries must be 1..4096, got ${entries}`);
    const params = new Uint32Array(30);
    params[P_FLAGS >> 2] = SETUP_SUBMIT_ALL;
    const fd = Number(uringSetup(NR_SETUP, entries, params));
    if (fd < 0) return undefined;
    try {
      if ((params[P_FEATURES >> 2] & FEAT_SINGLE_MMAP) === 0) { sys.close(fd); return undefined; }
      const sqEntries = params[P_SQ_ENTRIES >> 2], cqEntries = params[P_CQ_ENTRIES >> 2];
      const size = Math.max(params[SQ_ARRAY >> 2] + sqEntries * 4, params[CQ_CQES >> 2] + cqEntries * CQE_SIZE);
      const rings = map(fd, size, OFF_SQ_RING);
      let sqes: Mapping;
      try {
        sqes = map(fd, sqEntries * SQE_SIZE, OFF_SQES);
      } catch (e) {
        sys.munmap(rings.ptr, rings.size);
        throw e;
      }
      return new UringReader(fd, Math.min(entries, sqEntries), params, rings, sqes);
    } catch (e) {
      sys.close(fd);
      throw e;
    }
  }

  /**
   * Read from `fd` into count buffers (request j: `length` bytes at base + j * stride) and wait for all of
   * them; results[j] says what each got. Returns how many read something.
   */
  submit(fd: number, count: number, base: number, stride: number, length: number): number {
    if (count < 1 || count > this.entries) throw new RangeError(`1..${this.entries} requests per submit, got ${count}`);
    const q = this.sqes;
    for (let j = 0; j < count; j++) {
      const e = (((this.tail + j) & this.sqMask) * SQE_SIZE) >> 2;
      q.fill(0, e, e + (SQE_SIZE >> 2));
      q[e] = OP_READ;          // opcode; flags and ioprio 0
      q[e + 1] = fd;
      putPointer(q, (e + 4) << 2, base + j * stride); // addr (the offset, at 8, stays 0: a device ignores it)
      q[e + 6] = length;
      q[e + 7] = this.rwFlags;
      q[e + 8] = j;            // user_data
    }
    this.tail = (this.tail + count) >>> 0;
    Atomics.store(this.sqTail, 0, this.tail);
    let submitted = 0, done = 0, got = 0;
    while (done < count) {
      const r = Number(uringEnter(NR_ENTER, this.ringFd, count - submitted, count - done, ENTER_GETEVENTS, null, 0));
      if (r < 0) {
        const e = errno();
        if (e !== E.EINTR && e !== E.EAGAIN && e !== E.EBUSY) throw new SysError("io_uring_enter", e);
      } else {
        submitted += r;
      }
      // Completions: user_data (low word) names the request, res its result.
      const tail = Atomics.load(this.cqTail, 0);
      for (; this.head !== tail; this.head = (this.head + 1) >>> 0) {
        const c = ((this.head & this.cqMask) * CQE_SIZE) >> 2;
        const res = this.cqes[c + 2];
        this.results[this.cqes[c]] = res;
        if (res > 0) got++;
        done++;
      }
      Atomics.store(this.cqHead, 0, this.head);
    }
    if (this.rwFlags !== 0 && this.results[0] === -E.EOPNOTSUPP) {
      this.rwFlags = 0;
      return this.submit(fd, count, base, stride, length);
    }
    return got;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys.munmap(this.sqeMap.ptr, this.sqeMap.size);
    sys.munmap(this.rings.ptr, this.rings.size);
    sys.close(this.ringFd);
  }
}
