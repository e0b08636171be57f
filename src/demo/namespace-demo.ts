// `wasm-ipsec demo` as root: two real gateways. Four network namespaces (a host behind each gateway),
// swanctl.conf for both from the embedded default (config.ts), two `wasm-ipsec daemon` processes, an IKEv2
// initiation, then traffic the hosts send through the tunnel: ping over IPv4 and IPv6 and a TCP transfer
// whose SHA-256 both ends compute. Everything is torn down at the end, after an error, and on Ctrl-C.
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { callDaemon } from "../control/client.js";
import { formatSas } from "../control/format.js";
import type { IkeStatus } from "../control/protocol.js";
import type { BackendName } from "../crypto/backend.js";
import { CHILD, SIDES, swanctlConf, type Side } from "./config.js";
import { Lab, removeStale } from "./lab.js";
import type { TransferResult } from "./transfer.js";

export interface NamespaceDemoOptions { backend: BackendName; megabytes: number; log: (s: string) => void }

const MAIN_JS = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const TRANSFER_JS = fileURLToPath(new URL("./transfer.js", import.meta.url));
const TRANSFER_PORT = 5001;

/** Why the namespace demo cannot run here, or undefined when it can. */
export function namespaceDemoUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "it needs root (network namespaces, veth links, TUN devices)";
  const missing = ["ip", "ping"].filter((p) => !["/usr/sbin", "/usr/bin", "/sbin", "/bin", ...(process.env.PATH ?? "").split(":")]
    .some((d) => { try { accessSync(join(d, p), constants.X_OK); return true; } catch { return false; } }));
  if (missing.length) return `it needs ${missing.join(" and ")} (apt-get install iproute2 iputils-ping)`;
  try { accessSync("/dev/net/tun", constants.R_OK | constants.W_OK); } catch { return "it needs /dev/net/tun (modprobe tun)"; }
  return undefined;
}

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) { super(`interrupted by ${signal}`); this.name = "Interrupted"; }
}

/** `p`, or a rejection with the abort reason as soon as `stop` fires. */
function abortable<T>(p: Promise<T>, stop: AbortSignal): Promise<T> {
  stop.throwIfAborted();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_r, reject) => { onAbort = () => reject(stop.reason); stop.addEventListener("abort", onAbort); });
  return Promise.race([p, aborted]).finally(() => stop.removeEventListener("abort", onAbort));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Gateway { side: Side; ns: string; host: string; conf: string; socket: string; logFile: string; proc?: ChildProcess }

function tail(file: string, lines = 15): string {
  try { return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).map((l) => `    ${l}`).join("\n"); } catch { return "    (no log)"; }
}

