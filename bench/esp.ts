// `npm run bench [-- --quick]`: ESP tunnel-mode encapsulation and decapsulation throughput per crypto
// backend and packet size, anti-replay checks, and the wasm/node crossover, measured side by side on one
// core. Writes benny's charts and summaries and bench/results/esp.json (one record per measurement).
import { DataPlane } from "../src/dataplane/dataplane.js";
import { createBackend, DEFAULT_AUTO_THRESHOLD, type BackendName, type CryptoBackend } from "../src/crypto/index.js";
import { parseBenchArgs } from "./lib/args.js";
import { BATCH, REPLAY_WINDOW, EspFixture } from "./lib/fixture.js";
import { runSuite, gbps, type Case, type Timing } from "./lib/suite.js";
import { writeRecords, type EspRecord, type Op } from "./lib/records.js";
import { printTable, printTargets, printCrossover, printReplay } from "./lib/report.js";
import { runReplaySuite } from "./replay.js";
import { runAhSuite, printAh } from "./ah.js";

/** Extra sizes, wasm and node only, to locate where node:crypto overtakes the WASM cipher. */
const SWEEP_SIZES = [1024, 1536, 2048, 3072, 4096, 6144];
const OPS: Op[] = ["encap", "decap"];

const args = parseBenchArgs();
const timing: Timing = args.quick ? { minSamples: 3, maxTime: 0.12, rounds: 2 } : { minSamples: 5, maxTime: 0.5, rounds: 3 };
const sweepTiming: Timing = args.quick ? { minSamples: 2, maxTime: 0.05, rounds: 2 } : { minSamples: 4, maxTime: 0.2, rounds: 3 };

const dp = DataPlane.create({ maxSAs: 2 * (args.sizes.length + SWEEP_SIZES.length) }); // an out and an in SA per size
const backends = new Map<BackendName, CryptoBackend>(args.backends.map((n) => [n, createBackend(n, dp.ex)]));
let nextSpi = 0x1000;
const fixtures = args.sizes.map((size) => new EspFixture(dp, size, nextSpi++));
const sweepBackends = (["wasm", "node"] as const).filter((n) => backends.has(n));
const sweep = sweepBackends.length === 2
  ? SWEEP_SIZES.filter((s) => !args.sizes.includes(s)).map((size) => new EspFixture(dp, size, nextSpi++)) : [];

// Every backend must produce packets node:crypto opens, and open the oracle's, before anything is timed.
for (const fx of fixtures) for (const be of backends.values()) fx.verify(be);
for (const fx of sweep) for (const n of sweepBackends) fx.verify(backends.get(n)!);

function espCase(fx: EspFixture, op: Op, be: CryptoBackend, name: string): Case {
  const run = op === "encap" ? () => fx.encap() : () => fx.decap();
  return { name, units: BATCH, bytes: fx.size, fn: () => { dp.backend = be; run(); } };
}

function toRecord(suite: EspRecord["suite"], fx: EspFixture, op: Op, backend: BackendName,
                  m: { perSec: number; rme: number; samples: number }): EspRecord {
  return {
    suite, op, backend, size: fx.size, pps: Math.round(m.perSec), gbps: Number(gbps(m.perSec, fx.size).toFixed(4)),
    rme: m.rme, samples: m.samples,
  };
}

function assertClean(list: EspFixture[]): void {
  const bad = list.filter((fx) => fx.failures !== 0);
  if (bad.length) throw new Error(`measured batches failed at ${bad.map((fx) => `${fx.size} B (${fx.failures})`).join(", ")}`);
}

console.log(`ESP tunnel mode, AES-128-GCM, 16-byte ICV; inner IPv4/UDP packets; ${BATCH}-packet batches, one per iteration; one thread.`);
console.log(`Each iteration restores its batch from a pristine copy in WASM memory (encap and decap work in place);`);
console.log(`decap keeps anti-replay on (window ${REPLAY_WINDOW}) and resets the SA's window state once per batch so the same`);
console.log(`oracle-built ESP packets (sequence 1..${BATCH}) are new again. Every measured batch is checked to succeed in full.`);
console.log(`Each suite runs ${timing.rounds} rounds over its cases; rates are the median of the pooled samples`);
console.log(`(benny's charts show the last round's mean, in batches/s).`);
if (args.quick) console.log("--quick: short sampling, figures are rough.");

const esp: EspRecord[] = [];
for (const fx of fixtures) {
  const cases: Case[] = [];
  const keys: [Op, BackendName][] = [];
  for (const op of OPS) for (const [name, be] of backends) {
    cases.push(espCase(fx, op, be, `${name} ${op}`));
    keys.push([op, name]);
  }
  console.log(`\n${fx.size} B packets`);
  const m = await runSuite(`ESP ${fx.size} B (${BATCH}-packet batches)`, `esp-${fx.size}B`, cases, timing);
  m.forEach((r, i) => esp.push(toRecord("esp", fx, keys[i][0], keys[i][1], r)));
}
assertClean(fixtures);

if (sweep.length) {
  const cases: Case[] = [];
  const keys: [EspFixture, Op, BackendName][] = [];
  for (const fx of sweep) for (const op of OPS) for (const n of sweepBackends) {
    cases.push(espCase(fx, op, backends.get(n)!, `${n} ${op} ${fx.size} B`));
    keys.push([fx, op, n]);
  }
  console.log(`\nCrossover sweep, wasm and node, ${sweep.map((fx) => fx.size).join(", ")} B`);
  const m = await runSuite("ESP crossover sweep", "esp-crossover", cases, sweepTiming);
  m.forEach((r, i) => esp.push(toRecord("crossover", keys[i][0], keys[i][1], keys[i][2], r)));
  assertClean(sweep);
}

const smallest = fixtures.reduce((a, b) => (b.size < a.size ? b : a));
const replayBackend = backends.get("wasm") ?? backends.values().next().value!;
const replay = await runReplaySuite(dp, smallest, replayBackend, timing);

const ah = await runAhSuite(args.sizes, timing);

const file = writeRecords("esp.json", [...esp, ...replay, ...ah]);
printTable(esp.filter((r) => r.suite === "esp"), args.sizes, args.backends);
printTargets(esp);
printCrossover(esp, DEFAULT_AUTO_THRESHOLD);
printReplay(replay);
printAh(ah, esp, args.sizes);
console.log(`\nWrote ${file}; benny's charts and summaries are the benny-*.chart.html and benny-*.json beside it.`);
