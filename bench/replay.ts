// Anti-replay benchmarks: the data plane's exported window functions called in a loop (so the figures
// include one JS→WASM call per check and per update), and decapsulation with the window on and off.
import type { DataPlane } from "../src/dataplane/dataplane.js";
import type { CryptoBackend } from "../src/crypto/backend.js";
import { BATCH, REPLAY_WINDOW, type EspFixture } from "./lib/fixture.js";
import { runSuite, type Case, type Timing } from "./lib/suite.js";
import type { ReplayRecord } from "./lib/records.js";

const CHECKS = 1024; // sequence numbers per iteration
// Verdicts of assembly/replay.ts.
const REPLAY_OK = 0;
const REPLAY_DUPLICATE = 1;

/** 1..n shuffled within each run of 64: out of order, yet all inside the window, so each is accepted once. */
function reordered(n: number): bigint[] {
  const s = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  for (let base = 0; base < n; base += 64) {
    for (let i = Math.min(base + 63, n - 1); i > base; i--) {
      const j = base + Math.floor(Math.random() * (i - base + 1));
      [s[i], s[j]] = [s[j], s[i]];
    }
  }
  return s;
}

export async function runReplaySuite(dp: DataPlane, fx: EspFixture, backend: CryptoBackend,
                                     timing: Timing): Promise<ReplayRecord[]> {
  const ex = dp.ex;
  const inOrder = Array.from({ length: CHECKS }, (_, i) => BigInt(i + 1));
  const shuffled = reordered(CHECKS);
  const fresh = dp.allocate(dp.L.REPLAY_STATE_SIZE, 8);
  const seen = dp.allocate(dp.L.REPLAY_STATE_SIZE, 8);
  ex.replayInit(seen, REPLAY_WINDOW, 0);
  for (const s of inOrder) ex.replayUpdate(seen, s);
  let failures = 0;

  const checkUpdate = (seqs: bigint[]) => () => {
    ex.replayInit(fresh, REPLAY_WINDOW, 0);
    for (const s of seqs) if (ex.replayCheck(fresh, s) !== REPLAY_OK || ex.replayUpdate(fresh, s) !== REPLAY_OK) failures++;
  };
  const decapWith = (window: number) => () => {
    fx.replayWindow = window;
    dp.backend = backend;
    fx.decap();
  };
  const cases: Case[] = [
    { name: "check+update in order", fn: checkUpdate(inOrder), units: CHECKS, bytes: 0 },
    { name: "check+update reordered", fn: checkUpdate(shuffled), units: CHECKS, bytes: 0 },
    {
      name: "check duplicates",
      fn: () => { for (const s of inOrder) if (ex.replayCheck(seen, s) !== REPLAY_DUPLICATE) failures++; },
      units: CHECKS, bytes: 0,
    },
    { name: `${backend.name} decap window ${REPLAY_WINDOW}`, fn: decapWith(REPLAY_WINDOW), units: BATCH, bytes: fx.size },
    { name: `${backend.name} decap window off`, fn: decapWith(0), units: BATCH, bytes: fx.size },
  ];
  console.log(`\nAnti-replay, window ${REPLAY_WINDOW} (exports: ${CHECKS} sequence numbers per iteration, one JS→WASM call per check/update; decap: ${fx.size} B, ${backend.name})`);
  const m = await runSuite(`Anti-replay window ${REPLAY_WINDOW}`, "replay", cases, timing);
  fx.replayWindow = REPLAY_WINDOW;
  if (failures !== 0 || fx.failures !== 0) throw new Error("anti-replay benchmark: a check gave the wrong verdict or a decap failed");

  const exp = (i: number) => ({ checksPerSec: Math.round(m[i].perSec), rme: m[i].rme, samples: m[i].samples });
  const dec = (i: number, window: number): ReplayRecord => ({
    suite: "replay", op: "decap", backend: backend.name, size: fx.size, window,
    pps: Math.round(m[i].perSec), rme: m[i].rme, samples: m[i].samples,
  });
  return [
    { suite: "replay", op: "check+update", via: "exports", order: "in-order", window: REPLAY_WINDOW, ...exp(0) },
    { suite: "replay", op: "check+update", via: "exports", order: "reordered", window: REPLAY_WINDOW, ...exp(1) },
    { suite: "replay", op: "check", via: "exports", order: "duplicate", window: REPLAY_WINDOW, ...exp(2) },
    dec(3, REPLAY_WINDOW),
    dec(4, 0),
  ];
}
