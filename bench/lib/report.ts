// The human-readable summary: a size × op × backend table, the issue's targets, auto against the better
// of wasm and node, and the size from which node:crypto beats the WASM cipher (to tune `auto`).
import type { BackendName } from "../../src/crypto/backend.js";
import type { EspRecord, Op, ReplayRecord } from "./records.js";

const OPS: Op[] = ["encap", "decap"];

function find(recs: EspRecord[], op: Op, backend: BackendName, size: number): EspRecord | undefined {
  return recs.find((r) => r.op === op && r.backend === backend && r.size === size);
}

export function printTable(recs: EspRecord[], sizes: number[], backends: BackendName[]): void {
  console.log("\nMpps / Gbit/s (inner packet bytes × 8 × packets/s):");
  console.log(`  ${"size".padStart(6)}  ${"op".padEnd(6)}${backends.map((b) => b.padStart(16)).join("")}`);
  for (const size of sizes) {
    for (const op of OPS) {
      const cells = backends.map((b) => {
        const r = find(recs, op, b, size);
        return (r ? `${(r.pps / 1e6).toFixed(3)} / ${r.gbps.toFixed(2)}` : "-").padStart(16);
      });
      console.log(`  ${`${size} B`.padStart(6)}  ${op.padEnd(6)}${cells.join("")}`);
    }
  }
}

function verdict(ok: boolean): string { return ok ? "PASS" : "FAIL"; }

/** The issue's targets, wherever the run measured what they need. */
export function printTargets(recs: EspRecord[]): void {
  const lines: string[] = [];
  for (const op of OPS) {
    const w64 = find(recs, op, "wasm", 64), w1400 = find(recs, op, "wasm", 1400);
    const n64 = find(recs, op, "node", 64), n1400 = find(recs, op, "node", 1400);
    if (w64) lines.push(`${verdict(w64.pps >= 3e6)}  wasm ${op} ≥ 3 Mpps at 64 B: ${(w64.pps / 1e6).toFixed(2)} Mpps`);
    if (w1400) lines.push(`${verdict(w1400.gbps >= 3)}  wasm ${op} ≥ 3 Gbit/s at 1400 B: ${w1400.gbps.toFixed(2)} Gbit/s`);
    if (w64 && n64) lines.push(`${verdict(w64.pps >= 10 * n64.pps)}  wasm/node ${op} ≥ 10× at 64 B: ${(w64.pps / n64.pps).toFixed(2)}×`);
    if (w1400 && n1400) lines.push(`${verdict(w1400.pps >= 1.2 * n1400.pps)}  wasm/node ${op} ≥ 1.2× at 1400 B: ${(w1400.pps / n1400.pps).toFixed(2)}×`);
  }
  // auto is the better of the two per packet, so it may only trail by measurement noise.
  for (const r of recs) {
    if (r.backend !== "auto" || r.suite !== "esp") continue;
    const w = find(recs, r.op, "wasm", r.size), n = find(recs, r.op, "node", r.size);
    if (!w || !n) continue;
    const best = w.pps >= n.pps ? w : n;
    const ratio = r.pps / best.pps;
    const noise = (r.rme + best.rme) / 100;
    const ok = ratio >= 1 - noise;
    lines.push(`${verdict(ok)}  auto ≥ max(wasm, node) ${r.op} at ${r.size} B: auto/${best.backend} = ${ratio.toFixed(3)}` +
      (ratio < 1 && ok ? ` (within the ±${(noise * 100).toFixed(1)}% margin)` : ""));
  }
  if (lines.length === 0) return;
  console.log("\nTargets (one core; noisy if the machine is shared):");
  for (const l of lines) console.log(`  ${l}`);
}

/** ESP payload length (what `auto`'s threshold is compared with) of a tunnel-mode packet of `size` bytes. */
export function espPayload(size: number): number { return (size + 2 + 3) & ~3; }

/** wasm time / node time per packet at each size: for one op, or for an encap plus a decap. */
function timeRatios(recs: EspRecord[], op: Op | "both"): { size: number; ratio: number }[] {
  const ops = op === "both" ? OPS : [op];
  const sizes = [...new Set(recs.map((r) => r.size))].sort((a, b) => a - b);
  const out = [];
  for (const size of sizes) {
    let tw = 0, tn = 0;
    for (const o of ops) {
      const w = find(recs, o, "wasm", size), n = find(recs, o, "node", size);
      if (!w || !n) { tw = NaN; break; }
      tw += 1 / w.pps; tn += 1 / n.pps;
    }
    if (!Number.isNaN(tw)) out.push({ size, ratio: tw / tn });
  }
  return out;
}

/** First size where node becomes faster than wasm, interpolated on log(time ratio); undefined if it never does
 *  in the measured range, 0 if node is faster from the smallest size. */
function crossing(points: { size: number; ratio: number }[]): number | undefined {
  if (points.length === 0) return undefined;
  if (points[0].ratio > 1) return 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1], b = points[i];
    if (b.ratio > 1) {
      const la = Math.log(a.ratio), lb = Math.log(b.ratio);
      return Math.round(a.size + (b.size - a.size) * (0 - la) / (lb - la));
    }
  }
  return undefined;
}

export function printCrossover(recs: EspRecord[], currentThreshold: number): void {
  const both = timeRatios(recs, "both");
  if (both.length < 2) return;
  console.log("\nwasm/node time per packet (< 1: wasm faster):");
  for (const op of [...OPS, "both"] as const) {
    const pts = timeRatios(recs, op);
    const x = crossing(pts);
    const where = x === undefined ? `node never faster up to ${pts[pts.length - 1].size} B`
      : x === 0 ? `node faster from ${pts[0].size} B` : `node faster from ~${x} B (ESP payload ${espPayload(x)} B)`;
    console.log(`  ${(op === "both" ? "encap+decap" : op).padEnd(12)} ${pts.map((p) => `${p.size}:${p.ratio.toFixed(2)}`).join(" ")}  → ${where}`);
  }
  const x = crossing(both);
  if (x !== undefined && x > 0) {
    console.log(`  suggested auto threshold (ESP payload bytes): ${espPayload(x)} (DEFAULT_AUTO_THRESHOLD is ${currentThreshold})`);
  }
}

export function printReplay(recs: ReplayRecord[]): void {
  const on = recs.find((r) => r.op === "decap" && r.window > 0);
  const off = recs.find((r) => r.op === "decap" && r.window === 0);
  if (on?.op !== "decap" || off?.op !== "decap") return;
  const ns = 1e9 / on.pps - 1e9 / off.pps;
  console.log(`\nAnti-replay cost inside decap (${on.size} B, ${on.backend}): ${ns.toFixed(1)} ns/packet ` +
    `(window ${on.window} vs off; margins ±${on.rme.toFixed(1)}% / ±${off.rme.toFixed(1)}% of ${(1e9 / off.pps).toFixed(0)} ns)`);
}
