// The data-plane workers (src/gateway/workers.ts) driven from this process as a gateway's main thread would
// (needs root): the TUN device and the UDP socket are opened once here, inside namespace "wg" (withNetns),
// and adopted by the workers; the peer in namespace "wp" is node's dgram in a child process, and its ESP is
// built and opened by the test's own ESP oracle (node:crypto). Covers TRAP policies (one acquire per
// policy, bounded queue, release after the SA is up, failure, timeout), IKE on port 4500 to the main
// thread and a reply on the same socket, NAT keepalives, NAT mapping reports, and a clean stop.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cleanup, connect, setupHarness, waitUntil, type Netns } from "./harness/index.js";
import { gatewayNetns } from "./gateway-topology.js";
import { nodeInNetns, RECEIVER, SENDER, type Received } from "./io-topology.js";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { cidr } from "../../src/dataplane/selectors.js";
import { Tun } from "../../src/io/tun.js";
import { UdpSocket } from "../../src/io/udp.js";
import { SockAddr } from "../../src/io/sockaddr.js";
import { withNetns } from "../../src/io/netns.js";
import { DataPlaneWorkers, type GatewayStats } from "../../src/gateway/workers.js";
import { oracleOpen, oracleSeal } from "../helpers/esp-oracle.js";
import { ipv4Packet, hex } from "../helpers/packets.js";

setupHarness(["ip"]);

const GW = "192.0.2.1", PEER = "192.0.2.2", INNER = "198.51.100.1";
let gw: Netns, peer: Netns;
let dp: DataPlane, tun: Tun, udp: UdpSocket, workers: DataPlaneWorkers;
const acquires: { policyId: number; packet: Uint8Array }[] = [];
const ike: { message: Uint8Array; from: SockAddr }[] = [];
const moved: { sa: number; from: SockAddr }[] = [];
const errors: Error[] = [];

before(async () => {
  gw = gatewayNetns("wg");
  peer = gatewayNetns("wp");
  connect({ ns: gw, iface: "wan", addrs: [`${GW}/24`] }, { ns: peer, iface: "wan", addrs: [`${PEER}/24`] });
  gw.addLoopbackAddress(INNER);
  dp = DataPlane.create({ maxSAs: 16 });
  tun = Tun.open(dp, { netns: gw.name, name: "wipsecw%d", mtu: 1400 });
  gw.ip(["route", "add", "203.0.113.0/24", "dev", tun.name, "src", INNER]);
  udp = withNetns(gw.name, () => UdpSocket.open(dp, { port: 4500 }));
  dp.spd.set([
    { id: 5, action: "trap", local: cidr("198.51.100.0/25"), remote: cidr("203.0.113.0/25") },
    { id: 6, action: "trap", local: cidr("198.51.100.0/25"), remote: cidr("203.0.113.128/25") },
  ]);
  workers = await DataPlaneWorkers.start(dp, {
    tun, udp, trapQueue: 64, trapTimeoutMs: 3000,
    onAcquire: (policyId, packet) => acquires.push({ policyId, packet }),
    onIke: (message, from) => ike.push({ message, from }),
    onNatMapping: (sa, from) => moved.push({ sa, from }),
    onError: (e) => errors.push(e),
  });
});

after(async () => {
  await workers?.stop().catch(() => undefined);
  udp?.close();
  tun?.close();
  cleanup();
  assert.deepEqual(errors, []);
});

/** IPv4 header + UDP header as the kernel built them, parsed here. */
function parseUdp4(p: Uint8Array) {
  const h = (p[0] & 15) * 4;
  return {
    src: Array.from(p.subarray(12, 16)).join("."), dst: Array.from(p.subarray(16, 20)).join("."),
    proto: p[9], dport: (p[h + 2] << 8) | p[h + 3], payload: hex(p.subarray(h + 8)),
  };
}

async function statsWhen(what: string, ok: (s: GatewayStats) => boolean): Promise<GatewayStats> {
  return waitUntil(what, 10_000, async () => { const s = await workers.stats(); return ok(s) ? s : undefined; });
}

