// Traffic across a tunnel, seen from the test: pings with explicit inner source addresses, and TCP transfers
// (./tcp.ts) whose SHA-256 at the receiving end must equal the sender's.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeRunDir, waitUntil, type Netns, type NsProcess } from "../harness/index.js";
import type { SinkResult, SourceResult } from "./tcp.js";
import type { ProbeInput, ProbeResult } from "./probe.js";

const TCP_JS = fileURLToPath(new URL("./tcp.js", import.meta.url));
const PROBE_JS = fileURLToPath(new URL("./probe.js", import.meta.url));

/** Pings `to` from namespace `ns` with source address `src` (an inner address: the TUN routes name no source). */
export async function ping(ns: Netns, src: string, to: string, count = 3): Promise<void> {
  const r = await ns.execAsync(["ping", "-n", "-c", String(count), "-i", "0.2", "-W", "2", "-I", src, to], { check: false, timeoutMs: 20_000 });
  assert.equal(r.code, 0, `ping ${to} from ${src} in ${ns.name}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`${count} packets transmitted, ${count} received`), r.stdout);
}

/** Pings until one answer comes back (a tunnel being set up or re-established), or fails after timeoutMs. */
export async function pingUntilAnswered(ns: Netns, src: string, to: string, timeoutMs: number): Promise<void> {
  await waitUntil(`an answer from ${to} to ${src} in ${ns.name}`, timeoutMs, async () => {
    const r = await ns.execAsync(["ping", "-n", "-c", "1", "-W", "1", "-I", src, to], { check: false, timeoutMs: 5000 });
    return r.code === 0 ? true : undefined;
  }, 200);
}

export interface TransferResult { sent: SourceResult; received: SinkResult; mbps: number }

export interface Transfer {
  /** Ends a transfer started with bytes = 0 (the source sends until told). */
  stop(): void;
  result: Promise<TransferResult>;
}

function lastJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  const line = readFileSync(path, "utf8").trim().split("\n").filter((l) => l.startsWith("{")).pop();
  return line ? (JSON.parse(line) as T) : undefined;
}

async function finished<T>(p: NsProcess, log: string, what: string, timeoutMs: number): Promise<T> {
  const timer = setTimeout(() => void p.stop("SIGKILL"), timeoutMs);
  const status = await p.exited;
  clearTimeout(timer);
  const r = lastJson<T>(log);
  if (status.code !== 0 || !r) throw new Error(`${what} failed (${JSON.stringify(status)}): ${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
  return r;
}

export interface TransferSpec {
  from: Netns; src: string;
  to: Netns; dst: string;
  port: number;
  /** Bytes to send; 0 = until stop(). */
  bytes: number;
  timeoutMs?: number;
}

/** Starts a sink in `to` and a source in `from`; resolves once bytes flow. */
export async function startTransfer(t: TransferSpec): Promise<Transfer> {
  const dir = makeRunDir("tcp");
  const sinkLog = join(dir, "sink.out"), sourceLog = join(dir, "source.out");
  const sink = t.to.spawn([process.execPath, TCP_JS, "sink", JSON.stringify({ address: t.dst, port: t.port })], { logFile: sinkLog });
  await waitUntil(`TCP sink on ${t.dst}:${t.port}`, 10_000, () => {
    if (sink.exitStatus) throw new Error(`sink exited: ${readFileSync(sinkLog, "utf8")}`);
    return existsSync(sinkLog) && readFileSync(sinkLog, "utf8").includes("listening") ? true : undefined;
  });
  const source = t.from.spawn([process.execPath, TCP_JS, "source",
    JSON.stringify({ address: t.dst, port: t.port, localAddress: t.src, bytes: t.bytes })], { logFile: sourceLog });
  const timeoutMs = t.timeoutMs ?? 90_000;
  const result = Promise.all([
    finished<SourceResult>(source, sourceLog, `TCP source ${t.src} -> ${t.dst}`, timeoutMs),
    finished<SinkResult>(sink, sinkLog, `TCP sink ${t.dst}`, timeoutMs),
  ]).then(([sent, received]) => ({ sent, received, mbps: (sent.bytes * 8) / sent.seconds / 1e6 }));
  result.catch(() => undefined); // awaited by the caller; never an unhandled rejection meanwhile
  return { stop: () => { try { process.kill(source.pid, "SIGUSR2"); } catch { /* already done */ } }, result };
}

/** A whole transfer: `bytes` from `from` to `to`, checked end to end. */
export async function transfer(t: TransferSpec): Promise<TransferResult> {
  const r = await (await startTransfer(t)).result;
  assertIntact(r, t.bytes);
  return r;
}

export function assertIntact(r: TransferResult, bytes?: number): void {
  if (bytes) assert.equal(r.sent.bytes, bytes, "the source sent everything");
  assert.deepEqual(r.received, { bytes: r.sent.bytes, sha256: r.sent.sha256 }, "the sink received exactly what was sent");
}

/** Sends raw datagrams from `ns` (./probe.ts) and returns what came back. */
export async function probe(ns: Netns, input: ProbeInput): Promise<ProbeResult> {
  const dir = makeRunDir("probe");
  writeFileSync(join(dir, "input.json"), JSON.stringify(input));
  const log = join(dir, "probe.out");
  return finished<ProbeResult>(ns.spawn([process.execPath, PROBE_JS, join(dir, "input.json")], { logFile: log }), log, "probe", 30_000);
}

/** TCP throughput by iperf3 over `seconds` (Mbit/s received): a figure to compare, no integrity check. */
export async function iperf(from: Netns, src: string, to: Netns, dst: string, seconds = 3): Promise<number> {
  const dir = makeRunDir("iperf");
  const log = join(dir, "server.out");
  const server = to.spawn(["iperf3", "--server", "--one-off", "--forceflush", "--bind", dst, "--port", "5201"], { logFile: log });
  try {
    await waitUntil(`iperf3 server on ${dst}`, 10_000, () => {
      if (server.exitStatus) throw new Error(`iperf3 server exited: ${readFileSync(log, "utf8")}`);
      return existsSync(log) && readFileSync(log, "utf8").includes("Server listening") ? true : undefined;
    });
    const r = await from.execAsync(["iperf3", "--client", dst, "--bind", src, "--port", "5201", "--time", String(seconds), "--json"],
      { timeoutMs: (seconds + 20) * 1000 });
    return (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
  } finally {
    await server.stop("SIGTERM", 2000);
  }
}