export async function runNamespaceDemo(o: NamespaceDemoOptions): Promise<number> {
  const log = o.log, t0 = Date.now();
  const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) return log(`${sig}: still cleaning up, one moment`);
    log(`\n${sig} received: stopping the demo and removing what it set up`);
    abort.abort(new Interrupted(sig));
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, onSignal);
  const lab = new Lab();
  // A crash (an uncaught exception still runs 'exit' handlers) must not leave namespaces and daemons behind,
  // nor must a closed stdout (`npm start | head`), whose EPIPE would otherwise be such a crash: it is ignored
  // for the rest of the process (the error arrives asynchronously, after any write).
  const onExit = () => lab.killSync();
  process.on("exit", onExit);
  process.stdout.on("error", () => undefined);
  const dir = mkdtempSync(join(tmpdir(), "wasm-ipsec-demo-"));
  const gws: Gateway[] = [];
  let code = 1;
  try {
    const stale = await removeStale();
    if (stale.length) log(`removed namespaces an earlier, killed demo left behind: ${stale.join(", ")}`);
    log(`wasm-ipsec demo: host A ─ gateway A ═ IKEv2 + ESP-in-UDP ═ gateway B ─ host B, each in its own network namespace`);
    gws.push(...topology(lab, dir));
    log(`  namespaces ${gws.map((g) => `${g.host}, ${g.ns}`).join(", ")}`);
    log(`  (look inside while it runs: ip netns exec ${gws[0].ns} ip route show table 221)`);

    const psk = randomBytes(32);
    const [a, b] = gws;
    writeFileSync(a.conf, swanctlConf(SIDES.a, SIDES.b, psk, o.backend), { mode: 0o600 });
    writeFileSync(b.conf, swanctlConf(SIDES.b, SIDES.a, psk, o.backend), { mode: 0o600 });
    log(`\n[1/5] gateway configurations (swanctl.conf, a fresh random PSK): gateway A's, ${a.conf}:\n`);
    log(readFileSync(a.conf, "utf8").trimEnd().split("\n").map((l) => `    ${l}`).join("\n"));
    log(`\n  gateway B's is its mirror image: ${b.conf}`);

    log(`\n[2/5] starting two daemons: wasm-ipsec daemon --config FILE --socket PATH (in ${a.ns}, ${b.ns})`);
    for (const g of gws) g.proc = lab.spawn(g.ns, [process.execPath, MAIN_JS, "daemon", "--config", g.conf, "--socket", g.socket], g.logFile);
    await Promise.all(gws.map((g) => waitForDaemon(g, abort.signal)));
    log(`  both daemons answer on their control sockets (${secs()} s)`);

    log(`\n[3/5] wasm-ipsec --initiate --child ${CHILD} (on gateway A)`);
    const done = await abortable(callDaemon(a.socket, { cmd: "initiate", child: CHILD, timeout: 15 }, (l) => log(`    ${l}`), 20_000), abort.signal);
    log(`  ${String(done)}`);

    log(`\n[4/5] traffic from host A to host B through the tunnel`);
    for (const dst of [SIDES.b.host4, SIDES.b.host6]) await ping(lab, a.host, dst, log, abort.signal);
    await transfer(lab, a.host, b.host, o.megabytes, log, abort.signal);

    log(`\n[5/5] wasm-ipsec --list-sas`);
    for (const g of gws) {
      const sas = await abortable(callDaemon(g.socket, { cmd: "list-sas" }, undefined, 10_000), abort.signal) as IkeStatus[];
      log(`  gateway ${g.side.name}:`);
      log(formatSas(sas).trimEnd().split("\n").map((l) => `    ${l}`).join("\n"));
    }
    code = 0;
  } catch (e) {
    if (e instanceof Interrupted) code = e.signal === "SIGINT" ? 130 : 143;
    else {
      log(`\nthe demo FAILED: ${(e as Error).message}`);
      for (const g of gws) log(`  gateway ${g.side.name}'s log (${g.logFile}), last lines:\n${tail(g.logFile)}`);
    }
  } finally {
    code = await teardown(lab, gws, log, code === 0) || code;
    for (const s of signals) process.off(s, onSignal);
    process.off("exit", onExit);
    if (code === 0 || code > 128) rmSync(dir, { recursive: true, force: true }); // logs are kept after a failure
    else log(`configurations and daemon logs kept in ${dir}`);
    log(code === 0 ? `\ndemo complete in ${secs()} s` : `\ndemo ended after ${secs()} s with exit code ${code}`);
  }
  return code;
}

/** host A ─lan─ gateway A ─wan─ gateway B ─lan─ host B; returns the two gateways (host = its host's namespace). */
function topology(lab: Lab, dir: string): Gateway[] {
  const gws = [SIDES.a, SIDES.b].map((side): Gateway => {
    const tag = side.name.toLowerCase();
    const host = lab.namespace(`host${tag}`), ns = lab.namespace(`gw${tag}`);
    lab.link("lan", host, [`${side.host4}/25`, `${side.host6}/64`], ns, [`${side.gwLan4}/25`, `${side.gwLan6}/64`]);
    lab.ip(host, ["route", "add", "default", "via", side.gwLan4]);
    lab.ip(host, ["-6", "route", "add", "default", "via", side.gwLan6]);
    lab.sysctl(ns, "net.ipv4.ip_forward", "1");
    lab.sysctl(ns, "net.ipv6.conf.all.forwarding", "1");
    return { side, ns, host, conf: join(dir, `gateway-${tag}.conf`), socket: join(dir, `gateway-${tag}.sock`), logFile: join(dir, `gateway-${tag}.log`) };
  });
  const [a, b] = gws;
  lab.link("wan", a.ns, [`${a.side.wan4}/24`, `${a.side.wan6}/64`], b.ns, [`${b.side.wan4}/24`, `${b.side.wan6}/64`]);
  return gws;
}

async function waitForDaemon(g: Gateway, stop: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000; // start-up is 2-3 s, more on a busy machine
  for (;;) {
    stop.throwIfAborted();
    if (g.proc!.exitCode !== null || g.proc!.signalCode !== null) {
      throw new Error(`gateway ${g.side.name}'s daemon exited (${g.proc!.exitCode ?? g.proc!.signalCode}) during start-up`);
    }
    try {
      await callDaemon(g.socket, { cmd: "list-conns" }, undefined, 2000);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`gateway ${g.side.name}'s daemon did not open ${g.socket} within 30 s`);
      await sleep(100);
    }
  }
}