const send = (ns: Netns, to: string, port: number, messages: string[], bindPort?: number) =>
  nodeInNetns<{ port: number }>(ns.name, SENDER, { type: "udp4", address: to, port, messages, bindPort }).result;

function outboundSa(spi: number) {
  const key = randomBytes(16), salt = randomBytes(4);
  const handle = dp.sadb.install({
    spi, direction: "out", mode: "tunnel", key, salt, udpEncap: true,
    local: { address: GW, port: 4500 }, remote: { address: PEER, port: 4500 },
  });
  return { handle, oracle: { spi, key, salt, icv: 16 } };
}

test("TRAP: one acquire per policy, packets queued; after the SA is up they leave in order, encapsulated", async () => {
  const recv = nodeInNetns<Received[]>(peer.name, RECEIVER, { binds: [{ type: "udp4", address: PEER, port: 4500 }], count: 3, timeoutMs: 10_000 });
  await recv.ready;
  const messages = [1, 2, 3].map(() => hex(randomBytes(40)));
  await send(gw, "203.0.113.10", 7000, messages);
  await statsWhen("3 packets queued", (s) => s.encap.trapQueued === 3);
  assert.equal(acquires.length, 1);
  assert.equal(acquires[0].policyId, 5);
  assert.deepEqual(parseUdp4(acquires[0].packet), { src: INNER, dst: "203.0.113.10", proto: 17, dport: 7000, payload: messages[0] });

  // The control plane negotiated (here: installed) the SA and points the trap policy at it.
  const sa = outboundSa(0x7001);
  assert.equal(dp.spd.setHandle(5, sa.handle), 1);
  workers.saUp(5);
  const got = await recv.result;
  assert.equal(got.length, 3);
  const opened = got.map((r) => {
    assert.deepEqual([r.from, r.port], [GW, 4500]);
    return oracleOpen(sa.oracle, Buffer.from(r.hex, "hex"));
  });
  assert.deepEqual(opened.map((o) => o.seq), [1n, 2n, 3n]);
  assert.deepEqual(opened.map((o) => [o.nextHeader, parseUdp4(o.payload).payload]), messages.map((m) => [4, m]));
  const s = await workers.stats();
  assert.deepEqual([s.encap.acquires, s.encap.trapResent, s.encap.trapDropped], [1, 3, 0]);
});

test("TRAP: the queue is bounded, a failed negotiation drops it, and so does the timeout (then the policy asks again)", async () => {
  const before = (await workers.stats()).encap;
  const sent = (s: GatewayStats) => s.encap.trapQueued + s.encap.trapDropped - before.trapQueued - before.trapDropped;
  await send(gw, "203.0.113.200", 7001, Array.from({ length: 70 }, () => hex(randomBytes(20))));
  let s = await statsWhen("70 packets trapped", (x) => sent(x) === 70);
  assert.deepEqual([s.encap.trapQueued - before.trapQueued, s.encap.trapDropped - before.trapDropped], [64, 6]);
  assert.deepEqual(acquires.filter((a) => a.policyId === 6).length, 1);

  workers.acquireFailed(6);
  s = await statsWhen("the queue dropped", (x) => x.encap.trapDropped - before.trapDropped === 70);
  await send(gw, "203.0.113.200", 7001, [hex(randomBytes(20))]);
  await waitUntil("a new acquire", 5000, () => (acquires.filter((a) => a.policyId === 6).length === 2 ? true : undefined));
  s = await statsWhen("the timeout dropped it", (x) => x.encap.trapDropped - before.trapDropped === 71);
  await send(gw, "203.0.113.200", 7001, [hex(randomBytes(20))]);
  await waitUntil("an acquire after the timeout", 5000, () => (acquires.filter((a) => a.policyId === 6).length === 3 ? true : undefined));
  workers.acquireFailed(6);
  assert.equal(s.encap.trapResent, 3, "nothing of policy 6 was sent");
});

