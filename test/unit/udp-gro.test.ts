// UDP_GRO on the ESP-in-UDP socket's receive side (src/io/udp.ts): a peer's GSO run arrives as one buffer,
// which recvBatch() cuts into its datagrams, one batch slot each, in order; what does not fit in the batch
// waits for the next call; IKE, keepalives and runts inside a run are sorted out per datagram. The sender
// is our own GSO send (udp-gso.test.ts checks it against node:dgram); here the receiving side is checked
// against the bytes sent, and against a socket without GRO, where the kernel cuts the run apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import { UdpSocket, type UdpOptions } from "../../src/io/udp.js";
import { SockAddr } from "../../src/io/sockaddr.js";
import { outputs } from "./udp-fixtures.js";

const dp = DataPlane.create({ maxSAs: 4, backend: "wasm" });

/** n ESP-looking datagrams of `size` bytes (never the non-ESP marker). */
function esp(n: number, size: number): Uint8Array[] {
  return Array.from({ length: n }, () => { const p = randomBytes(size); p[0] |= 1; return new Uint8Array(p); });
}

function packet(b: PacketBatch, i: number): Buffer {
  const d = (b.descOff + i * dp.L.DESC_SIZE) >> 2, u32 = dp.views.refresh().u32;
  const off = u32[d + (dp.L.D_IN_OFF >> 2)], len = u32[d + (dp.L.D_IN_LEN >> 2)];
  assert.equal(off, b.slotOffset(i));
  return Buffer.from(dp.views.u8.subarray(off, off + len));
}

/** Receive until `want` packets came (or 2 s passed), one recvBatch() at a time; returns them and the counts per call. */
function receive(r: UdpSocket, b: PacketBatch, want: number): { got: Buffer[]; calls: number[] } {
  const got: Buffer[] = [], calls: number[] = [];
  const end = Date.now() + 2000;
  while (got.length < want && Date.now() < end) {
    const n = r.recvBatch(b, 100);
    if (n === 0) continue;
    calls.push(n);
    for (let i = 0; i < n; i++) got.push(packet(b, i));
  }
  return { got, calls };
}

function pair(opts: UdpOptions = {}): { s: UdpSocket; r: UdpSocket; to: SockAddr; close: () => void } {
  const s = UdpSocket.open(dp, { address: "127.0.0.1", port: 0, sendRing: 256 });
  const r = UdpSocket.open(dp, { address: "127.0.0.1", port: 0, receiveBuffer: 4 << 20, ...opts });
  return { s, r, to: new SockAddr("127.0.0.1", r.port), close: () => { s.close(); r.close(); } };
}

test("a GSO run arrives as one GRO buffer and leaves as its datagrams, in order, bytes intact, one sender", () => {
  const { s, r, to, close } = pair();
  try {
    assert.equal(r.gro, true, "this kernel (≥ 5.0) takes UDP_GRO");
    const pkts = esp(40, 300);
    assert.equal(s.sendBatch(outputs(dp, pkts), to), 40);
    assert.equal(s.stats.gsoSends, 1);
    const b = dp.batch(64);
    const { got, calls } = receive(r, b, 40);
    assert.deepEqual(got, pkts.map((p) => Buffer.from(p)));
    assert.deepEqual(calls, [40]);
    assert.deepEqual([r.stats.received, r.stats.esp, r.stats.groBuffers], [40, 40, 1]);
    for (let i = 1; i < 40; i++) assert.equal(r.sourceOf(b, i), r.sourceOf(b, 0));
    assert.equal(r.sender(b, 39).toString(), `127.0.0.1:${s.port}`);
  } finally {
    close();
  }
});

test("datagrams beyond the batch's capacity come with the next recvBatch(); runs of two sizes stay apart", () => {
  const { s, r, to, close } = pair();
  try {
    const pkts = [...esp(20, 200), ...esp(7, 120)];
    assert.equal(s.sendBatch(outputs(dp, pkts), to), 27);
    const b = dp.batch(8);
    const { got, calls } = receive(r, b, 27);
    assert.deepEqual(got, pkts.map((p) => Buffer.from(p)));
    assert.deepEqual(calls.reduce((a, n) => a + n, 0), 27);
    assert.ok(calls.every((n) => n <= 8));
    assert.equal(r.stats.groBuffers, 2);
    assert.equal(r.recvBatch(b, 0), 0, "nothing left over");
  } finally {
    close();
  }
});

test("IKE, a keepalive and a runt inside runs are taken out per datagram; the ESP around them stays", () => {
  const ike: { message: Buffer; from: string }[] = [];
  const { s, r, to, close } = pair({ onControl: (m, from) => ike.push({ message: Buffer.from(m), from: from.toString() }) });
  try {
    const [a, c, d, e, f] = esp(5, 64);
    const ikeMsg = new Uint8Array(64); ikeMsg.set(randomBytes(60), 4); // the non-ESP marker, then 60 bytes
    // A run's last datagram may be shorter: the keepalive (1 byte) and the runt (5 bytes) end their runs.
    assert.equal(s.sendBatch(outputs(dp, [a, ikeMsg, c, Uint8Array.of(0xff)]), to), 4);
    assert.equal(s.sendBatch(outputs(dp, [d, e, f, Uint8Array.of(1, 2, 3, 4, 5)]), to), 4);
    const b = dp.batch(64);
    const { got } = receive(r, b, 5);
    assert.deepEqual(got, [a, c, d, e, f].map((p) => Buffer.from(p)));
    assert.deepEqual(ike, [{ message: Buffer.from(ikeMsg.subarray(4)), from: `127.0.0.1:${s.port}` }]);
    const st = r.stats;
    assert.deepEqual([st.received, st.esp, st.ike, st.keepalives, st.runts, st.groBuffers], [8, 5, 1, 1, 1, 2]);
  } finally {
    close();
  }
});

test("an ESP datagram longer than a slot is counted truncated; the others of its batch come through", () => {
  const { s, r, to, close } = pair();
  try {
    const big = esp(3, 400), small = esp(2, 100);
    assert.equal(s.sendBatch(outputs(dp, big), to), 3);
    assert.equal(s.sendBatch(outputs(dp, small), to), 2);
    const b = dp.batch(8, 512); // maxPacket 320
    const { got } = receive(r, b, 2);
    assert.deepEqual(got, small.map((p) => Buffer.from(p)));
    assert.deepEqual([r.stats.truncated, r.stats.esp], [3, 2]);
  } finally {
    close();
  }
});

test("gro: false receives each datagram of a run on its own (the kernel cuts it); adopt() finds either setting", () => {
  const { s, r, to, close } = pair({ gro: false });
  try {
    assert.equal(r.gro, false);
    const pkts = esp(30, 500);
    assert.equal(s.sendBatch(outputs(dp, pkts), to), 30);
    const b = dp.batch(64);
    const { got } = receive(r, b, 30);
    assert.deepEqual(got, pkts.map((p) => Buffer.from(p)));
    assert.deepEqual([r.stats.received, r.stats.groBuffers], [30, 0]);
    assert.equal(new Set(Array.from({ length: 30 }, (_, i) => r.sourceOf(b, i))).size, 30, "one message each");
    const adoptedOff = UdpSocket.adopt(dp, r.fd), adoptedOn = UdpSocket.adopt(dp, s.fd);
    assert.deepEqual([adoptedOff.gro, adoptedOn.gro], [false, true]);
    adoptedOff.close();
    adoptedOn.close();
  } finally {
    close();
  }
});
