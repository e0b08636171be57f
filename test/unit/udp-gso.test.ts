// UDP segmentation offload on the ESP-in-UDP socket's send side (src/io/udp.ts): runs of equal-sized
// datagrams to one peer leave as one message with UDP_SEGMENT, and node's own dgram sockets on loopback
// (the oracle: the kernel cuts the message apart on the way) must receive exactly the datagrams, in order.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import { UdpSocket } from "../../src/io/udp.js";
import { SockAddr } from "../../src/io/sockaddr.js";
import { outputs as batchOf } from "./udp-fixtures.js";

const dp = DataPlane.create({ maxSAs: 4, backend: "wasm" });

interface Peer { sock: dgram.Socket; addr: SockAddr; got: Buffer[] }

async function peer(): Promise<Peer> {
  const sock = dgram.createSocket({ type: "udp4", recvBufferSize: 8 << 20 });
  const got: Buffer[] = [];
  sock.on("message", (m) => got.push(m));
  sock.bind(0, "127.0.0.1");
  await once(sock, "listening");
  return { sock, addr: new SockAddr("127.0.0.1", sock.address().port), got };
}

const peers: Peer[] = [];
after(() => { for (const p of peers) p.sock.close(); });

const outputs = (packets: Uint8Array[], drop: number[] = []): PacketBatch => batchOf(dp, packets, drop);

async function received(p: Peer, n: number): Promise<Buffer[]> {
  for (let t = 0; p.got.length < n && t < 200; t++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20)); // nothing more may come
  return p.got.splice(0);
}

const sizes = (lens: number[]) => lens.map((n) => randomBytes(n));

test("runs of one size to one peer share a message; a shorter datagram ends a run; bytes and order intact", async () => {
  const p = await peer(); peers.push(p);
  const s = UdpSocket.open(dp, { address: "127.0.0.1", port: 0 });
  try {
    const pkts = sizes([...Array(20).fill(1200), 300, ...Array(5).fill(1200), 1300, 1300, 40]);
    assert.equal(s.sendBatch(outputs(pkts), p.addr), pkts.length);
    assert.deepEqual(await received(p, pkts.length), pkts.map((x) => Buffer.from(x)));
    // 20 + the short one; 5 (a larger one cannot follow); 1300, 1300 and the short 40
    assert.deepEqual([s.stats.sent, s.stats.gsoSends, s.stats.sendErrors], [pkts.length, 3, 0]);
  } finally {
    s.close();
  }
});

test("a dropped packet is left out of its run; no run spans two peers; limits of 64 datagrams and 65000 bytes", async () => {
  const p = await peer(), q = await peer(); peers.push(p, q);
  const s = UdpSocket.open(dp, { address: "127.0.0.1", port: 0, sendRing: 256 });
  try {
    const pkts = sizes(Array(10).fill(500));
    assert.equal(s.sendBatch(outputs(pkts, [3, 4]), p.addr), 8);
    assert.deepEqual(await received(p, 8), pkts.filter((_, i) => i !== 3 && i !== 4).map((x) => Buffer.from(x)));
    assert.equal(s.stats.gsoSends, 1);

    const alt = sizes(Array(8).fill(700));
    const before = s.stats.gsoSends;
    assert.equal(s.sendBatch(outputs(alt), (i) => (i % 2 ? q.addr : p.addr)), 8);
    assert.deepEqual(await received(p, 4), alt.filter((_, i) => i % 2 === 0).map((x) => Buffer.from(x)));
    assert.deepEqual(await received(q, 4), alt.filter((_, i) => i % 2 === 1).map((x) => Buffer.from(x)));
    assert.equal(s.stats.gsoSends, before, "alternating peers: no run");

    const many = sizes(Array(100).fill(600));   // 64 datagrams, then 36
    const big = sizes(Array(50).fill(1400));    // 46 datagrams (64400 bytes), then 4
    const b0 = s.stats.gsoSends;
    assert.equal(s.sendBatch(outputs(many), p.addr), 100);
    assert.deepEqual(await received(p, 100), many.map((x) => Buffer.from(x)));
    assert.equal(s.sendBatch(outputs(big), p.addr), 50);
    assert.deepEqual(await received(p, 50), big.map((x) => Buffer.from(x)));
    assert.equal(s.stats.gsoSends - b0, 4);
  } finally {
    s.close();
  }
});

test("gso: false sends every datagram on its own", async () => {
  const p = await peer(); peers.push(p);
  const s = UdpSocket.open(dp, { address: "127.0.0.1", port: 0, gso: false });
  try {
    const pkts = sizes(Array(12).fill(900));
    assert.equal(s.sendBatch(outputs(pkts), p.addr), 12);
    assert.deepEqual(await received(p, 12), pkts.map((x) => Buffer.from(x)));
    assert.equal(s.stats.gsoSends, 0);
  } finally {
    s.close();
  }
});
