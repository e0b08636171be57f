// Everything the harness creates (namespaces, processes, directories) is recorded here so that cleanup() can remove it
// even when a test fails or the process exits early. Every spawned process carries WIPSEC_OWNER=<our pid> in its
// environment, so a later run can find what a crashed run left behind (also processes whose namespace is gone).
import { after } from "node:test";
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, sleepSync } from "./exec.js";

/** Names of this run's namespaces and directories start with this. */
export const RUN_PREFIX = `wipsec-${process.pid}-`;
export const OWNER_ENV = "WIPSEC_OWNER";
const STALE_NAME = /^wipsec-(\d+)-/;

const namespaces = new Set<string>();
const processGroups = new Set<number>();
const dirs = new Set<string>();

export function registerNamespace(name: string): void { namespaces.add(name); }
export function forgetNamespace(name: string): void { namespaces.delete(name); }
export function registerProcessGroup(pgid: number): void { processGroups.add(pgid); }
export function forgetProcessGroup(pgid: number): void { processGroups.delete(pgid); }

/** A fresh directory under the system temp dir, removed by cleanup() unless WIPSEC_KEEP=1 (for post-mortems). */
export function makeRunDir(label: string): string {
  const d = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}${label}-`));
  dirs.add(d);
  return d;
}

/** True if pid exists and is not a zombie (an unreaped child still answers kill(pid, 0)). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Processes (pid, owner pid, command line) that carry the owner marker, i.e. were started by some harness run. */
export function markedProcesses(): { pid: number; owner: number; cmdline: string }[] {
  const out: { pid: number; owner: number; cmdline: string }[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const env = readFileSync(`/proc/${e}/environ`, "latin1").split("\0");
      const mark = env.find((v) => v.startsWith(`${OWNER_ENV}=`));
      if (!mark || !pidAlive(Number(e))) continue;
      const cmdline = readFileSync(`/proc/${e}/cmdline`, "latin1").split("\0").join(" ").trim();
      out.push({ pid: Number(e), owner: Number(mark.slice(OWNER_ENV.length + 1)), cmdline });
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function listNamespaces(): string[] {
  return run(["ip", "netns", "list"], { timeoutMs: 5000 }).stdout.split("\n")
    .map((l) => l.split(" ")[0]).filter((n) => n.length > 0);
}

function killNamespacePids(ns: string): number[] {
  const r = run(["ip", "netns", "pids", ns], { check: false, timeoutMs: 5000 });
  const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const p of pids) kill(p, "SIGKILL");
  return pids;
}

function waitGone(pids: number[], ms: number): void {
  const deadline = Date.now() + ms;
  while (pids.some(pidAlive) && Date.now() < deadline) sleepSync(20);
}

/** Kills the processes inside a namespace, then deletes it. */
export function deleteNamespace(ns: string): void {
  waitGone(killNamespacePids(ns), 2000);
  run(["ip", "netns", "del", ns], { check: false, timeoutMs: 5000 });
}

/**
 * Removes everything this run created: kills its processes (SIGKILL: graceful stops are the job of the objects'
 * own stop methods), deletes its namespaces and, unless WIPSEC_KEEP=1, its directories. Synchronous so that it
 * can run from a process 'exit' handler; safe to call more than once.
 */
export function cleanup(): void {
  const victims: number[] = [];
  for (const pgid of processGroups) { kill(-pgid, "SIGKILL"); victims.push(pgid); }
  processGroups.clear();
  for (const p of markedProcesses()) if (p.owner === process.pid) { kill(p.pid, "SIGKILL"); victims.push(p.pid); }
  waitGone(victims, 2000);
  for (const ns of namespaces) deleteNamespace(ns);
  namespaces.clear();
  if (process.env.WIPSEC_KEEP !== "1") for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Removes namespaces, processes and directories left by earlier runs whose process is dead. */
export function removeStale(): string[] {
  const removed: string[] = [];
  const dead = (name: string) => {
    const m = STALE_NAME.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  };
  for (const p of markedProcesses()) {
    if (p.owner !== process.pid && !pidAlive(p.owner)) { kill(p.pid, "SIGKILL"); removed.push(`process ${p.pid} ${p.cmdline}`); }
  }
  for (const ns of listNamespaces().filter(dead)) { deleteNamespace(ns); removed.push(`netns ${ns}`); }
  for (const d of readdirSync(tmpdir()).filter(dead)) {
    rmSync(join(tmpdir(), d), { recursive: true, force: true });
    removed.push(`dir ${d}`);
  }
  return removed;
}

let processHooks = false;

/** Process-level safety net: cleanup on exit and on SIGINT/SIGTERM (whose default action skips 'exit'). */
export function installProcessHooks(): void {
  if (processHooks) return;
  processHooks = true;
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => { cleanup(); process.exit(128 + (sig === "SIGINT" ? 2 : 15)); });
  }
}

/** The programs the harness runs; `tools` of setupHarness() defaults to all of them. */
export const TOOLS = ["ip", "nft", "ping", "mount", "/usr/lib/ipsec/charon", "swanctl", "dumpcap", "tshark"];

function findProgram(name: string): boolean {
  const dirs = name.includes("/") ? [""] : [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin"];
  return dirs.some((d) => {
    try {
      accessSync(d ? join(d, name) : name, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Call once at the top level of an e2e test file: fails clearly when not root or a program is missing, removes
 * what crashed earlier runs left, and registers cleanup() as a node:test after() hook and on process exit.
 */
export function setupHarness(tools: string[] = TOOLS): void {
  if (process.getuid?.() !== 0) {
    throw new Error("e2e tests need root (network namespaces, veth, mounts): run them as root, as CI does, " +
      "after `bash scripts/install-test-deps.sh`");
  }
  const missing = tools.filter((t) => !findProgram(t));
  if (missing.length > 0) throw new Error(`e2e tests need ${missing.join(", ")}: run \`bash scripts/install-test-deps.sh\``);
  installProcessHooks();
  removeStale();
  after(cleanup);
}
