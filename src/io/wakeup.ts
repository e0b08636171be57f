// Stopping a worker thread that may be blocked in poll(): worker.terminate() cannot interrupt a blocking
// syscall, so every wait also polls an eventfd that signal() makes readable (it stays readable until
// clear(), so one signal() reaches every worker). A worker kept busy by traffic never waits: it checks
// `signaled` (a shared flag, no syscall) once per batch instead.
import { sys, C, E, check, errno, SysError, NativeBlock, LAYOUT } from "./libc.js";

/** What a worker needs to adopt a Wakeup (post it in workerData). */
export interface WakeupHandle { fd: number; flag: Int32Array }

export class Wakeup {
  private readonly buf = new BigUint64Array(1);

  private constructor(readonly fd: number, private readonly flag: Int32Array, private readonly owned: boolean) {}

  /** A new eventfd and flag (close() closes the eventfd). */
  static create(): Wakeup {
    const fd = check("eventfd", sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC));
    return new Wakeup(fd, new Int32Array(new SharedArrayBuffer(4)), true);
  }

  /** Use a Wakeup created by another thread of this process (file descriptors are process-wide);
   *  close() leaves the eventfd open for its owner. */
  static adopt(h: WakeupHandle): Wakeup {
    if (!Number.isInteger(h.fd) || h.fd < 0) throw new RangeError(`bad eventfd ${h.fd}`);
    return new Wakeup(h.fd, h.flag, false);
  }

  get handle(): WakeupHandle { return { fd: this.fd, flag: this.flag }; }

  get signaled(): boolean { return Atomics.load(this.flag, 0) !== 0; }

  signal(): void {
    Atomics.store(this.flag, 0, 1);
    this.buf[0] = 1n;
    check("write(eventfd)", sys.write(this.fd, this.buf, 8));
  }

  /** Lower the flag and make the eventfd unreadable again. */
  clear(): void {
    Atomics.store(this.flag, 0, 0);
    if (sys.read(this.fd, this.buf, 8) < 0 && errno() !== E.EAGAIN) throw new SysError("read(eventfd)", errno());
  }

  close(): void { if (this.owned) sys.close(this.fd); }
}

export enum Wait { Timeout = 0, Ready = 1, Woken = 2 }

/** poll() on one or more descriptors plus an optional Wakeup (last), with its pollfd array allocated once. */
export class Poller {
  private readonly block: NativeBlock;
  private readonly nfds: number;
  private readonly hasWakeup: boolean;

  constructor(fds: number | number[], events: number, wakeup?: Wakeup) {
    const all = [...(Array.isArray(fds) ? fds : [fds]), ...(wakeup ? [wakeup.fd] : [])];
    this.block = new NativeBlock(all.length * LAYOUT.POLLFD_SIZE);
    const { u32, u16 } = this.block;
    all.forEach((fd, k) => { u32[2 * k] = fd; u16[4 * k + 2] = wakeup && k === all.length - 1 ? C.POLLIN : events; });
    this.nfds = all.length;
    this.hasWakeup = wakeup !== undefined;
  }

  /** Wait up to timeoutMs (-1: forever). A signal interrupting poll() counts as a timeout. */
  wait(timeoutMs: number): Wait {
    const n = sys.poll(this.block.ptr, this.nfds, timeoutMs);
    if (n < 0) {
      if (errno() === E.EINTR) return Wait.Timeout;
      throw new SysError("poll", errno());
    }
    if (this.hasWakeup && this.block.u16[4 * (this.nfds - 1) + 3] !== 0) return Wait.Woken;
    return n > 0 ? Wait.Ready : Wait.Timeout;
  }

  free(): void { this.block.free(); }
}
