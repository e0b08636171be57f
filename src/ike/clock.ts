// Time for the IKE engine: real timers in the daemon, a manual clock in tests so exchanges,
// retransmissions and lifetimes run message by message without waiting.
export interface Timer { cancel(): void }

export interface Clock {
  now(): number; // seconds
  schedule(delaySeconds: number, fn: () => void): Timer;
}

// setTimeout fires at once for delays beyond 2^31-1 ms (~24.8 days): longer lifetimes (valid up to
// 2^32-1 s in swanctl.conf) are chained in steps.
const MAX_STEP_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => performance.now() / 1000,
  schedule(delay, fn) {
    let t: NodeJS.Timeout;
    const arm = (ms: number) => {
      t = setTimeout(() => (ms > MAX_STEP_MS ? arm(ms - MAX_STEP_MS) : fn()), Math.min(ms, MAX_STEP_MS));
      t.unref?.();
    };
    arm(Math.max(0, delay * 1000));
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number { return this.t; }
  schedule(delay: number, fn: () => void): Timer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, delay), fn });
    return { cancel: () => { this.timers.delete(id); } };
  }
  /** Advance time, firing due timers in order. */
  advance(seconds: number): void {
    const end = this.t + seconds;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  get pending(): number { return this.timers.size; }
}
