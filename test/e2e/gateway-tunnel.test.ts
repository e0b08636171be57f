// Two gateways with static SAs (src/gateway/static.ts: the worker threads, TUN ↔ ESP-in-UDP, SPD) between
// host namespaces (gateway-topology.ts), needs root: ping both ways over IPv4 and IPv6, a 50 MiB TCP transfer
// whose SHA-256 at the far end matches the sender's, the SA counters, and a clean stop. Each gateway is its
// own process started with `ip netns exec`, as it will run in production: its descriptors, threads and
// device belong to its namespace from the start, and killing it (the harness does on failure) removes all.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cleanup, makeRunDir, setupHarness } from "./harness/index.js";
import { createTopology, GatewayProcess, NET, staticConfigs, type Topology } from "./gateway-topology.js";
import { nodeInNetns } from "./io-topology.js";
import type { StaticStats } from "../../src/gateway/static.js";

setupHarness(["ip", "ping"]);

let topo: Topology;
let gwA: GatewayProcess, gwB: GatewayProcess;

before(async () => {
  topo = createTopology();
  const dir = makeRunDir("gw-tunnel");
  const conf = staticConfigs(dir);
  [gwA, gwB] = await Promise.all([
    GatewayProcess.start(topo.gwA, conf.a, dir, "gwa"),
    GatewayProcess.start(topo.gwB, conf.b, dir, "gwb"),
  ]);
});

after(cleanup);

const MIB = 50;

/** Receives one TCP connection, hashes what it reads; prints { bytes, sha256 }. */
const SINK = `
const net = require("node:net"), crypto = require("node:crypto");
const { address, port } = JSON.parse(process.argv[1]);
const srv = net.createServer((s) => {
  const h = crypto.createHash("sha256");
  let bytes = 0;
  s.on("data", (d) => { h.update(d); bytes += d.length; });
  s.on("end", () => {
    process.stdout.write(JSON.stringify({ bytes, sha256: h.digest("hex") }) + "\\n");
    s.end();
    srv.close();
  });
});
srv.listen(port, address, () => process.stdout.write("ready\\n"));`;

/** Sends \`mib\` MiB of random bytes; prints { bytes, sha256, seconds } once the receiver closed. */
const SOURCE = `
const net = require("node:net"), crypto = require("node:crypto");
const { address, port, mib } = JSON.parse(process.argv[1]);
const h = crypto.createHash("sha256");
let sent = 0, start;
const s = net.connect({ host: address, port }, () => {
  start = process.hrtime.bigint();
  const pump = () => {
    while (sent < mib * 1048576) {
      const b = crypto.randomBytes(1048576);
      h.update(b);
      sent += b.length;
      if (!s.write(b)) return void s.once("drain", pump);
    }
    s.end();
  };
  pump();
});
s.resume();
s.on("close", () => {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ bytes: sent, sha256: h.digest("hex"), seconds }) + "\\n");
});`;

function ping(from: Topology[keyof Topology], to: string): void {
  const r = from.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", to], { check: false, timeoutMs: 15_000 });
  assert.equal(r.code, 0, `ping ${to} from ${from.label}: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /3 packets transmitted, 3 received/, r.stdout);
}

test("ping across the tunnel both ways, IPv4 and IPv6 (IPv6 over an IPv6 outer path)", () => {
  ping(topo.hostA, NET.hostB4);
  ping(topo.hostB, NET.hostA4);
  ping(topo.hostA, NET.hostB6);
  ping(topo.hostB, NET.hostA6);
});

test(`TCP: ${MIB} MiB from host A to host B arrive intact (SHA-256 at the far end)`, async () => {
  const sink = nodeInNetns<{ bytes: number; sha256: string }>(topo.hostB.name, SINK, { address: NET.hostB4, port: 5001 }, 60_000);
  await sink.ready;
  const source = nodeInNetns<{ bytes: number; sha256: string; seconds: number }>(topo.hostA.name, SOURCE,
    { address: NET.hostB4, port: 5001, mib: MIB }, 60_000);
  const [got, sent] = await Promise.all([sink.result, source.result]);
  assert.equal(sent.bytes, MIB * 1048576);
  assert.deepEqual(got, { bytes: sent.bytes, sha256: sent.sha256 });
  process.stdout.write(`# TCP through the tunnel: ${(sent.bytes * 8 / sent.seconds / 1e6).toFixed(0)} Mbit/s\n`);
});

function sa(s: StaticStats, spi: number, direction: "in" | "out") {
  const r = s.sas.find((x) => x.spi === spi && x.direction === direction);
  assert.ok(r, `SA 0x${spi.toString(16)} ${direction}`);
  return r;
}

test("counters: the SAs carried the transfer, nothing was dropped for unknown SPI, replay or authentication", async () => {
  const [a, b] = await Promise.all([gwA.stats(), gwB.stats()]);
  const out = sa(a, 0xa0004, "out"), inB = sa(b, 0xa0004, "in");
  // At most 1400 - 40 bytes of TCP payload per packet (TUN MTU 1400).
  assert.ok(Number(out.packets) >= MIB * 1048576 / 1360, `A sent ${out.packets} packets`);
  assert.ok(Number(inB.bytes) >= MIB * 1048576, `B received ${inB.bytes} inner bytes`);
  assert.ok(Number(inB.packets) <= Number(out.packets));
  for (const [name, s] of [["A", a], ["B", b]] as const) {
    for (const reason of ["unknown_spi", "replay", "replay_old", "auth_failed", "bad_sa"]) {
      assert.equal(s.globalDrops[reason], undefined, `${name}: global ${reason}`);
      for (const x of s.sas) assert.equal(x.drops[reason], undefined, `${name}: SA 0x${x.spi.toString(16)} ${x.direction} ${reason}`);
    }
    for (const x of s.sas) assert.ok(Number(x.packets) > 0, `${name}: SA 0x${x.spi.toString(16)} ${x.direction} carried the pings`);
    const { encap, decap } = s.workers;
    assert.equal(decap.written, decap.decapsulated, `${name}: every decapsulated packet went into the TUN`);
    assert.equal(encap.sent, encap.encapsulated, `${name}: every encapsulated packet was sent`);
    assert.deepEqual([encap.udp.sendErrors, decap.udp.truncated, decap.tun.sendErrors], [0, 0, 0], name);
  }
  assert.equal(a.workers.decap.decapsulated, Number(sa(a, 0xb0004, "in").packets) + Number(sa(a, 0xb0006, "in").packets));
});

test("both gateways stop cleanly: workers leave their loops, final counters written, devices gone", async () => {
  for (const [gw, ns] of [[gwA, topo.gwA], [gwB, topo.gwB]] as const) {
    assert.match(ns.ip(["-o", "link", "show"]).stdout, /: wipsec[ab]\d+:/);
    const { code, stats } = await gw.stop();
    assert.equal(code, 0, gw.log());
    assert.ok(stats.workers.encap.read > 0 && stats.workers.decap.received > 0);
    assert.doesNotMatch(ns.ip(["-o", "link", "show"]).stdout, /: wipsec[ab]\d+:/);
  }
});
