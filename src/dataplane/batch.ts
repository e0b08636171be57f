// A batch of packets in WASM memory: descriptors plus fixed-size slots with head- and tailroom, so
// ESP and AH encapsulation happen in place. The I/O layer writes packets straight into slotOffset(i) (or
// push() copies one in); encap()/decap() is ONE data-plane call for the whole batch, plus, only for
// JavaScript crypto backends, a pass over the packets they handle. encap() takes ESP and AH SAs mixed;
// ahEncap()/ahDecap() are one call each: AH runs entirely in WASM (the crypto backends are ESP-only).
import type { DataPlane } from "./dataplane.js";
import type { CipherJob } from "../crypto/backend.js";

// HEADROOM ≥ ESP header + IV (16), the IPv6 header ESP transport mode rebuilds (40), AH tunnel mode's outer
// IPv6 header + AH with the largest ICV (40 + 48), and the header chain AH transport decapsulation keeps.
export const HEADROOM = 128;
// TAILROOM ≥ ESP padding (3) + pad length + next header + ICV (16); AH: the ESN high half (4) and, in transport
// mode, a copy of the IP header while the ICV is computed.
export const TAILROOM = 64;

export interface PacketResult { status: number; offset: number; length: number; sa: number }

/** recvmmsg()/sendmmsg() take at most UIO_MAXIOV (1024) messages; the encap call's result counts in 16 bits. */
export const MAX_BATCH = 1024;

export class PacketBatch {
  readonly descOff: number;
  readonly slotsOff: number;
  count = 0;
  /** After encap(): packets ahStart..count-1 are AH outputs (ST_OK, whole IP packets for the raw socket),
   *  the packets before it everything else (ESP outputs and every other status). */
  ahStart = 0;
  private readonly scratchOff: number;
  private readonly job: CipherJob;

