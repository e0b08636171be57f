// Two network namespaces joined by a veth pair, for the I/O tests and bench/io.ts, plus "oracle" helpers
// that run node's own dgram in a child process inside a namespace (an implementation independent of the
// code under test). Documentation addresses only (RFC 5737 192.0.2.0/24, ULA fd00::/8).
import { execFileSync, spawn } from "node:child_process";

export const ADDR = {
  /** veth ends: A 192.0.2.1 / fd00:1::1, B 192.0.2.2 / fd00:1::2. */
  a4: "192.0.2.1", b4: "192.0.2.2", a6: "fd00:1::1", b6: "fd00:1::2",
  /** The TUN device in A and the prefix routed into it. */
  tun4: "192.0.2.193", tunNet4: "192.0.2.192/26", remote4: "192.0.2.200",
  tun6: "fd00:2::1", tunNet6: "fd00:2::/64", remote6: "fd00:2::200",
} as const;

/** Fail (never skip) when the process cannot create network namespaces. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("this test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and TUN devices; run it as root, as CI does");
  }
}

function ip(...args: string[]): void {
  try {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    throw new Error(`ip ${args.join(" ")}: ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}`);
  }
}

export class Topology {
  readonly a: string;
  readonly b: string;

  private constructor(tag: string) {
    this.a = `${tag}-a`;
    this.b = `${tag}-b`;
  }

  /** Namespaces `<tag>-a` and `<tag>-b`; destroy() removes them (and everything in them). */
  static create(tag = `wipsec-io-${process.pid}`): Topology {
    requireRoot();
    const t = new Topology(tag);
    try {
      ip("netns", "add", t.a);
      ip("netns", "add", t.b);
      // Created directly inside the namespaces: short names that cannot clash with the host's.
      ip("link", "add", "va", "netns", t.a, "type", "veth", "peer", "name", "vb", "netns", t.b);
      for (const [ns, dev, v4, v6] of [[t.a, "va", ADDR.a4, ADDR.a6], [t.b, "vb", ADDR.b4, ADDR.b6]]) {
        ip("-n", ns, "link", "set", "lo", "up");
        ip("-n", ns, "addr", "add", `${v4}/25`, "dev", dev);
        ip("-n", ns, "addr", "add", `${v6}/64`, "dev", dev, "nodad");
        ip("-n", ns, "link", "set", dev, "up");
      }
    } catch (e) {
      t.destroy();
      throw e;
    }
    // Also when the process dies of an exception that skips the caller's cleanup (e.g. EPIPE on stdout).
    process.once("exit", t.destroy);
    return t;
  }

  readonly destroy = (): void => {
    process.removeListener("exit", this.destroy);
    for (const ns of [this.a, this.b]) {
      try { execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" }); } catch { /* already gone */ }
    }
  };
}

/** A node script running in a namespace: resolves `ready` when it prints "ready", `result` with the
 *  JSON of its last output line when it exits. */
export interface Child<T> { ready: Promise<void>; result: Promise<T> }

export function nodeInNetns<T>(ns: string, script: string, input: unknown, timeoutMs = 10_000): Child<T> {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script, JSON.stringify(input)],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  let markReady!: () => void;
  const ready = new Promise<void>((r) => { markReady = r; });
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.startsWith("ready\n")) markReady();
  });
  child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const result = new Promise<T>((resolve, reject) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) reject(new Error(`child in ${ns} exited ${code}: ${err || out}`));
      else resolve(JSON.parse(last) as T);
    });
  });
  // A child that dies before "ready" must not leave the test waiting forever.
  result.catch(() => markReady());
  return { ready, result };
}

export interface Received { to: number; hex: string; from: string; port: number }

/** Binds every { type: "udp4"|"udp6", address, port } and collects `count` datagrams (or stops at timeoutMs). */
export const RECEIVER = `
const dgram = require("node:dgram");
const { binds, count, timeoutMs } = JSON.parse(process.argv[1]);
const got = [];
let bound = 0, finished = false;
const socks = binds.map(({ type, address, port }) => {
  const s = dgram.createSocket(type);
  s.on("message", (m, r) => {
    got.push({ to: port, hex: m.toString("hex"), from: r.address, port: r.port });
    if (got.length >= count) done();
  });
  s.bind(port, address, () => { if (++bound === binds.length) process.stdout.write("ready\\n"); });
  return s;
});
const timer = setTimeout(done, timeoutMs);
function done() {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(got) + "\\n");
  for (const s of socks) s.close();
}`;

/** Sends hex `messages` in order from { type, bindPort } to { address, port }; prints { port } (its source port). */
export const SENDER = `
const dgram = require("node:dgram");
const { type, bindPort, address, port, messages } = JSON.parse(process.argv[1]);
const s = dgram.createSocket(type);
s.bind(bindPort ?? 0, () => {
  let i = 0;
  const next = (err) => {
    if (err) throw err;
    if (i === messages.length) {
      process.stdout.write(JSON.stringify({ port: s.address().port }) + "\\n");
      s.close();
      return;
    }
    s.send(Buffer.from(messages[i++], "hex"), port, address, next);
  };
  next();
});`;
