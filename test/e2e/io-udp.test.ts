// ESP-in-UDP socket between two network namespaces (needs root): sendmmsg/recvmmsg through WASM memory,
// checked against the data plane (encap → send → receive → decap) and against node's dgram running in a
// child process in the other namespace.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import { UdpSocket } from "../../src/io/udp.js";
import { SockAddr } from "../../src/io/sockaddr.js";
import { withNetns } from "../../src/io/netns.js";
import { loopback } from "../helpers/dp.js";
import { ipv4Packet, ipv6Packet, hex } from "../helpers/packets.js";
import { Topology, ADDR, nodeInNetns, RECEIVER, SENDER, type Received } from "./io-topology.js";

let topo: Topology | undefined;
let dp: DataPlane;
const open: UdpSocket[] = [];

before(() => {
  topo = Topology.create();
  dp = DataPlane.create({ maxSAs: 64, backend: "wasm" });
});

after(() => {
  for (const s of open) s.close();
  topo?.destroy();
});

function socketIn(ns: string, opts: Parameters<typeof UdpSocket.open>[1] = {}): UdpSocket {
  const s = withNetns(ns, () => UdpSocket.open(dp, opts));
  open.push(s);
  return s;
}

interface Got { bytes: Uint8Array; from: SockAddr }

/** Call recvBatch until `want` datagrams of any kind arrived, handing each round to `round` while the
 *  packets are still in the batch; returns every ESP packet received (copies). */
function receiveAll(s: UdpSocket, batch: PacketBatch, want: number, round?: (got: Got[]) => void): Got[] {
  const all: Got[] = [];
  const start = s.stats.received;
  for (let r = 0; s.stats.received - start < want && r < 50; r++) {
    const n = s.recvBatch(batch, 200);
    const got: Got[] = [];
    for (let k = 0; k < n; k++) {
      const off = batch.slotOffset(k);
      got.push({ bytes: dp.views.u8.slice(off, off + inputLength(batch, k)), from: s.sender(batch, k) });
    }
    round?.(got);
    all.push(...got);
  }
  return all;
}

// A packet's length as its descriptor tells the data plane.
function inputLength(batch: PacketBatch, k: number): number {
  return dp.views.u32[(batch.descOff + k * dp.L.DESC_SIZE + dp.L.D_IN_LEN) >> 2];
}

test("IPv4 and IPv6 ESP: encap → sendBatch (per-SA destinations) → recvBatch → decap, sender recorded", () => {
  const t = topo!;
  const sa = socketIn(t.a), sb = socketIn(t.b);
  assert.equal(sa.port, 4500);
  const v4 = loopback("wasm", { local: { address: ADDR.a4, port: 4500 }, remote: { address: ADDR.b4, port: 4500 } }, dp);
  const v6 = loopback("wasm", { local: { address: ADDR.a6, port: 4500 }, remote: { address: ADDR.b6, port: 4500 } }, dp);
  const inner: Uint8Array[] = [];
  const tx = dp.batch(16);
  for (let i = 0; i < 10; i++) {
    const p = i % 2 ? ipv6Packet({ payloadLen: 40 + i * 100 }) : ipv4Packet({ payloadLen: 20 + i * 120 });
    inner.push(p);
    tx.push(p, i % 2 ? v6.out : v4.out);
  }
  assert.equal(tx.encap(), 10);
  const esp = Array.from({ length: 10 }, (_, i) => hex(tx.output(i)));
  const index = (b: Uint8Array) => { const i = esp.indexOf(hex(b)); assert.ok(i >= 0, "a datagram that was not sent"); return i; };

  assert.equal(sa.sendBatch(tx), 10);
  assert.equal(sa.stats.sent, 10);

  const rx = dp.batch(32);
  const got = receiveAll(sb, rx, 10, (round) => {
    round.forEach((g, k) => {
      const i = index(g.bytes);
      assert.deepEqual([g.from.address, g.from.port], i % 2 ? [ADDR.a6, 4500] : [ADDR.a4, 4500]);
      // Port-floating check against the inbound SAs' remote endpoints.
      assert.equal(sb.senderMatches(rx, k, i % 2 ? v6.in : v4.in), true);
      assert.equal(sb.senderMatches(rx, k, i % 2 ? v4.in : v6.in), false);
    });
    assert.equal(rx.decap(), round.length);
    round.forEach((g, k) => assert.deepEqual(Uint8Array.from(rx.output(k)), inner[index(g.bytes)]));
  });
  assert.equal(got.length, 10);
  assert.equal(new Set(got.map((g) => hex(g.bytes))).size, 10);
  assert.equal(sb.stats.esp, 10);
});

