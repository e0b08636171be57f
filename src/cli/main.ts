#!/usr/bin/env node
// wasm-ipsec command line.
import { parseFlags, UsageError } from "./args.js";
import { runDemo } from "./demo.js";
import { BACKEND_NAMES, type BackendName } from "../crypto/backend.js";

const HELP = `wasm-ipsec — IPsec (ESP/AES-GCM) gateway with a WebAssembly packet path

Usage:
  wasm-ipsec demo [--backend wasm|node|noble|auto] [--packets N] [--size BYTES]
      Two data planes in one process, statically keyed SAs, generated IPv4/UDP traffic carried as
      ESP-in-UDP over loopback; prints the SAs, counters and the measured rate. Needs no privileges.
      Defaults: --backend wasm --packets 20000 --size 512.
  wasm-ipsec --help | --version
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") { process.stdout.write(HELP); return 0; }
  if (cmd === "--version") { process.stdout.write("wasm-ipsec 0.1.0\n"); return 0; }
  if (cmd === "demo") {
    const f = parseFlags(rest, {
      backend: { type: "string", choices: BACKEND_NAMES }, packets: { type: "int", min: 1, max: 10_000_000 },
      size: { type: "int", min: 28, max: 1500 }, help: { type: "bool" },
    });
    if (f.help) { process.stdout.write(HELP); return 0; }
    return runDemo({
      backend: (f.backend as BackendName) ?? "wasm", packets: (f.packets as number) ?? 20000,
      size: (f.size as number) ?? 512, log: (s) => console.log(s),
    });
  }
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  if (e instanceof UsageError) { console.error(`wasm-ipsec: ${e.message}\n\n${HELP}`); process.exitCode = 2; }
  else { console.error(`wasm-ipsec: ${(e as Error).stack ?? e}`); process.exitCode = 1; }
});
