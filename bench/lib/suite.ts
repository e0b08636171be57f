// Runs a list of cases as a benny suite, in several rounds: on a shared machine a burst of other work
// then slows a slice of every case instead of all of one case, which keeps side-by-side ratios honest.
// Each case's rate is the median of its samples pooled over the rounds. The last round's benny chart and
// JSON summary (iterations/s, mean-based, that round only) are saved under bench/results/.
import { fileURLToPath } from "node:url";
import { add, complete, configure, cycle, save, suite } from "benny";

/** bench/results in the repository, wherever the command runs from (this file is dist/bench/lib/suite.js). */
export const RESULTS_DIR = fileURLToPath(new URL("../../../bench/results", import.meta.url));

export interface Case {
  name: string;
  /** One benchmark iteration. */
  fn: () => void;
  /** Work units (packets, checks) one iteration processes. */
  units: number;
  /** Inner bytes per unit, for Gbit/s (0: not a packet rate). */
  bytes: number;
}

/** perSec from the median sample; rme: relative margin of error of the mean (95%), in percent. */
export interface Measured { name: string; perSec: number; rme: number; samples: number }

/** benny's per-case sampling (seconds), repeated `rounds` times. */
export interface Timing { minSamples: number; maxTime: number; rounds: number }

export function gbps(pps: number, bytes: number): number { return pps * bytes * 8 / 1e9; }

function describeRate(perSec: number, bytes: number): string {
  const unit = bytes > 0 ? "pps" : "/s";
  const rate = perSec >= 1e6 ? `${(perSec / 1e6).toFixed(3)} M${unit}` : `${(perSec / 1e3).toFixed(1)} k${unit}`;
  return bytes > 0 ? `${rate}, ${gbps(perSec, bytes).toFixed(2)} Gbit/s` : rate;
}

/** Seconds per iteration → median rate and margin. */
function stats(c: Case, seconds: number[]): Measured {
  const s = [...seconds].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const rme = Number((1.96 * sd / Math.sqrt(n) / mean * 100).toFixed(2));
  return { name: c.name, perSec: c.units / median, rme, samples: n };
}

export async function runSuite(title: string, file: string, cases: Case[], timing: Timing): Promise<Measured[]> {
  const samples = new Map(cases.map((c) => [c.name, [] as number[]]));
  if (samples.size !== cases.length) throw new Error(`duplicate case names in suite ${title}`);
  const { rounds, ...options } = timing;
  for (let round = 1; round <= rounds; round++) {
    const last = round === rounds;
    const summary = await suite(rounds > 1 ? `${title}, round ${round}/${rounds}` : title,
      configure({ cases: options, minDisplayPrecision: 2 }),
      ...cases.map((c) => add(c.name, c.fn)),
      cycle(() => undefined), // the pooled results are printed below
      complete(() => undefined),
      ...(last ? [
        save({ file: `benny-${file}`, folder: RESULTS_DIR, format: "chart.html" }),
        save({ file: `benny-${file}`, folder: RESULTS_DIR, format: "json" }),
      ] : []),
    );
    for (const r of summary.results) {
      if (r.samples === 0) throw new Error(`benchmark case "${r.name}" did not complete`);
      samples.get(r.name)!.push(...r.details.sampleResults);
    }
  }
  return cases.map((c) => {
    const m = stats(c, samples.get(c.name)!);
    console.log(`  ${c.name.padEnd(28)} ${describeRate(m.perSec, c.bytes).padEnd(30)} ±${m.rme.toFixed(1)}% (${m.samples} samples)`);
    return m;
  });
}
