// One packet size's benchmark fixture: an outbound and an inbound tunnel-mode SA, a batch of inner
// IPv4/UDP packets to encapsulate and a batch of ESP packets to decapsulate, each with a pristine copy
// in WASM memory. Every iteration first restores its batch from the copy (one memcpy inside the shared
// memory, what the I/O layer's receive does anyway), because encap and decap both work in place.
import { randomBytes } from "node:crypto";
import type { DataPlane } from "../../src/dataplane/dataplane.js";
import { HEADROOM, TAILROOM, type PacketBatch } from "../../src/dataplane/batch.js";
import { DROP_REASONS } from "../../src/dataplane/layout.js";
import type { CryptoBackend } from "../../src/crypto/backend.js";
import { ipv4Packet } from "../../test/helpers/packets.js";
import { oracleOpen, oracleSeal, type OracleSa } from "../../test/helpers/esp-oracle.js";

/** Packets per batch: one benchmark iteration. */
export const BATCH = 64;
/** Anti-replay window of the inbound SA (checked and updated on every measured decap). */
export const REPLAY_WINDOW = 1024;
const ICV = 16;
const NH_IPV4 = 4;

/** Smallest slot (a multiple of 64) that holds a packet of `len` bytes plus the batch head- and tailroom. */
export function slotFor(len: number): number { return Math.ceil((len + HEADROOM + TAILROOM) / 64) * 64; }

export function describe(status: number): string { return `status ${status} (${DROP_REASONS[status] ?? "unknown"})`; }

/** Copy of a batch's slots kept elsewhere in WASM memory. */
export class Pristine {
  private readonly off: number;
  private readonly bytes: number;
  constructor(private readonly dp: DataPlane, private readonly batch: PacketBatch) {
    this.bytes = batch.capacity * batch.slotSize;
    this.off = dp.allocate(this.bytes);
    dp.views.u8.copyWithin(this.off, batch.slotsOff, batch.slotsOff + this.bytes);
  }
  restore(): void { this.dp.views.u8.copyWithin(this.batch.slotsOff, this.off, this.off + this.bytes); }
}

export class EspFixture {
  readonly sa: OracleSa;
  readonly inner: Uint8Array[] = [];
  readonly encapBatch: PacketBatch;
  readonly decapBatch: PacketBatch;
  /** Iterations whose batch did not fully succeed (must stay 0). */
  failures = 0;
  /** Anti-replay window the inbound SA's state is reset to before each decap (0 = disabled). */
  replayWindow = REPLAY_WINDOW;
  private readonly encapCopy: Pristine;
  private readonly decapCopy: Pristine;
  private readonly replayState: number;

  constructor(private readonly dp: DataPlane, readonly size: number, spi: number) {
    this.sa = { spi, key: randomBytes(16), salt: randomBytes(4), icv: ICV };
    const { key, salt } = this.sa;
    const out = dp.sadb.install({ spi, direction: "out", mode: "tunnel", key, salt, icvLength: ICV });
    const inb = dp.sadb.install({ spi, direction: "in", mode: "tunnel", key, salt, icvLength: ICV, replayWindow: REPLAY_WINDOW });
    this.replayState = dp.saAddress(inb) + dp.L.SA_REPLAY;

    this.encapBatch = dp.batch(BATCH, slotFor(size));
    // The ESP packets are built by the test oracle (node:crypto, none of the product's code), sequence 1..BATCH.
    const esp = [];
    for (let i = 0; i < BATCH; i++) {
      const p = ipv4Packet({ payloadLen: size - 28 });
      this.inner.push(p);
      this.encapBatch.push(p, out);
      esp.push(oracleSeal(this.sa, BigInt(i + 1), p, NH_IPV4));
    }
    this.decapBatch = dp.batch(BATCH, slotFor(esp[0].length));
    for (const e of esp) this.decapBatch.push(e);
    this.encapCopy = new Pristine(dp, this.encapBatch);
    this.decapCopy = new Pristine(dp, this.decapBatch);
  }

  /** One iteration: encapsulate a batch. */
  encap(): void {
    this.encapCopy.restore();
    if (this.encapBatch.encap() !== BATCH) this.failures++;
  }

  /** One iteration: decapsulate a batch of the same ESP packets, after resetting the SA's anti-replay state
   *  (one call per batch) so that their sequence numbers are new again. */
  decap(): void {
    this.decapCopy.restore();
    this.dp.ex.replayInit(this.replayState, this.replayWindow, 0);
    if (this.decapBatch.decap() !== BATCH) this.failures++;
  }

  /** Check a backend end to end before it is measured: its ESP packets open with node:crypto and carry
   *  the inner packets; its decapsulation of the oracle's packets returns them. Throws otherwise. */
  verify(backend: CryptoBackend): void {
    const where = `${backend.name} backend, ${this.size} B packets`;
    this.dp.backend = backend;
    const before = this.failures;
    this.encap();
    for (let i = 0; i < BATCH; i++) {
      const st = this.encapBatch.status(i);
      if (st !== this.dp.L.ST_OK) throw new Error(`${where}: encap of packet ${i} failed: ${describe(st)}`);
      let opened;
      try {
        opened = oracleOpen(this.sa, this.encapBatch.output(i));
      } catch (e) {
        throw new Error(`${where}: ESP packet ${i} does not open with node:crypto (${(e as Error).message})`);
      }
      if (opened.nextHeader !== NH_IPV4 || Buffer.compare(opened.payload, this.inner[i]) !== 0) {
        throw new Error(`${where}: ESP packet ${i} does not carry the inner packet`);
      }
    }
    this.decap();
    for (let i = 0; i < BATCH; i++) {
      const st = this.decapBatch.status(i);
      if (st !== this.dp.L.ST_OK) throw new Error(`${where}: decap of packet ${i} failed: ${describe(st)}`);
      if (Buffer.compare(this.decapBatch.output(i), this.inner[i]) !== 0) {
        throw new Error(`${where}: decap of packet ${i} does not return the inner packet`);
      }
    }
    if (this.failures !== before) throw new Error(`${where}: a batch did not fully succeed`);
  }
}
