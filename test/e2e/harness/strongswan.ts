// strongSwan's charon as an independent IKEv2/ESP peer inside a test namespace. The kernel here has no ESP, so
// charon uses its userspace kernel-libipsec backend (TUN ipsec0, tunnel mode, ESP always in UDP on 4500, no ESN).
// Each instance has its own directory: strongswan.conf, swanctl.conf, vici socket, file log and a private /run
// (charon's pid file path is hard-coded, so /run is bind-mounted over inside the namespace's mount namespace).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runAsync, waitUntil, type RunOptions, type RunResult } from "./exec.js";
import { makeRunDir } from "./registry.js";
import type { Netns, NsProcess } from "./netns.js";
import { mergeConf, renderConf, type ConfSection } from "./swanctl-conf.js";
import { parseListSas, type IkeSa } from "./sas.js";
import { parseChildKeys, parseIkeKeys, type ChildKeys, type IkeKeys } from "./charon-log.js";

export const CHARON = "/usr/lib/ipsec/charon";

/** kernel-libipsec must precede kernel-netlink: the first kernel-ipsec backend wins, and XFRM cannot work here. */
export const DEFAULT_PLUGINS = ["random", "nonce", "openssl", "pem", "pkcs1", "x509", "pubkey", "sha1", "sha2", "hmac",
  "kdf", "gcm", "aes", "kernel-libipsec", "kernel-netlink", "socket-default", "vici"];

/** strongSwan log subsystems (strongswan.conf "Logger Configuration"). */
export type LogGroup = "default" | "dmn" | "mgr" | "ike" | "chd" | "job" | "cfg" | "knl" | "net" | "asn" | "enc"
  | "lib" | "esp" | "tls" | "tnc" | "imc" | "imv" | "pts";

export interface CharonOptions {
  /** Levels per log group; default `default = 1, ike = 4, chd = 4` (4 dumps the keys parsed by ikeKeys/childKeys). */
  log?: Partial<Record<LogGroup, number>>;
  plugins?: string[];
  /** Extra settings merged into the `charon` section (e.g. `{ retransmit_tries: 2 }`). */
  charon?: ConfSection;
  /** Give up waiting for the vici socket after this long (default 10 s). */
  startTimeoutMs?: number;
}

export interface SaSelector { ike?: string; child?: string; ikeId?: number; childId?: number }

function selectorArgs(s: SaSelector): string[] {
  const a: string[] = [];
  if (s.ike !== undefined) a.push("--ike", s.ike);
  if (s.child !== undefined) a.push("--child", s.child);
  if (s.ikeId !== undefined) a.push("--ike-id", String(s.ikeId));
  if (s.childId !== undefined) a.push("--child-id", String(s.childId));
  if (a.length === 0) throw new Error("select an IKE_SA or CHILD_SA");
  return a;
}

