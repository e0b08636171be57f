// AH benchmarks, run by `npm run bench` after ESP's: tunnel-mode encapsulation and decapsulation (IPv4 in
// IPv4) per integrity transform and packet size, in batches as ESP's, on one core. AH computes everything
// in WASM, so there is one backend. Records go into bench/results/esp.json with "suite": "ah".
import { randomBytes } from "node:crypto";
import { DataPlane } from "../src/dataplane/dataplane.js";
import type { Integrity } from "../src/dataplane/sadb.js";
import type { PacketBatch } from "../src/dataplane/batch.js";
import { ipv4Packet, v4 } from "../test/helpers/packets.js";
import { oracleAhSeal, oracleVerify, type AhOracleSa } from "../test/helpers/ah-oracle.js";
import { BATCH, REPLAY_WINDOW, Pristine, describe, slotFor } from "./lib/fixture.js";
import { runSuite, gbps, type Case, type Timing } from "./lib/suite.js";
import type { AhRecord, EspRecord, Op } from "./lib/records.js";

const INTEGRITIES: Integrity[] = ["sha256", "sha512", "aes128gmac"];
const KEY_LENGTH: Record<Integrity, number> = { sha256: 32, sha384: 48, sha512: 64, aes128gmac: 20, aes256gmac: 36 };
const LOCAL = "192.0.2.1", REMOTE = "192.0.2.2";

/** One size and transform: an outbound and an inbound SA, a batch of inner packets and one of AH packets
 *  (built by the test oracle, sequence 1..BATCH), each restored from a pristine copy every iteration. */
class AhFixture {
  readonly sa: AhOracleSa;
  readonly inner: Uint8Array[] = [];
  readonly encapBatch: PacketBatch;
  readonly decapBatch: PacketBatch;
  failures = 0;
  private readonly encapCopy: Pristine;
  private readonly decapCopy: Pristine;
  private readonly replayState: number;

  constructor(private readonly dp: DataPlane, readonly size: number, readonly integrity: Integrity, spi: number) {
    this.sa = { spi, integrity, key: randomBytes(KEY_LENGTH[integrity]) };
    const common = { protocol: "ah", spi, mode: "tunnel", integrity, integrityKey: this.sa.key } as const;
    const out = dp.sadb.install({ ...common, direction: "out", local: { address: LOCAL }, remote: { address: REMOTE } });
    const inb = dp.sadb.install({ ...common, direction: "in", replayWindow: REPLAY_WINDOW });
    this.replayState = dp.saAddress(inb) + dp.L.SA_REPLAY;
    this.encapBatch = dp.batch(BATCH, slotFor(size));
    const outer = { version: 4 as const, src: v4(LOCAL), dst: v4(REMOTE) };
    const sealed: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) {
      const p = ipv4Packet({ payloadLen: size - 28 });
      this.inner.push(p);
      this.encapBatch.push(p, out);
      sealed.push(oracleAhSeal(this.sa, BigInt(i + 1), p, "tunnel", { outer }));
    }
    this.decapBatch = dp.batch(BATCH, slotFor(sealed[0].length));
    for (const s of sealed) this.decapBatch.push(s);
    this.encapCopy = new Pristine(dp, this.encapBatch);
    this.decapCopy = new Pristine(dp, this.decapBatch);
  }

  encap(): void {
    this.encapCopy.restore();
    if (this.encapBatch.ahEncap() !== BATCH) this.failures++;
  }

  /** Decapsulate the same AH packets again, after resetting the SA's window so they are new. */
  decap(): void {
    this.decapCopy.restore();
    this.dp.ex.replayInit(this.replayState, REPLAY_WINDOW, 0);
    if (this.decapBatch.ahDecap() !== BATCH) this.failures++;
  }

  /** Before timing: our ICVs verify with the oracle, and the oracle's packets decapsulate to the inner ones. */
  verify(): void {
    const where = `AH ${this.integrity}, ${this.size} B packets`;
    this.encap();
    for (let i = 0; i < BATCH; i++) {
      const st = this.encapBatch.status(i);
      if (st !== 0) throw new Error(`${where}: encap of packet ${i} failed: ${describe(st)}`);
      oracleVerify(this.sa, this.encapBatch.output(i), 0n, true);
    }
    this.decap();
    for (let i = 0; i < BATCH; i++) {
      const st = this.decapBatch.status(i);
      if (st !== 0) throw new Error(`${where}: decap of packet ${i} failed: ${describe(st)}`);
      if (Buffer.compare(this.decapBatch.output(i), this.inner[i]) !== 0) throw new Error(`${where}: decap of packet ${i} is not the inner packet`);
    }
    if (this.failures !== 0) throw new Error(`${where}: a batch did not fully succeed`);
  }
}

export async function runAhSuite(sizes: number[], timing: Timing): Promise<AhRecord[]> {
  const dp = DataPlane.create({ maxSAs: 2 * sizes.length * INTEGRITIES.length });
  let spi = 0x5100;
  const records: AhRecord[] = [];
  console.log(`\nAH tunnel mode (IPv4 in IPv4), ${INTEGRITIES.join(", ")}; same batches and method as ESP.`);
  for (const size of sizes) {
    const fixtures = INTEGRITIES.map((integrity) => new AhFixture(dp, size, integrity, spi++));
    for (const fx of fixtures) fx.verify();
    const cases: Case[] = [];
    const keys: [AhFixture, Op][] = [];
    for (const fx of fixtures) {
      for (const op of ["encap", "decap"] as const) {
        cases.push({ name: `ah ${fx.integrity} ${op}`, units: BATCH, bytes: size, fn: op === "encap" ? () => fx.encap() : () => fx.decap() });
        keys.push([fx, op]);
      }
    }
    console.log(`\n${size} B packets`);
    const m = await runSuite(`AH ${size} B (${BATCH}-packet batches)`, `ah-${size}B`, cases, timing);
    m.forEach((r, i) => records.push({
      suite: "ah", op: keys[i][1], backend: "wasm", integrity: keys[i][0].integrity, size,
      pps: Math.round(r.perSec), gbps: Number(gbps(r.perSec, size).toFixed(4)), rme: r.rme, samples: r.samples,
    }));
    const bad = fixtures.filter((fx) => fx.failures !== 0);
    if (bad.length) throw new Error(`AH measured batches failed at ${size} B: ${bad.map((fx) => fx.integrity).join(", ")}`);
  }
  return records;
}

/** AH beside ESP (AES-128-GCM, wasm backend), in Mpps per size and op. */
export function printAh(ah: AhRecord[], esp: EspRecord[], sizes: number[]): void {
  console.log("\nAH (tunnel) vs ESP (AES-128-GCM, wasm), Mpps:");
  console.log(`  ${"size".padStart(6)}  ${"op".padEnd(6)}${[...INTEGRITIES, "esp"].map((n) => n.padStart(12)).join("")}`);
  for (const size of sizes) {
    for (const op of ["encap", "decap"] as const) {
      const cells = INTEGRITIES.map((n) => ah.find((r) => r.integrity === n && r.op === op && r.size === size));
      const e = esp.find((r) => r.suite === "esp" && r.backend === "wasm" && r.op === op && r.size === size);
      const fmt = (pps?: number) => (pps === undefined ? "-" : (pps / 1e6).toFixed(3)).padStart(12);
      console.log(`  ${`${size} B`.padStart(6)}  ${op.padEnd(6)}${cells.map((r) => fmt(r?.pps)).join("")}${fmt(e?.pps)}`);
    }
  }
}