test("senderMatches sees a NAT mapping move (same address, other port)", async () => {
  const t = topo!;
  const sb = socketIn(t.b, { port: 0 });
  const p = loopback("wasm", { local: { address: ADDR.b4, port: sb.port }, remote: { address: ADDR.a4, port: 4500 } }, dp);
  const sender = nodeInNetns<{ port: number }>(t.a, SENDER, {
    type: "udp4", address: ADDR.b4, port: sb.port, messages: [hex(randomBytes(64).fill(0x11, 0, 4))],
  });
  const { port } = await sender.result;
  assert.notEqual(port, 4500);
  const rx = dp.batch(4);
  assert.equal(sb.recvBatch(rx, 2000), 1);
  assert.deepEqual([sb.sender(rx, 0).address, sb.sender(rx, 0).port], [ADDR.a4, port]);
  assert.equal(sb.senderMatches(rx, 0, p.in), false);
  dp.sadb.update(p.in, { remote: { address: ADDR.a4, port } });
  assert.equal(sb.senderMatches(rx, 0, p.in), true);
});

test("demux from node's dgram: ESP kept in order, IKE (non-ESP marker) to the control plane, keepalive, runts and oversize counted", async () => {
  const t = topo!;
  const ike: { msg: Uint8Array; from: SockAddr }[] = [];
  const sb = socketIn(t.b, { port: 0, onControl: (msg, from) => ike.push({ msg, from }) });
  const rx = dp.batch(32, 2048);
  const max = rx.maxPacket;
  const esp = (len: number) => { const b = randomBytes(len); b[0] = 0xc0; return b; }; // SPI ≠ 0
  const ikeMsg = randomBytes(60);
  const espPackets = [esp(100), esp(max), esp(8), esp(1400)];
  const messages = [
    espPackets[0],
    Buffer.concat([Buffer.alloc(4), ikeMsg]),  // IKE behind the non-ESP marker
    Buffer.from([0xff]),                       // NAT keepalive
    espPackets[1],                             // exactly a slot: kept
    esp(max + 1),                              // one byte too many: MSG_TRUNC, dropped
    Buffer.from([1, 2, 3]),                    // runt
    espPackets[2],                             // shortest ESP: SPI + sequence number
    Buffer.alloc(0),                           // empty datagram: runt
    esp(3000),                                 // fragmented on the wire, reassembled, too big
    espPackets[3],
  ];
  const sender = nodeInNetns<{ port: number }>(t.a, SENDER, {
    type: "udp6", address: ADDR.b6, port: sb.port, messages: messages.map(hex),
  });
  const { port } = await sender.result;
  const firstRound: number[] = [];
  const got = receiveAll(sb, rx, messages.length, () => firstRound.push(sb.stats.received));
  assert.ok(firstRound[0] > 1, `one recvmmsg takes several queued datagrams (first call: ${firstRound[0]})`);
  assert.deepEqual(got.map((g) => hex(g.bytes)), espPackets.map(hex));
  for (const g of got) assert.deepEqual([g.from.address, g.from.port], [ADDR.a6, port]);
  const s = sb.stats;
  assert.deepEqual([s.received, s.esp, s.ike, s.keepalives, s.truncated, s.runts], [10, 4, 1, 1, 2, 2]);
  assert.equal(ike.length, 1);
  assert.deepEqual(ike[0].msg, Uint8Array.from(ikeMsg));
  assert.deepEqual([ike[0].from.address, ike[0].from.port], [ADDR.a6, port]);
});

