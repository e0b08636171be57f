// Network namespaces for the root demo, named `wipsec-demo-<pid>-<label>` so that concurrent runs cannot
// collide and what a killed run left behind is recognisable (its pid is dead) and removed by the next one.
// Every process started here runs in its own process group (Ctrl-C reaches only the demo, which then stops
// things in order); teardown() stops them, kills anything else still inside, and deletes the namespaces.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

const PREFIX = "wipsec-demo-";
const STALE = /^wipsec-demo-(\d+)-/;

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export class CommandError extends Error {
  constructor(cmd: string[], r: RunResult) {
    const why = r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
    super(`${cmd.join(" ")}: ${why}${r.stderr.trim() ? `\n${r.stderr.trim()}` : ""}`);
    this.name = "CommandError";
  }
}

/** Runs a short command synchronously (no shell); throws CommandError unless it exits 0 and check is false. */
export function runSync(cmd: string[], check = true, timeoutMs = 10_000): RunResult {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== "ETIMEDOUT") throw new Error(`${cmd.join(" ")}: ${r.error.message}`);
  const res = { code: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (check && res.code !== 0) throw new CommandError(cmd, res);
  return res;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return false;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(pid, signal); } catch { /* already gone */ }
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

export function listNamespaces(): string[] {
  return runSync(["ip", "netns", "list"]).stdout.split("\n").map((l) => l.split(" ")[0]).filter(Boolean);
}

/** Kills whatever runs inside a namespace, then deletes it. */
async function deleteNamespace(name: string): Promise<void> {
  const pids = runSync(["ip", "netns", "pids", name], false).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const p of pids) kill(p, "SIGKILL");
  await waitGone(pids, 2000);
  runSync(["ip", "netns", "del", name], false);
}

/** Namespaces of demo runs whose process is gone (killed with SIGKILL, say): deleted, and their names returned. */
export async function removeStale(): Promise<string[]> {
  const stale = listNamespaces().filter((n) => {
    const m = STALE.exec(n);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  for (const n of stale) await deleteNamespace(n);
  return stale;
}

export class Lab {
  readonly prefix = `${PREFIX}${process.pid}-`;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();

  /** A namespace with lo up; its full name is returned. */
  namespace(label: string): string {
    const name = this.prefix + label;
    runSync(["ip", "netns", "add", name]);
    this.namespaces.push(name);
    this.ip(name, ["link", "set", "lo", "up"]);
    return name;
  }

  ip(ns: string, args: string[]): void { runSync(["ip", "-n", ns, ...args]); }

  /** /proc/sys/net is per namespace; written directly since procps (sysctl) may be absent. */
  sysctl(ns: string, key: string, value: string): void {
    runSync(["ip", "netns", "exec", ns, "sh", "-c", 'echo "$2" > "/proc/sys/$1"', "sh", key.replaceAll(".", "/"), value]);
  }

  /** A veth pair `ifname` in namespace a ↔ `ifname` in b, both up, with addresses (CIDR). */
  link(ifname: string, a: string, aAddrs: string[], b: string, bAddrs: string[]): void {
    this.ip(a, ["link", "add", ifname, "type", "veth", "peer", "name", ifname, "netns", b]);
    for (const [ns, addrs] of [[a, aAddrs], [b, bAddrs]] as const) {
      this.ip(ns, ["link", "set", ifname, "up"]);
      // nodad: an IPv6 address is usable at once instead of after duplicate address detection.
      for (const addr of addrs) this.ip(ns, ["addr", "add", addr, "dev", ifname, ...(addr.includes(":") ? ["nodad"] : [])]);
    }
  }

  /** Starts `cmd` in `ns` (own process group); stdout is piped unless logFile is given, which takes both streams. */
  spawn(ns: string, cmd: string[], logFile?: string): ChildProcess {
    const fd = logFile ? openSync(logFile, "a") : undefined;
    try {
      const child = spawn("ip", ["netns", "exec", ns, ...cmd], {
        detached: true, stdio: ["ignore", fd ?? "pipe", fd ?? "pipe"],
      });
      child.on("error", () => undefined); // reported through the exit status
      this.children.add(child);
      child.once("exit", () => this.children.delete(child));
      return child;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Runs `cmd` in `ns` to completion; `stop` (an abort) or the timeout kills it. */
  run(ns: string, cmd: string[], timeoutMs: number, stop?: AbortSignal): Promise<RunResult> {
    const child = this.spawn(ns, cmd);
    let stdout = "", stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    return new Promise((resolve, reject) => {
      const end = (e?: Error) => { clearTimeout(timer); stop?.removeEventListener("abort", onAbort); if (e) reject(e); };
      const onAbort = () => { kill(-child.pid!, "SIGKILL"); end(stop!.reason as Error); };
      const timer = setTimeout(() => { kill(-child.pid!, "SIGKILL"); end(new Error(`${cmd.join(" ")}: no result within ${timeoutMs / 1000} s`)); }, timeoutMs);
      stop?.addEventListener("abort", onAbort);
      child.once("close", (code, signal) => { end(); resolve({ code, signal, stdout, stderr }); });
    });
  }

  /** SIGTERM to a process group, SIGKILL after graceMs; resolves with whether it exited by itself. */
  async stop(child: ChildProcess, graceMs: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return true;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    kill(-child.pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const clean = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), graceMs); })]);
    clearTimeout(timer);
    if (!clean) { kill(-child.pid, "SIGKILL"); await exited; }
    return clean;
  }

  /** The last resort, from a process 'exit' handler (which cannot wait): SIGKILL everything, delete the namespaces. */
  killSync(): void {
    for (const c of this.children) if (c.pid !== undefined) kill(-c.pid, "SIGKILL");
    for (const ns of this.namespaces.splice(0)) {
      for (const p of runSync(["ip", "netns", "pids", ns], false).stdout.split(/\s+/).filter(Boolean)) kill(Number(p), "SIGKILL");
      runSync(["ip", "netns", "del", ns], false);
    }
  }

  /** Kills every process still running and deletes the namespaces; returns what could not be removed. */
  async teardown(): Promise<string[]> {
    await Promise.all([...this.children].map((c) => this.stop(c, 0)));
    for (const ns of this.namespaces.splice(0)) await deleteNamespace(ns);
    return listNamespaces().filter((n) => n.startsWith(this.prefix));
  }
}