/** Sends IKE (behind the non-ESP marker) and a NAT keepalive to the gateway, then waits for one reply. */
const IKE_PEER = `
const dgram = require("node:dgram");
const { to, ike } = JSON.parse(process.argv[1]);
const s = dgram.createSocket("udp4");
const timer = setTimeout(() => { process.stdout.write("null\\n"); s.close(); }, 8000);
s.on("message", (m, r) => {
  clearTimeout(timer);
  process.stdout.write(JSON.stringify({ port: s.address().port, hex: m.toString("hex"), from: r.address, fromPort: r.port }) + "\\n");
  s.close();
});
s.bind(0, () => {
  s.send(Buffer.from("00000000" + ike, "hex"), 4500, to, () => s.send(Buffer.from([0xff]), 4500, to));
});`;

test("IKE on port 4500 reaches the main thread with its sender; the reply leaves from the same socket; keepalives counted", async () => {
  const message = randomBytes(80), reply = randomBytes(60);
  const child = nodeInNetns<{ port: number; hex: string; from: string; fromPort: number } | null>(peer.name, IKE_PEER, { to: GW, ike: hex(message) });
  await waitUntil("IKE at the main thread", 5000, () => (ike.length === 1 ? true : undefined));
  assert.deepEqual(ike[0].message, Uint8Array.from(message));
  assert.equal(ike[0].from.address, PEER);
  udp.sendControl(reply, ike[0].from);
  const r = await child.result;
  assert.ok(r, "the peer got a reply");
  assert.deepEqual(r, { port: ike[0].from.port, hex: "00000000" + hex(reply), from: GW, fromPort: 4500 });
  const s = await statsWhen("the keepalive", (x) => x.decap.udp.keepalives === 1);
  assert.equal(s.decap.udp.ike, 1);
});

test("NAT mapping: authenticated ESP from a new port is reported once; after the SA follows it, no more reports", async () => {
  const key = randomBytes(16), salt = randomBytes(4), spi = 0x8001;
  const inH = dp.sadb.install({
    spi, direction: "in", mode: "tunnel", key, salt, udpEncap: true,
    local: { address: GW, port: 4500 }, remote: { address: PEER, port: 4500 },
    localTs: [cidr("198.51.100.0/25")], remoteTs: [cidr("203.0.113.0/24")],
  });
  const sink = nodeInNetns<Received[]>(gw.name, RECEIVER, { binds: [{ type: "udp4", address: INNER, port: 9999 }], count: 3, timeoutMs: 10_000 });
  await sink.ready;
  const payloads = [1, 2, 3].map(() => randomBytes(30));
  const esp = (seq: number) => hex(oracleSeal({ spi, key, salt, icv: 16 }, BigInt(seq),
    ipv4Packet({ src: "203.0.113.10", dst: INNER, sport: 5555, dport: 9999, payload: payloads[seq - 1] }), 4));
  const before = (await workers.stats()).decap.decapsulated;
  await send(peer, GW, 4500, [esp(1), esp(2)], 40000);
  await statsWhen("2 packets decapsulated", (s) => s.decap.decapsulated === before + 2);
  assert.equal(moved.length, 1);
  assert.equal(moved[0].sa, inH);
  assert.deepEqual([moved[0].from.address, moved[0].from.port], [PEER, 40000]);

  dp.sadb.update(inH, { remote: { address: PEER, port: 40000 } });
  await send(peer, GW, 4500, [esp(3)], 40000);
  await statsWhen("the third packet", (s) => s.decap.decapsulated === before + 3);
  assert.equal(moved.length, 1);
  const got = await sink.result;
  assert.deepEqual(got.map((g) => [g.hex, g.from, g.port]), payloads.map((p) => [hex(p), "203.0.113.10", 5555]));
});

test("stop: both workers leave their loops (even blocked in poll) with their counters; the descriptors stay with the main thread", async () => {
  const final = await workers.stop();
  assert.ok(final.encap.read >= 75 && final.decap.received >= 3, JSON.stringify(final));
  assert.equal(await workers.stop(), final, "stopping twice is harmless");
  udp.sendKeepalive(new SockAddr(PEER, 4500)); // the socket is still open: the workers only adopted it
});
