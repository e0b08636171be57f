// Segmentation and coalescing for the TUN device with a virtio_net_hdr (assembly/offload.ts does the work
// in WASM): the staging area a TCP or UDP super-packet is read into and split from, and the plan of writes that
// coalesce runs of a TCP or UDP flow. No packet byte passes through JavaScript.
import type { DataPlane } from "./dataplane.js";
import { HEADROOM, type PacketBatch } from "./batch.js";
import { constant } from "./wasm.js";

/** Bytes of a super-packet beyond the first slot: the largest IP packet (64 KB) fits in slot + overflow. */
export const OVERFLOW_BYTES = 65536;

export interface TsoStats {
  /** TCP or UDP super-packets (GSO) read and split into segments or datagrams. */
  superPackets: number;
  /** Packets without GSO longer than a slot. */
  truncated: number;
  /** Malformed virtio_net_hdr or super-packets: dropped. */
  malformed: number;
}

/**
 * Reading into one batch from a TUN device with a virtio_net_hdr: packet i is read with its header at
 * slotOffset(i) - VNET_HDR_LEN, its first maxPacket bytes into the slot and the rest into `overflow`. A
 * super-packet is split into consecutive slots; what does not fit waits for the next batch.
 */
export class TsoReader {
  /** Where the bytes of a packet beyond the slot's maxPacket go (the read's second iovec). */
  readonly overflow: number;
  private readonly staging: number;
  private readonly stagingData: number;
  private readonly truncatedCode: number;
  private len = 0;
  private next = 0;
  private total = 0;

  constructor(private readonly dp: DataPlane, private readonly batch: PacketBatch,
              readonly stats: TsoStats = { superPackets: 0, truncated: 0, malformed: 0 }) {
    const ex = dp.ex;
    this.stagingData = constant(ex, "STAGING_DATA");
    this.truncatedCode = constant(ex, "TSO_TRUNCATED");
    this.staging = dp.allocate(this.stagingData + batch.maxPacket + OVERFLOW_BYTES);
    this.overflow = this.staging + this.stagingData + batch.maxPacket;
  }

  /** Whether segments of a super-packet wait for slots. */
  get pending(): boolean { return this.next < this.total; }

  /**
   * Packet i of the batch was read, `len` bytes after its header. Returns how many slots from i on it
   * filled (0: dropped, counted in stats). Call resume() on the next slots while `pending`.
   */
  accept(i: number, len: number): number {
    const b = this.batch;
    const r = this.dp.ex.tsoRead(b.slotOffset(i), len, b.maxPacket, this.staging) as number;
    if (r === 0) { b.set(i, len, 0); return 1; }
    if (r < 0) {
      if (r === this.truncatedCode) this.stats.truncated++; else this.stats.malformed++;
      return 0;
    }
    this.stats.superPackets++;
    this.len = len;
    this.next = 0;
    this.total = r;
    return this.resume(i);
  }

  /** Split waiting segments into slots i.. (as many as the batch has room for). Returns how many. */
  resume(i: number): number {
    const b = this.batch;
    const k = Math.min(b.capacity - i, this.total - this.next);
    if (k <= 0) return 0;
    this.dp.ex.tsoSplit(this.staging, this.len, this.next, k, b.descOff + i * this.dp.L.DESC_SIZE, b.slotOffset(i), b.slotSize, HEADROOM);
    this.next += k;
    return k;
  }
}

/**
 * Writing a processed batch to a TUN device with a virtio_net_hdr: the data plane groups its OK packets
 * into writes (in-order segments of a TCP flow, or datagrams of a UDP flow, coalesced into one GSO
 * packet; up to 64 flows at once, interleaved or not) and lays out the iovecs of
 * each write in WASM memory, with addresses `base` + offset (base: where the memory is in this process).
 */
export class GroPlan {
  readonly iovOff: number;
  private readonly countsOff: number;
  /** The plan's working memory in WASM (its own: data-plane instances on other threads share the memory). */
  private readonly scratchOff: number;
  private writes = 0;

  constructor(private readonly dp: DataPlane, readonly capacity: number, private readonly base: bigint) {
    this.iovOff = dp.allocate(capacity * 16, 16);
    this.countsOff = dp.allocate(capacity * 4, 4);
    this.scratchOff = dp.allocate(dp.ex.groScratchSize(capacity) as number, 4);
  }

  /** Plan the writes of `batch` (count ≤ capacity). Returns how many. */
  plan(batch: PacketBatch): number {
    if (batch.count > this.capacity) throw new RangeError(`batch of ${batch.count} packets, plan of ${this.capacity}`);
    this.writes = this.dp.ex.groPlan(batch.descOff, batch.count, this.iovOff, this.countsOff, this.base, this.scratchOff) as number;
    return this.writes;
  }

  /** Iovecs (= packets of the batch) of write w. */
  iovecs(w: number): number { return this.dp.views.u32[(this.countsOff >> 2) + w]; }
}