export class Charon {
  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    readonly process: NsProcess,
  ) {}

  get confPath(): string { return join(this.dir, "strongswan.conf"); }
  get swanctlConfPath(): string { return join(this.dir, "swanctl.conf"); }
  get viciUri(): string { return `unix://${join(this.dir, "charon.vici")}`; }
  get logPath(): string { return join(this.dir, "charon.log"); }
  /** charon's own stdout/stderr (start-up failures land here). */
  get outputPath(): string { return join(this.dir, "charon.out"); }

  /** Starts charon in `ns` and waits until its vici socket answers. */
  static async start(ns: Netns, opts: CharonOptions = {}): Promise<Charon> {
    const dir = makeRunDir(`charon-${ns.label}`);
    mkdirSync(join(dir, "run"));
    const log = { default: 1, ike: 4, chd: 4, ...opts.log };
    const conf: ConfSection = {
      charon: mergeConf({
        load_modular: false,
        load: (opts.plugins ?? DEFAULT_PLUGINS).join(" "),
        plugins: { vici: { socket: `unix://${join(dir, "charon.vici")}` } },
        filelog: {
          charon: { path: join(dir, "charon.log"), ...log, flush_line: true, ike_name: true, append: false },
        },
      }, opts.charon),
      // swanctl reads this file too; without a plugin list it tries ~20 plugins that are not installed.
      swanctl: { load: "pem pkcs1 x509 pubkey openssl random nonce" },
    };
    writeFileSync(join(dir, "strongswan.conf"), renderConf(conf));
    const proc = ns.spawn(["sh", "-c", 'mount --bind "$1" /run && exec "$2"', "sh", join(dir, "run"), CHARON], {
      logFile: join(dir, "charon.out"),
      env: { STRONGSWAN_CONF: join(dir, "strongswan.conf") },
    });
    const charon = new Charon(ns, dir, proc);
    try {
      await waitUntil(`charon's vici socket in ${ns.name}`, opts.startTimeoutMs ?? 10_000, async () => {
        if (proc.exitStatus) throw new Error(`charon exited: ${JSON.stringify(proc.exitStatus)}`);
        if (!existsSync(join(dir, "charon.vici"))) return undefined;
        const r = await charon.swanctl(["--stats"], { check: false, timeoutMs: 5000 });
        return r.code === 0 ? true : undefined;
      });
    } catch (e) {
      await proc.stop("SIGKILL");
      throw new Error(`${(e as Error).message}\n${charon.diagnostics()}`);
    }
    return charon;
  }

  /** Runs swanctl against this charon; throws (with the log tail) when it fails unless check is false. */
  async swanctl(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    try {
      return await runAsync(["swanctl", ...args, "--uri", this.viciUri],
        { ...opts, env: { STRONGSWAN_CONF: this.confPath, ...opts.env } });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.diagnostics()}`);
    }
  }

  /** Writes swanctl.conf (object model or text) and loads connections and secrets (`--load-all --file`). */
  async load(conf: ConfSection | string): Promise<void> {
    writeFileSync(this.swanctlConfPath, typeof conf === "string" ? conf : renderConf(conf));
    const r = await this.swanctl(["--load-all", "--noprompt", "--file", this.swanctlConfPath]);
    // swanctl exits 0 on a syntax error in the file; it also complains about the credential directories
    // (x509, private, ...) next to the file, which this harness does not use.
    const errors = r.stderr.split("\n").filter((l) => /fail|invalid|error/i.test(l) && !l.startsWith("opening directory"));
    if (errors.length > 0) throw new Error(`swanctl --load-all ${this.swanctlConfPath}:\n${errors.join("\n")}`);
  }

  /** Initiates a CHILD_SA (and its IKE_SA if needed) and waits for the outcome. */
  async initiate(child: string, opts: { ike?: string; timeoutS?: number } = {}): Promise<RunResult> {
    const t = opts.timeoutS ?? 15;
    return this.swanctl(["--initiate", "--child", child, ...(opts.ike ? ["--ike", opts.ike] : []), "--timeout", String(t)],
      { timeoutMs: (t + 5) * 1000 });
  }

  async terminate(sel: SaSelector, timeoutS = 15): Promise<RunResult> {
    return this.swanctl(["--terminate", ...selectorArgs(sel), "--timeout", String(timeoutS)], { timeoutMs: (timeoutS + 5) * 1000 });
  }

  /** Starts a rekey (returns when charon has queued it; poll listSas() for the result). */
  async rekey(sel: SaSelector & { reauth?: boolean }): Promise<RunResult> {
    return this.swanctl(["--rekey", ...selectorArgs(sel), ...(sel.reauth ? ["--reauth"] : [])]);
  }

  async listSas(): Promise<IkeSa[]> {
    return parseListSas((await this.swanctl(["--list-sas", "--pretty"])).stdout);
  }

  /** Polls listSas() until `pick` returns something. */
  async waitForSas<T>(what: string, pick: (sas: IkeSa[]) => T | undefined, timeoutMs = 10_000): Promise<T> {
    return waitUntil(`${what} (charon in ${this.ns.name})`, timeoutMs, async () => pick(await this.listSas()), 100);
  }

  log(): string { return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : ""; }

  /** IKE keys this charon derived (needs ike log level 4). */
  ikeKeys(): IkeKeys[] { return parseIkeKeys(this.log()); }

  /** ESP keys with SPIs of the CHILD_SAs this charon installed (needs chd log level 4). */
  childKeys(): ChildKeys[] { return parseChildKeys(this.log()); }

  /** The last lines of charon's output and log, for error messages. */
  diagnostics(lines = 30): string {
    const tail = (s: string) => s.trimEnd().split("\n").slice(-lines).join("\n");
    const out = existsSync(this.outputPath) ? readFileSync(this.outputPath, "utf8") : "";
    return `--- charon in ${this.ns.name} (${this.dir}) output:\n${tail(out)}\n--- log:\n${tail(this.log())}`;
  }

  /** SIGTERM, then SIGKILL if charon has not exited within graceMs (it needs ~1.3 s to shut down). */
  async stop(graceMs = 5000): Promise<void> {
    await this.process.stop("SIGTERM", graceMs);
  }
}
