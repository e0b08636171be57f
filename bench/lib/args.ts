// Command line of `npm run bench`: --quick for a short run; --backends and --sizes narrow the suite
// (e.g. to develop against the node backend while the WASM cipher is unfinished).
import { parseArgs } from "node:util";
import { BACKEND_NAMES, type BackendName } from "../../src/crypto/backend.js";

export const SIZES = [64, 512, 1400, 9000];

export interface BenchArgs { quick: boolean; backends: BackendName[]; sizes: number[] }

export function parseBenchArgs(argv = process.argv.slice(2)): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      backends: { type: "string", default: BACKEND_NAMES.join(",") },
      sizes: { type: "string", default: SIZES.join(",") },
    },
  });
  const backends = values.backends.split(",").map((s) => s.trim()) as BackendName[];
  for (const b of backends) {
    if (!BACKEND_NAMES.includes(b)) throw new Error(`unknown backend ${b}: expected ${BACKEND_NAMES.join(", ")}`);
  }
  const sizes = [...new Set(values.sizes.split(",").map(Number))];
  for (const s of sizes) {
    // An IPv4/UDP packet needs 28 bytes of headers; its ESP packet must still fit a 64 KiB datagram.
    if (!Number.isInteger(s) || s < 28 || s > 65_000) throw new Error(`bad packet size ${s}`);
  }
  return { quick: values.quick, backends, sizes };
}
