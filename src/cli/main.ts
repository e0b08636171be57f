#!/usr/bin/env node
// wasm-ipsec command line: the daemon, swanctl-style control commands, and the demo.
import { parseFlags, UsageError } from "./args.js";
import { BACKEND_NAMES, type BackendName } from "../crypto/backend.js";
import { callDaemon } from "../control/client.js";
import { DEFAULT_SOCKET, type Command, type IkeStatus, type ConnStatus } from "../control/protocol.js";
import { formatSas, formatConns } from "../control/format.js";

const HELP = `wasm-ipsec — IPsec gateway (IKEv2; ESP with AES-GCM, AH with HMAC-SHA2/GMAC) with a WebAssembly packet path

Usage:
  wasm-ipsec daemon --config FILE [--socket PATH] [--keylog FILE] [--log-level N] [--backend B]
      Run the gateway in the foreground (logs to stderr). FILE is swanctl.conf syntax.
  wasm-ipsec --initiate --child NAME [--ike NAME] [--timeout S] [--socket PATH]
  wasm-ipsec --terminate (--ike NAME | --child NAME) [--timeout S] [--socket PATH]
  wasm-ipsec --rekey (--ike NAME | --child NAME) [--socket PATH]
  wasm-ipsec --load-all [--socket PATH]          reload the configuration file
  wasm-ipsec --list-conns [--json] [--socket PATH]
  wasm-ipsec --list-sas [--ike NAME] [--json] [--socket PATH]
  wasm-ipsec --stats [--json] [--socket PATH]
  wasm-ipsec demo [--backend wasm|node|noble|auto] [--megabytes N]
      As root: two gateway daemons in network namespaces, a host behind each; IKEv2 (PSK) from the
      embedded default swanctl.conf, ping and a TCP transfer of N MB (default 100, SHA-256 checked)
      between the hosts through the tunnel, --list-sas of both; everything removed at the end or on Ctrl-C.
  wasm-ipsec demo --loopback [--backend B] [--packets N] [--size BYTES]
      Two data planes in one process, statically keyed SAs, generated IPv4/UDP traffic carried as
      ESP-in-UDP over loopback; prints the SAs, counters and the measured rate. Needs no privileges;
      what 'demo' runs without root. --packets (default 20000) or --size (default 512) imply --loopback.
  wasm-ipsec --help | --version

The control socket defaults to ${DEFAULT_SOCKET}.
`;

const CONTROL = ["initiate", "terminate", "rekey", "load-all", "list-conns", "list-sas", "stats"] as const;

async function control(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    initiate: { type: "bool" }, terminate: { type: "bool" }, rekey: { type: "bool" }, "load-all": { type: "bool" },
    "list-conns": { type: "bool" }, "list-sas": { type: "bool" }, stats: { type: "bool" },
    child: { type: "string" }, ike: { type: "string" }, timeout: { type: "int", min: 0, max: 3600 },
    socket: { type: "string" }, json: { type: "bool" }, raw: { type: "bool" }, pretty: { type: "bool" },
  });
  const chosen = CONTROL.filter((c) => f[c]);
  if (chosen.length !== 1) throw new UsageError(chosen.length ? `choose one command, not ${chosen.map((c) => "--" + c).join(" ")}` : "no command given");
  const cmd = chosen[0];
  const req = { cmd, ...(f.child ? { child: f.child } : {}), ...(f.ike ? { ike: f.ike } : {}), ...(f.timeout !== undefined ? { timeout: f.timeout } : {}) } as Command;
  if ((cmd === "initiate" || cmd === "terminate" || cmd === "rekey") && !f.child && !f.ike) {
    throw new UsageError(`--${cmd} needs --child NAME or --ike NAME`);
  }
  const json = Boolean(f.json || f.raw);
  const result = await callDaemon((f.socket as string) ?? DEFAULT_SOCKET, req, (l) => { if (!json) console.log(l); },
    ((f.timeout as number) ?? 30) * 1000 + 5000);
  if (json) { console.log(JSON.stringify(result, null, f.pretty ? 2 : undefined)); return 0; }
  if (cmd === "list-sas") process.stdout.write(formatSas(result as IkeStatus[]));
  else if (cmd === "list-conns") process.stdout.write(formatConns(result as ConnStatus[]));
  else if (cmd === "stats") console.log(JSON.stringify(result, null, 2));
  else console.log(typeof result === "string" ? result : `${cmd} completed successfully`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") { process.stdout.write(HELP); return 0; }
  if (cmd === "--version") { process.stdout.write("wasm-ipsec 0.1.0\n"); return 0; }
  if (cmd === "demo") {
    const f = parseFlags(rest, {
      backend: { type: "string", choices: BACKEND_NAMES }, packets: { type: "int", min: 1, max: 10_000_000 },
      size: { type: "int", min: 28, max: 1500 }, loopback: { type: "bool" }, megabytes: { type: "int", min: 1, max: 100_000 },
      help: { type: "bool" },
    });
    if (f.help) { process.stdout.write(HELP); return 0; }
    const loopback = Boolean(f.loopback || f.packets !== undefined || f.size !== undefined);
    if (loopback && f.megabytes !== undefined) throw new UsageError("--megabytes is for the namespace demo, --packets and --size for the loopback demo");
    const { runDemoCommand } = await import("./demo.js");
    return runDemoCommand({
      backend: (f.backend as BackendName) ?? "wasm", packets: (f.packets as number) ?? 20000,
      size: (f.size as number) ?? 512, loopback, megabytes: (f.megabytes as number) ?? 100, log: (s) => console.log(s),
    });
  }
  if (cmd === "daemon") {
    const f = parseFlags(rest, {
      config: { type: "string" }, socket: { type: "string" }, keylog: { type: "string" },
      "log-level": { type: "int", min: -1, max: 4 }, backend: { type: "string", choices: BACKEND_NAMES },
    });
    if (!f.config) throw new UsageError("daemon needs --config FILE");
    const { runDaemon } = await import("../daemon/daemon.js");
    return runDaemon({
      config: f.config as string, socket: (f.socket as string) ?? DEFAULT_SOCKET, keylog: f.keylog as string | undefined,
      logLevel: (f["log-level"] as number) ?? 1, backend: f.backend as BackendName | undefined,
    });
  }
  if (cmd.startsWith("--") && CONTROL.includes(cmd.slice(2) as (typeof CONTROL)[number])) return control(argv);
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  if (e instanceof UsageError) { console.error(`wasm-ipsec: ${e.message}\n\n${HELP}`); process.exitCode = 2; }
  else if ((e as Error).name === "ControlError" || (e as Error).name === "ConfigError") { console.error(`wasm-ipsec: ${(e as Error).message}`); process.exitCode = 1; }
  else { console.error(`wasm-ipsec: ${(e as Error).stack ?? e}`); process.exitCode = 1; }
});
