// Running external commands for the e2e harness: sync and async, always with a timeout, never through a shell
// (arguments go straight to execve, so addresses and paths need no quoting).
import { spawn, spawnSync } from "node:child_process";

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long; default 20 s. */
  timeoutMs?: number;
  /** Extra environment variables, merged over process.env. */
  env?: Record<string, string>;
  /** Written to stdin. */
  input?: string;
  /** Throw CommandError on a non-zero exit or a timeout (default true). */
  check?: boolean;
}

export interface RunResult {
  cmd: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(readonly result: RunResult) {
    const why = result.timedOut ? "timed out" : result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
    super(`${result.cmd.join(" ")}: ${why}\n${tail(result.stderr)}${tail(result.stdout)}`);
    this.name = "CommandError";
  }
}

function tail(s: string, lines = 20): string {
  const t = s.trimEnd();
  return t ? t.split("\n").slice(-lines).join("\n") + "\n" : "";
}

const DEFAULT_TIMEOUT_MS = 20_000;

function finish(result: RunResult, check: boolean | undefined): RunResult {
  if ((check ?? true) && (result.code !== 0 || result.timedOut)) throw new CommandError(result);
  return result;
}

export function run(cmd: string[], opts: RunOptions = {}): RunResult {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = spawnSync(cmd[0], cmd.slice(1), {
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    maxBuffer: 64 << 20,
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT";
  if (r.error && !timedOut) throw new Error(`${cmd.join(" ")}: ${r.error.message}`);
  return finish({ cmd, code: r.status, signal: r.signal, timedOut, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }, opts.check);
}

/** Like run() but leaves the event loop free (needed when the peer being tested runs in this process). */
export function runAsync(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "", timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
    child.on("error", (e) => { clearTimeout(timer); reject(new Error(`${cmd.join(" ")}: ${e.message}`)); });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(finish({ cmd, code, signal, timedOut, stdout, stderr }, opts.check));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.on("error", () => {}); // EPIPE when the command exits without reading its input
    child.stdin.end(opts.input ?? "");
  });
}

/** Blocks the thread; only for the synchronous cleanup paths (process 'exit' handler). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined, or throws after timeoutMs with `what`. */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined,
  intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
