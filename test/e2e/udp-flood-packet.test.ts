// The tunnel bench's packet-path generator (bench/lib/udp-flood.ts --path packet) against a real kernel
// (needs root): frames sent from namespace A on an AF_PACKET socket, to B's own address and, through B as
// the next hop, to an address B routes to itself, reach B's recvmmsg() sink all counted, in order, with no
// checksum error in B's UDP counters: the kernel, not our code, judges the headers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SendResult, SinkResult } from "../../bench/lib/udp-flood.js";
import { Topology, ADDR } from "./io-topology.js";

const FLOOD_JS = fileURLToPath(new URL("../../bench/lib/udp-flood.js", import.meta.url));
/** Addresses on B's loopback, reached from A through B's veth end as the gateway. */
const ROUTED = { v4: "198.51.100.1", v6: "fd00:3::1" };

let topo: Topology | undefined;

before(() => {
  topo = Topology.create(`wipsec-flood-${process.pid}`);
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  ip("-n", topo.b, "addr", "add", `${ROUTED.v4}/32`, "dev", "lo");
  ip("-n", topo.b, "addr", "add", `${ROUTED.v6}/128`, "dev", "lo");
  ip("-n", topo.a, "route", "add", `${ROUTED.v4}/32`, "via", ADDR.b4);
  ip("-n", topo.a, "route", "add", `${ROUTED.v6}/128`, "via", ADDR.b6);
});

after(() => topo?.destroy());

/** B's UDP counters (IPv4 or IPv6 MIB): datagrams delivered and checksum errors. */
function udpCounters(ns: string, v6: boolean): { in: number; csumErrors: number } {
  if (v6) {
    const t = execFileSync("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp6"], { encoding: "utf8" });
    const get = (k: string) => Number(new RegExp(`^${k}\\s+(\\d+)`, "m").exec(t)?.[1] ?? NaN);
    return { in: get("Udp6InDatagrams"), csumErrors: get("Udp6InCsumErrors") };
  }
  const lines = execFileSync("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp"], { encoding: "utf8" }).split("\n").filter((l) => l.startsWith("Udp:"));
  const keys = lines[0].split(/\s+/), vals = lines[1].split(/\s+/).map(Number);
  const get = (k: string) => vals[keys.indexOf(k)];
  return { in: get("InDatagrams"), csumErrors: get("InCsumErrors") };
}

async function flood(to: string, flows: number, length: number, interleave: boolean): Promise<{ sent: SendResult; got: SinkResult; counters: { in: number; csumErrors: number } }> {
  const t = topo!, v6 = to.includes(":"), run = String(Math.floor(Math.random() * 2 ** 32));
  const before = udpCounters(t.b, v6);
  const sink = spawn("ip", ["netns", "exec", t.b, process.execPath, FLOOD_JS, "sink", "--bind", to, "--port", "5202", "--run", run, "--flows", String(flows)],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  sink.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  sink.stderr.on("data", (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => sink.on("close", r));
  try {
    for (let i = 0; i < 200 && !out.includes("ready"); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(out.includes("ready"), `sink did not start: ${err}`);
    const sent = JSON.parse(execFileSync("ip", ["netns", "exec", t.a, process.execPath, FLOOD_JS, "send", "--path", "packet", "--to", to, "--port", "5202",
      "--run", run, "--pps", "20000", "--seconds", "0.5", "--flows", String(flows), "--length", String(length), ...(interleave ? ["--interleave"] : [])],
      { encoding: "utf8", timeout: 30_000 }).trim().split("\n").pop()!) as SendResult;
    await new Promise((r) => setTimeout(r, 200));
    sink.kill("SIGTERM");
    assert.equal(await exited, 0, err);
    const got = JSON.parse(out.trim().split("\n").pop()!) as SinkResult;
    const after = udpCounters(t.b, v6);
    return { sent, got, counters: { in: after.in - before.in, csumErrors: after.csumErrors - before.csumErrors } };
  } finally {
    if (sink.exitCode === null) sink.kill("SIGKILL");
  }
}

for (const [label, to, flows, length, interleave] of [
  ["IPv4, on the link", ADDR.b4, 1, 64, false], ["IPv4, through the next hop, 3 flows, odd length", ROUTED.v4, 3, 101, false],
  ["IPv6, on the link", ADDR.b6, 1, 64, false], ["IPv6, through the next hop, 3 flows, odd length", ROUTED.v6, 3, 101, false],
  ["IPv4, 5 flows interleaved", ROUTED.v4, 5, 64, true], ["IPv6, 7 flows interleaved", ROUTED.v6, 7, 64, true],
] as const) {
  test(`packet path, ${label}: every frame arrives as a datagram the kernel accepts`, async () => {
    const { sent, got, counters } = await flood(to, flows, length, interleave);
    assert.equal(sent.sent, 10_000);
    assert.equal(sent.errors, 0, sent.lastErrno);
    assert.deepEqual({ received: got.received, lost: got.lost, reordered: got.reordered, duplicates: got.duplicates, stray: got.stray },
      { received: 10_000, lost: 0, reordered: 0, duplicates: 0, stray: 0 });
    assert.equal(got.next.reduce((n, x) => n + x, 0), 10_000);
    if (interleave) assert.ok(Math.max(...got.next) - Math.min(...got.next) <= 1, `the flows took turns: ${got.next}`);
    assert.equal(counters.csumErrors, 0, "UDP checksum errors at B");
    assert.ok(counters.in >= 10_000, `B's UDP delivered ${counters.in}`);
  });
}

test("packet path: an address with no route is a clear error", () => {
  const t = topo!;
  assert.throws(() => execFileSync("ip", ["netns", "exec", t.a, process.execPath, FLOOD_JS, "send", "--path", "packet", "--to", "203.0.113.9", "--port", "5202",
    "--run", "1", "--pps", "1000", "--seconds", "0.1"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }), /no route to 203\.0\.113\.9: .*unreachable/);
});
