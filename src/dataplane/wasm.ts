// Loads the AssemblyScript data plane (build/dataplane.wasm) over a shared WebAssembly.Memory.
// The module is compiled once; every worker thread instantiates it over the same memory.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

/** Maximum pages the module declares for its imported memory (asconfig.json maximumMemory). */
export const MAX_PAGES = 16384;
export const PAGE = 65536;

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/dataplane → repository root. */
export const WASM_PATH = path.resolve(here, "../../../build/dataplane.wasm");

let cachedModule: WebAssembly.Module | undefined;

export function compileDataPlane(): WebAssembly.Module {
  if (!cachedModule) cachedModule = new WebAssembly.Module(readFileSync(WASM_PATH));
  return cachedModule;
}

/** Raw exports of the WASM module. Constants are WebAssembly.Global, functions are plain functions. */
export type RawExports = Record<string, any>;

export interface WasmInstance {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  exports: RawExports;
}

export function createMemory(initialPages = 64): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
}

/** Instantiate the data plane over `memory` (a new shared memory if omitted). */
export function instantiate(memory: WebAssembly.Memory = createMemory(), module = compileDataPlane()): WasmInstance {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      // The data plane is written never to abort; if it ever does, fail loudly rather than corrupt state.
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw new Error(`wasm-ipsec data plane aborted at ${line}:${col}`);
      },
    },
  });
  return { module, memory, exports: instance.exports as RawExports };
}

/** Read an exported constant (an immutable WebAssembly.Global) as a number. */
export function constant(exports: RawExports, name: string): number {
  const g = exports[name];
  if (g === undefined) throw new Error(`data plane does not export ${name}`);
  return typeof g === "object" ? Number(g.value) : Number(g);
}
