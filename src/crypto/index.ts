// Picks a crypto backend by its configuration name.
import { BACKEND_NAMES, type BackendName, type CryptoBackend } from "./backend.js";
import { WasmBackend } from "./wasm.js";
import { NodeBackend } from "./node.js";
import { NobleBackend } from "./noble.js";
import { AutoBackend } from "./auto.js";
import type { RawExports } from "../dataplane/wasm.js";

export * from "./backend.js";

export function createBackend(name: BackendName, exports: RawExports, autoThreshold?: number): CryptoBackend {
  switch (name) {
    case "wasm": return new WasmBackend(exports);
    case "node": return new NodeBackend();
    case "noble": return new NobleBackend();
    case "auto": return new AutoBackend(autoThreshold);
    default:
      throw new Error(`unknown crypto backend ${JSON.stringify(name)}: expected one of ${BACKEND_NAMES.join(", ")}`);
  }
}