async function ping(lab: Lab, from: string, dst: string, log: (s: string) => void, stop: AbortSignal): Promise<void> {
  const r = await lab.run(from, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", dst], 15_000, stop);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  if (!m || m[2] !== m[1]) throw new Error(`ping ${dst} from host A: ${m ? `${m[2]} of ${m[1]} replies` : "no summary"}\n${r.stdout}${r.stderr}`);
  log(`  ping ${dst}: ${m[2]}/${m[1]} replies, average round trip ${rtt?.[1] ?? "?"} ms — ok`);
}

async function transfer(lab: Lab, from: string, to: string, megabytes: number, log: (s: string) => void, stop: AbortSignal): Promise<void> {
  const bytes = megabytes * 1_000_000, dst = SIDES.b.host4;
  const receiver = lab.spawn(to, [process.execPath, TRANSFER_JS, "receive", dst, String(TRANSFER_PORT)]);
  let out = "", err = "";
  receiver.stdout!.setEncoding("utf8").on("data", (d: string) => { out += d; });
  receiver.stderr!.setEncoding("utf8").on("data", (d: string) => { err += d; });
  const closed = new Promise<void>((r) => receiver.once("close", () => r()));
  const deadline = Date.now() + 15_000;
  while (!out.includes("listening\n")) {
    stop.throwIfAborted();
    if (receiver.exitCode !== null || Date.now() > deadline) throw new Error(`TCP receiver on host B did not start: ${err.trim()}`);
    await sleep(20);
  }
  log(`  TCP: sending ${megabytes} MB of pseudo-random data from host A to ${dst}:${TRANSFER_PORT}, SHA-256 computed at both ends …`);
  const s = await lab.run(from, [process.execPath, TRANSFER_JS, "send", dst, String(TRANSFER_PORT), String(bytes)], 120_000, stop);
  if (s.code !== 0) throw new Error(`TCP sender on host A failed: ${s.stderr.trim()}`);
  let timer: NodeJS.Timeout | undefined; // the receiver reports once it has seen the end of the stream
  await abortable(Promise.race([closed, new Promise((r) => { timer = setTimeout(r, 10_000); })]), stop).finally(() => clearTimeout(timer));
  const lastLine = (t: string) => t.trim().split("\n").pop() ?? "";
  let sent: TransferResult, got: TransferResult;
  try {
    sent = JSON.parse(lastLine(s.stdout)) as TransferResult;
    got = JSON.parse(lastLine(out)) as TransferResult;
  } catch {
    throw new Error(`TCP transfer: no result (sender: ${s.stdout.trim()} ${s.stderr.trim()}; receiver: ${out.trim()} ${err.trim()})`);
  }
  const mbits = got.bytes * 8 / got.seconds / 1e6;
  log(`  TCP: ${got.bytes} bytes received in ${got.seconds.toFixed(2)} s: ${mbits.toFixed(0)} Mbit/s through the tunnel`);
  log(`       SHA-256 sent     ${sent.sha256}`);
  log(`       SHA-256 received ${got.sha256}`);
  if (got.bytes !== sent.bytes || got.sha256 !== sent.sha256) throw new Error("TCP transfer: the received data differs from what was sent");
  log(`  TCP: transfer hash ok`);
}

/** Stops the daemons (A first: it deletes the SAs with B), then everything else; deletes the namespaces. */
async function teardown(lab: Lab, gws: Gateway[], log: (s: string) => void, strict: boolean): Promise<number> {
  log(`\ntearing down: stopping the daemons (SIGTERM), deleting the namespaces`);
  let code = 0;
  for (const g of gws) {
    if (!g.proc) continue;
    const t = Date.now(), clean = await lab.stop(g.proc, 8000);
    const status = g.proc.exitCode ?? g.proc.signalCode;
    log(`  gateway ${g.side.name}: ${clean ? `daemon stopped in ${((Date.now() - t) / 1000).toFixed(1)} s (exit ${status})` : "daemon did not stop within 8 s: killed"}`);
    if (!clean || (strict && status !== 0)) code = 1; // after a success, an unclean daemon exit is a failure
  }
  const left = await lab.teardown();
  if (left.length) { log(`  could not delete ${left.join(", ")}: remove with ip netns del NAME`); return 1; }
  log(`  namespaces deleted; no demo process left running`);
  return code;
}
