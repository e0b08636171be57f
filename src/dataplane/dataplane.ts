// The data plane as the control plane and the I/O workers see it: one shared WebAssembly.Memory holding
// the SA database and the batch buffers, the WASM instance that processes batches, and the crypto backend.
import { createMemory, instantiate, compileDataPlane, type RawExports } from "./wasm.js";
import { readLayout, type Layout } from "./layout.js";
import { SharedViews } from "./memory.js";
import { SaDatabase } from "./sadb.js";
import { PacketBatch } from "./batch.js";
import { Spd } from "./spd.js";
import { createBackend, type BackendName, type CryptoBackend } from "../crypto/index.js";

export interface DataPlaneOptions {
  /** SA records to reserve (inbound + outbound). Default 1024. */
  maxSAs?: number;
  /** Crypto backend: "wasm" (default), "node", "noble" or "auto". */
  backend?: BackendName;
  /** For "auto": ESP payload size from which node:crypto is used. */
  autoThreshold?: number;
}

/** What a worker thread needs to attach to a data plane created elsewhere. */
export interface DataPlaneHandle { memory: WebAssembly.Memory; module: WebAssembly.Module }

export class DataPlane {
  readonly ex: RawExports;
  readonly L: Layout;
  readonly views: SharedViews;
  readonly sadb: SaDatabase;
  backend: CryptoBackend;
  private spdInstance?: Spd;

  private constructor(readonly memory: WebAssembly.Memory, readonly module: WebAssembly.Module,
                      opts: DataPlaneOptions) {
    const inst = instantiate(memory, module);
    this.ex = inst.exports;
    this.L = readLayout(this.ex);
    this.views = new SharedViews(memory);
    if ((this.ex.dpAttach() as number) === 0) throw new Error("shared memory holds no data-plane layout of this version");
    this.sadb = new SaDatabase(this.ex, this.L, this.views, this.ex.saCapacity() as number);
    this.backend = createBackend(opts.backend ?? "wasm", this.ex, opts.autoThreshold);
  }

  /** Create a data plane: a fresh shared memory, formatted for maxSAs. */
  static create(opts: DataPlaneOptions = {}): DataPlane {
    const maxSAs = opts.maxSAs ?? 1024;
    if (!Number.isInteger(maxSAs) || maxSAs < 1 || maxSAs > 1_000_000) {
      throw new RangeError(`maxSAs must be an integer in 1..1000000, got ${maxSAs}`);
    }
    const module = compileDataPlane();
    const memory = createMemory(64);
    const probe = instantiate(memory, module).exports;
    const views = new SharedViews(memory);
    views.ensure(probe.dpLayoutEnd(maxSAs) as number);
    const arena = probe.dpFormat(maxSAs) as number;
    if (arena === 0) throw new Error("data plane could not format its memory");
    return new DataPlane(memory, module, opts);
  }

  /** Attach (e.g. in a worker) to a data plane created by DataPlane.create in another thread. */
  static attach(h: DataPlaneHandle, opts: DataPlaneOptions = {}): DataPlane {
    return new DataPlane(h.memory, h.module, opts);
  }

  get handle(): DataPlaneHandle { return { memory: this.memory, module: this.module }; }

  setBackend(name: BackendName, autoThreshold?: number): void {
    this.backend = createBackend(name, this.ex, autoThreshold);
  }

  /** Reserve bytes in the shared memory for batch buffers. Safe from any thread: the bump pointer
   *  lives in the shared header. Arenas are never freed (batches live as long as their worker). */
  allocate(bytes: number, align = 64): number {
    const slot = (this.ex.layoutBase() + this.L.HDR_ARENA_NEXT) >> 2;
    for (;;) {
      const u32 = this.views.refresh().u32;
      const cur = Atomics.load(u32, slot);
      const off = Math.ceil(cur / align) * align;
      const next = off + bytes;
      if (next > 2 ** 32 - 1) throw new RangeError("data plane arena exhausted");
      if (Atomics.compareExchange(u32, slot, cur, next) === cur) {
        this.views.ensure(next);
        return off;
      }
    }
  }

  batch(capacity: number, slotSize = 2048): PacketBatch {
    return new PacketBatch(this, capacity, slotSize);
  }

  /** The outbound Security Policy Database (its shared-memory region is created by the first set()). */
  get spd(): Spd { return (this.spdInstance ??= new Spd(this)); }

  saAddress(handle: number): number { return this.ex.saAddress(handle) as number; }

  /** Bytes of shared memory in use (layout + arenas). */
  get memoryBytes(): number { return this.memory.buffer.byteLength; }
}
