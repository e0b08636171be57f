// `wasm-ipsec daemon` as a process in a test namespace, driven the way an operator drives it: commands through
// the CLI (`wasm-ipsec --initiate ...`, a separate process talking to the control socket), and polling through
// the same control protocol in-process (cheaper than a node start per poll). Registered with the harness, so a
// failed run still kills it; SIGKILL leaves nothing behind either (its TUN device dies with its descriptor).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeRunDir, renderConf, runAsync, waitUntil, type ConfSection, type Netns, type NsProcess, type RunResult } from "../harness/index.js";
import { callDaemon } from "../../../src/control/client.js";
import type { Command, IkeStatus } from "../../../src/control/protocol.js";

const MAIN_JS = fileURLToPath(new URL("../../../src/cli/main.js", import.meta.url));

/** The daemon's `--stats --json`, as far as the tests read it. */
export interface DaemonStats {
  ike: { received: number; sent: number; retransmitted: number; dropped: Record<string, number> };
  workers: {
    pairs: number; readByEncap: number[]; receivedByDecap: number[];
    encap: {
      read: number; encapsulated: number; sent: number; policyDropped: number; dropped: number;
      acquires: number; trapResent: number; trapDropped: number;
    };
    decap: {
      received: number; decapsulated: number; dropped: number; written: number;
      udp: { received: number; esp: number; ike: number; keepalives: number; truncated: number; runts: number };
    };
  };
  dataPlane: { globalDrops: Record<string, string>; sas: number; spdNoMatch: string };
}

export class Daemon {
  private constructor(
    readonly ns: Netns,
    readonly label: string,
    readonly dir: string,
    readonly proc: NsProcess,
  ) {}

  get socket(): string { return join(this.dir, "control.sock"); }
  get logPath(): string { return join(this.dir, "daemon.log"); }

  /** Writes `conf` (swanctl.conf syntax) and starts the daemon; resolves once its control socket answers. */
  static async start(ns: Netns, label: string, conf: ConfSection): Promise<Daemon> {
    const dir = makeRunDir(`daemon-${label}`);
    writeFileSync(join(dir, "swanctl.conf"), renderConf(conf));
    return Daemon.launch(ns, label, dir);
  }

  /** The daemon again, same namespace, directory and configuration (after stop() or kill()). */
  restart(): Promise<Daemon> { return Daemon.launch(this.ns, this.label, this.dir); }

  /** The key log is for post-mortems with Wireshark (WIPSEC_KEEP=1 keeps the directory). */
  private static async launch(ns: Netns, label: string, dir: string): Promise<Daemon> {
    const proc = ns.spawn([process.execPath, MAIN_JS, "daemon", "--config", join(dir, "swanctl.conf"),
      "--socket", join(dir, "control.sock"), "--keylog", join(dir, "keys.txt")], { logFile: join(dir, "daemon.log") });
    const d = new Daemon(ns, label, dir, proc);
    await waitUntil(`daemon ${label} to answer on its control socket`, 20_000, async () => {
      if (!proc.isRunning()) throw new Error(`daemon ${label} exited ${JSON.stringify(proc.exitStatus)}\n${d.logTail()}`);
      if (!existsSync(d.socket)) return undefined;
      return d.call({ cmd: "stats" }, 5000).then(() => true, () => undefined);
    }, 100);
    return d;
  }

  /** One control command in-process. */
  call(cmd: Command, timeoutMs = 30_000): Promise<unknown> { return callDaemon(this.socket, cmd, () => undefined, timeoutMs); }

  /** The CLI: `wasm-ipsec ARGS --socket S`; throws with the daemon's log tail when it fails. */
  async cli(args: string[], timeoutMs = 40_000): Promise<RunResult> {
    try {
      return await runAsync([process.execPath, MAIN_JS, ...args, "--socket", this.socket], { timeoutMs });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.logTail()}`);
    }
  }

  async listSas(): Promise<IkeStatus[]> { return (await this.call({ cmd: "list-sas" })) as IkeStatus[]; }
  async stats(): Promise<DaemonStats> { return (await this.call({ cmd: "stats" })) as DaemonStats; }

  /** Polls --list-sas until `pick` returns something. */
  waitSas<T>(what: string, pick: (sas: IkeStatus[]) => T | undefined, timeoutMs = 10_000): Promise<T> {
    return waitUntil(`${what} (daemon ${this.label})`, timeoutMs, async () => pick(await this.listSas()), 100)
      .catch((e: Error) => { throw new Error(`${e.message}\n${this.logTail()}`); });
  }

  log(): string { return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : ""; }

  logTail(lines = 30): string {
    return `--- daemon ${this.label} (${this.logPath}):\n${this.log().trimEnd().split("\n").slice(-lines).join("\n")}`;
  }

  /** SIGTERM: the daemon deletes its SAs with the peer and exits. */
  async stop(): Promise<number | null> { return (await this.proc.stop("SIGTERM", 10_000)).code; }

  /** SIGKILL: a crash, the peer is not told. */
  async kill(): Promise<void> { await this.proc.stop("SIGKILL"); }
}
