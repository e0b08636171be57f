// `wasm-ipsec daemon`: load swanctl.conf, start the gateway, serve the control socket, and shut down
// cleanly on SIGTERM/SIGINT (SAs deleted with the peers, workers stopped, routes and TUN removed).
import { loadSwanctl } from "../config/swanctl.js";
import { Logger } from "../ike/log.js";
import type { BackendName } from "../crypto/backend.js";
import { ControlServer } from "../control/server.js";
import { Gateway } from "./gateway.js";

export interface DaemonOptions { config: string; socket: string; keylog?: string; logLevel: number; backend?: BackendName }

export async function runDaemon(o: DaemonOptions): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("wasm-ipsec daemon: needs root (TUN device, routes, UDP ports 500/4500); " +
      "without privileges try 'wasm-ipsec demo'\n");
    return 1;
  }
  const taps = new Set<(line: string) => void>();
  const log = new Logger((line) => {
    process.stderr.write(line + "\n");
    for (const t of taps) t(line);
  }, {}, o.logLevel);
  const config = loadSwanctl(o.config); // ConfigError: every problem with file:line, printed by the CLI
  const gateway = await Gateway.start({ config, log, backend: o.backend, keylog: o.keylog, reload: () => loadSwanctl(o.config) });
  const control = new ControlServer(o.socket, async (cmd, out) => {
    const tap = (line: string) => out(line);
    if (cmd.cmd === "initiate" || cmd.cmd === "terminate") taps.add(tap);
    try { return await gateway.command(cmd, out); } finally { taps.delete(tap); }
  });
  try {
    await control.listen();
  } catch (e) {
    await gateway.stop(false);
    throw e;
  }
  log.log("cfg", 0, `control socket ${o.socket}`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.log("cfg", 0, `${sig} received, shutting down`);
      void (async () => {
        await control.close();
        await gateway.stop(true);
        resolve();
      })();
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
  log.log("cfg", 0, "stopped");
  return 0;
}