  constructor(private readonly dp: DataPlane, readonly capacity: number, readonly slotSize = 2048) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BATCH) {
      throw new RangeError(`batch capacity must be an integer in 1..${MAX_BATCH}, got ${capacity}`);
    }
    if (slotSize < HEADROOM + TAILROOM + 64 || slotSize % 64 !== 0 || slotSize > 65536 + HEADROOM + TAILROOM) {
      throw new RangeError(`slot size ${slotSize} must be a multiple of 64 in ${HEADROOM + TAILROOM + 64}..${65536 + HEADROOM + TAILROOM}`);
    }
    this.descOff = dp.allocate(capacity * dp.L.DESC_SIZE);
    this.scratchOff = dp.allocate(capacity * dp.L.DESC_SIZE);
    this.slotsOff = dp.allocate(capacity * slotSize);
    this.job = { mem: dp.views.u8, gcmCtx: 0, keyOff: 0, keyLen: 0, nonceOff: 0, aadOff: 0, aadLen: 0, dataOff: 0, dataLen: 0, icvLen: 0 };
  }

  /** Largest packet a slot takes. */
  get maxPacket(): number { return this.slotSize - HEADROOM - TAILROOM; }

  /** Where packet i's bytes start in memory (the I/O layer reads into here). */
  slotOffset(i: number): number { return this.slotsOff + i * this.slotSize + HEADROOM; }

  clear(): void { this.count = 0; this.ahStart = 0; }

  /** Describe packet i, already written at slotOffset(i). `sa` is the outbound SA handle (encap). */
  set(i: number, length: number, sa = 0): void {
    if (length > this.maxPacket || length < 0) throw new RangeError(`packet of ${length} bytes exceeds the slot (${this.maxPacket})`);
    const L = this.dp.L;
    const u32 = this.dp.views.u32;
    const d = (this.descOff + i * L.DESC_SIZE) >> 2;
    u32[d + (L.D_IN_OFF >> 2)] = this.slotOffset(i);
    u32[d + (L.D_IN_LEN >> 2)] = length;
    u32[d + (L.D_SA >> 2)] = sa;
    u32[d + (L.D_ROOM >> 2)] = HEADROOM | ((this.slotSize - HEADROOM - length) << 16);
  }

  /** Copy a packet into the next slot (tests, benchmarks; the I/O layer writes in place instead). */
  push(packet: Uint8Array, sa = 0): number {
    if (this.count >= this.capacity) throw new RangeError("batch full");
    const i = this.count++;
    this.dp.views.u8.set(packet, this.slotOffset(i));
    this.set(i, packet.length, sa);
    return i;
  }

  /** Encapsulate packets 0..count-1, each with ESP or AH as its SA says (SA_BY_POLICY: the SPD's choice).
   *  Reorders the descriptors when there are AH outputs: see ahStart. Returns the number that succeeded. */
  encap(): number {
    const { dp } = this;
    const backend = dp.backend;
    const r = dp.ex.encapBatch(this.descOff, this.count, backend.wasmBelow, this.scratchOff) as number;
    this.ahStart = this.count - (r >>> 16);
    if ((r & 0xffff) > 0) this.runJs((j) => { backend.seal(j); return true; }, dp.L.ST_OK, dp.L.ST_OK);
    return this.countOk();
  }

  /** ESP-decapsulate packets 0..count-1 (each starts at its SPI). Returns the number that succeeded. */
  decap(): number {
    const { dp } = this;
    const backend = dp.backend;
    const need = dp.ex.espDecapBatch(this.descOff, this.count, backend.wasmBelow) as number;
    if (need > 0) {
      this.runJs((j) => backend.open(j), dp.L.ST_CRYPTO_OK, dp.L.ST_CRYPTO_FAILED);
      dp.ex.espDecapFinish(this.descOff, this.count);
    }
    return this.countOk();
  }

  /** AH-encapsulate packets 0..count-1 in place (IP packets; `sa` an outbound AH SA, no SPD). Each output
   *  is a complete IP packet, outer header included, for a raw IP socket (protocol 51, IP_HDRINCL). Returns
   *  the number that succeeded. */
  ahEncap(): number {
    return this.dp.ex.ahEncapBatch(this.descOff, this.count) as number;
  }

  /** AH-decapsulate packets 0..count-1 (each a complete received IP packet; the SA is found by SPI).
   *  Returns the number that succeeded. */
  ahDecap(): number {
    return this.dp.ex.ahDecapBatch(this.descOff, this.count) as number;
  }

  status(i: number): number { return this.field(i, this.dp.L.D_STATUS); }
  /** SA handle the packet was processed with (decap: the SA its SPI matched; 0xffffffff if none). */
  sa(i: number): number { return this.field(i, this.dp.L.D_SA); }
  outOffset(i: number): number { return this.field(i, this.dp.L.D_OUT_OFF); }
  outLength(i: number): number { return this.field(i, this.dp.L.D_OUT_LEN); }
  /** Zero-copy view of packet i's result (valid until the slot is reused). */
  output(i: number): Uint8Array {
    const off = this.outOffset(i);
    return this.dp.views.u8.subarray(off, off + this.outLength(i));
  }
  result(i: number): PacketResult {
    return { status: this.status(i), offset: this.outOffset(i), length: this.outLength(i), sa: this.sa(i) };
  }

  private field(i: number, off: number): number {
    return this.dp.views.u32[(this.descOff + i * this.dp.L.DESC_SIZE + off) >> 2];
  }

  private countOk(): number {
    let ok = 0;
    for (let i = 0; i < this.count; i++) if (this.status(i) === this.dp.L.ST_OK) ok++;
    return ok;
  }

  // Hand every ST_NEED_CRYPTO packet to the JavaScript backend, then mark it okStatus/failStatus.
  private runJs(op: (j: CipherJob) => boolean, okStatus: number, failStatus: number): void {
    const { L, views } = this.dp;
    const u32 = views.u32;
    const j = this.job;
    j.mem = views.u8;
    for (let i = 0; i < this.count; i++) {
      const d = this.descOff + i * L.DESC_SIZE;
      if (u32[(d + L.D_STATUS) >> 2] !== L.ST_NEED_CRYPTO) continue;
      const sa = this.dp.saAddress(u32[(d + L.D_SA) >> 2]);
      j.gcmCtx = sa + L.SA_GCM;
      j.keyOff = sa + L.SA_KEY;
      j.keyLen = u32[(sa + L.SA_KEY_LEN) >> 2];
      j.icvLen = u32[(sa + L.SA_ICV_LEN) >> 2];
      j.nonceOff = d + L.D_NONCE;
      j.aadOff = d + L.D_AAD;
      j.aadLen = u32[(d + L.D_AAD_LEN) >> 2];
      j.dataOff = u32[(d + L.D_DATA_OFF) >> 2];
      j.dataLen = u32[(d + L.D_DATA_LEN) >> 2];
      u32[(d + L.D_STATUS) >> 2] = op(j) ? okStatus : failStatus;
    }
  }
}
