// Views over the shared WebAssembly.Memory that follow its growth, and the arena where batch buffers live.
import { PAGE, MAX_PAGES } from "./wasm.js";

export class SharedViews {
  private buf: ArrayBufferLike;
  u8: Uint8Array;
  u32: Uint32Array;
  dv: DataView;
  big: BigUint64Array;

  constructor(readonly memory: WebAssembly.Memory) {
    this.buf = memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.dv = new DataView(this.buf);
    this.big = new BigUint64Array(this.buf);
  }

  /** Re-create the views if the memory grew (possibly from another thread). */
  refresh(): this {
    const b = this.memory.buffer;
    if (b.byteLength !== this.buf.byteLength) {
      this.buf = b;
      this.u8 = new Uint8Array(b);
      this.u32 = new Uint32Array(b);
      this.dv = new DataView(b);
      this.big = new BigUint64Array(b);
    }
    return this;
  }

  /** Grow the memory so that `end` bytes are addressable. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new RangeError(`data plane memory would exceed ${MAX_PAGES * PAGE / 2 ** 30} GiB (needs ${end} bytes)`);
    }
    this.memory.grow(pages);
    this.refresh();
  }
}