test("sendBatch to node's dgram: per-SA, one peer and per-packet destinations; failed packets and unroutable ones not sent", async () => {
  const t = topo!;
  const sa = socketIn(t.a, { port: 0 });
  const recv = nodeInNetns<Received[]>(t.b, RECEIVER, {
    binds: [{ type: "udp4", address: ADDR.b4, port: 5001 }, { type: "udp6", address: ADDR.b6, port: 5002 }],
    count: 11, timeoutMs: 5000,
  });
  await recv.ready;
  const v4 = loopback("wasm", { remote: { address: ADDR.b4, port: 5001 } }, dp);
  const v6 = loopback("wasm", { remote: { address: ADDR.b6, port: 5002 } }, dp);
  const gone = dp.sadb.install({ spi: 0x5a5a5a, direction: "out", mode: "tunnel", key: randomBytes(16), salt: randomBytes(4) });
  dp.sadb.delete(gone);
  const tx = dp.batch(8);
  for (let i = 0; i < 6; i++) tx.push(ipv4Packet({ payloadLen: 30 + i }), i === 3 ? gone : i % 2 ? v6.out : v4.out);
  assert.equal(tx.encap(), 5);
  const esp = Array.from({ length: 6 }, (_, i) => hex(tx.output(i)));

  assert.equal(sa.sendBatch(tx), 5);                                   // packet 3 failed encap
  assert.equal(sa.sendBatch(tx, new SockAddr(ADDR.b4, 5001)), 5);      // all to one peer
  const to6 = new SockAddr(ADDR.b6, 5002);
  assert.equal(sa.sendBatch(tx, (i) => (i === 0 ? to6 : null)), 1);   // per packet; null = unroutable
  assert.equal(sa.stats.unroutable, 4);

  const got = await recv.result;
  const want = [
    ...[0, 1, 2, 4, 5].map((i) => ({ to: i % 2 ? 5002 : 5001, hex: esp[i], from: i % 2 ? ADDR.a6 : ADDR.a4 })),
    ...[0, 1, 2, 4, 5].map((i) => ({ to: 5001, hex: esp[i], from: ADDR.a4 })),
    { to: 5002, hex: esp[0], from: ADDR.a6 },
  ];
  const key = (r: { to: number; hex: string; from: string }) => `${r.to} ${r.from} ${r.hex}`;
  assert.deepEqual(got.map(key).sort(), want.map(key).sort());
  for (const r of got) assert.equal(r.port, sa.port);
});

test("IKE and keepalives sent on the socket carry the marker / the single 0xFF byte", async () => {
  const t = topo!;
  const sa = socketIn(t.a, { port: 0 });
  const recv = nodeInNetns<Received[]>(t.b, RECEIVER, {
    binds: [{ type: "udp4", address: ADDR.b4, port: 5003 }], count: 2, timeoutMs: 5000,
  });
  await recv.ready;
  const msg = randomBytes(44);
  sa.sendControl(msg, new SockAddr(ADDR.b4, 5003));
  sa.sendKeepalive(new SockAddr(ADDR.b4, 5003));
  const got = await recv.result;
  assert.deepEqual(got.map((r) => r.hex), ["00000000" + hex(msg), "ff"]);
});

test("an IPv4-only socket cannot reach IPv6 SAs: counted as unroutable, IPv4 still sent", async () => {
  const t = topo!;
  const s4 = socketIn(t.a, { address: ADDR.a4, port: 0 });
  assert.equal(s4.version, 4);
  const recv = nodeInNetns<Received[]>(t.b, RECEIVER, {
    binds: [{ type: "udp4", address: ADDR.b4, port: 5004 }], count: 1, timeoutMs: 5000,
  });
  await recv.ready;
  const v4 = loopback("wasm", { remote: { address: ADDR.b4, port: 5004 } }, dp);
  const v6 = loopback("wasm", { remote: { address: ADDR.b6, port: 5004 } }, dp);
  const tx = dp.batch(2);
  tx.push(ipv4Packet(), v6.out);
  tx.push(ipv4Packet(), v4.out);
  assert.equal(tx.encap(), 2);
  assert.equal(s4.sendBatch(tx), 1);
  assert.equal(s4.stats.unroutable, 1);
  const got = await recv.result;
  assert.deepEqual(got.map((r) => [r.hex, r.from]), [[hex(tx.output(1)), ADDR.a4]]);
  assert.throws(() => s4.sendKeepalive(new SockAddr(ADDR.b6, 5004)), /cannot reach/);
});
