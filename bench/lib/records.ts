// The machine-readable results: bench/results/esp.json, an array with one record per measurement.
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { BackendName } from "../../src/crypto/backend.js";
import { RESULTS_DIR } from "./suite.js";

export type Op = "encap" | "decap";

/** suite "esp": the four sizes of the issue; suite "crossover": wasm and node at extra sizes. */
export interface EspRecord {
  suite: "esp" | "crossover"; op: Op; backend: BackendName; size: number;
  pps: number; gbps: number; rme: number; samples: number;
}

export type ReplayRecord =
  | { suite: "replay"; op: "check+update"; via: "exports"; order: "in-order" | "reordered"; window: number;
      checksPerSec: number; rme: number; samples: number }
  | { suite: "replay"; op: "check"; via: "exports"; order: "duplicate"; window: number;
      checksPerSec: number; rme: number; samples: number }
  | { suite: "replay"; op: "decap"; backend: BackendName; size: number; window: number;
      pps: number; rme: number; samples: number };

/** suite "ah": AH tunnel mode (IPv4 in IPv4), entirely in WASM, per integrity transform and packet size. */
export interface AhRecord {
  suite: "ah"; op: Op; backend: "wasm"; integrity: string; size: number;
  pps: number; gbps: number; rme: number; samples: number;
}

export type BenchRecord = EspRecord | ReplayRecord | AhRecord;

export function writeRecords(file: string, records: BenchRecord[]): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const full = path.join(RESULTS_DIR, file);
  writeFileSync(full, JSON.stringify(records, null, 1) + "\n");
  return full;
}
