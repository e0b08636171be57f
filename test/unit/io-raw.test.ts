// Raw AH sockets (src/io/raw.ts) over loopback in the test's own network namespace (needs root, as the
// TUN and gateway tests do; fails, never skips, without it): AH packets the data plane builds go out with
// sendmmsg() and come back with recvmmsg() byte for byte — for IPv6 with the header the kernel strips
// rebuilt from the sender's address, IPV6_PKTINFO, the traffic class and hop limit — and decapsulate.
// Truncation, a family without a socket, the Wakeup and adopted descriptors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import { RawAh } from "../../src/io/raw.js";
import { Wakeup } from "../../src/io/wakeup.js";
import { ipv4Packet, ipv6Packet } from "../helpers/packets.js";
import { oracleVerify, type AhOracleSa } from "../helpers/ah-oracle.js";

if (process.getuid?.() !== 0) throw new Error("raw sockets need root (CAP_NET_RAW): run the unit tests as root, as CI does");

interface Pair { out: number; in: number; sa: AhOracleSa }

/** An outbound AH tunnel SA from `addr` to itself and its inbound twin (same SPI and key): a loopback. */
function loopSa(dp: DataPlane, addr: string): Pair {
  const sa: AhOracleSa = { spi: 0x10000000 + randomInt(0x6fffffff), integrity: "sha256", key: randomBytes(32) };
  const common = { protocol: "ah", spi: sa.spi, mode: "tunnel", integrity: "sha256", integrityKey: sa.key } as const;
  const ends = { local: { address: addr }, remote: { address: addr } };
  return { out: dp.sadb.install({ ...common, ...ends, direction: "out" }), in: dp.sadb.install({ ...common, ...ends, direction: "in" }), sa };
}

const spiOf = (p: Uint8Array) => {
  const hl = p[0] >> 4 === 4 ? (p[0] & 15) * 4 : 40;
  return ((p[hl + 4] << 24) | (p[hl + 5] << 16) | (p[hl + 6] << 8) | p[hl + 7]) >>> 0;
};

/** Packet i as recvBatch() left it (the input of decapsulation). */
function input(rx: PacketBatch, dp: DataPlane, i: number): Uint8Array {
  const len = dp.views.u32[(rx.descOff + i * dp.L.DESC_SIZE + dp.L.D_IN_LEN) >> 2];
  return Uint8Array.from(dp.views.u8.subarray(rx.slotOffset(i), rx.slotOffset(i) + len));
}

/** Receive until `want` packets of SPIs in `spis` arrived (the namespace may carry other AH). Each with its
 *  slot index, in arrival order. */
function receiveOurs(dp: DataPlane, raw: RawAh, rx: PacketBatch, spis: number[], want: number): { i: number; bytes: Uint8Array }[][] {
  const rounds: { i: number; bytes: Uint8Array }[][] = [];
  let got = 0;
  const deadline = Date.now() + 5000;
  while (got < want && Date.now() < deadline) {
    const n = raw.recvBatch(rx, 500);
    const ours = [];
    for (let i = 0; i < n; i++) {
      const bytes = input(rx, dp, i);
      if (spis.includes(spiOf(bytes))) ours.push({ i, bytes });
    }
    got += ours.length;
    if (ours.length) rounds.push(ours);
    if (n > 0) rx.ahDecap(); // decapsulate in the batch they came in
  }
  assert.equal(got, want, "all our packets came back");
  return rounds;
}

test("IPv4 and IPv6 AH out and back over loopback: byte for byte as sent, then decapsulated", () => {
  const dp = DataPlane.create({ maxSAs: 8 });
  const p4 = loopSa(dp, "127.0.0.1"), p6 = loopSa(dp, "::1");
  const raw = RawAh.open(dp, { receiveBuffer: 1 << 20 });
  try {
    const inner = [
      ipv4Packet({ src: "10.1.0.1", dst: "10.2.0.1", payloadLen: 100 }),
      ipv6Packet({ src: "fd01::1", dst: "fd02::1", payloadLen: 1200 }),
      ipv4Packet({ src: "10.1.0.2", dst: "10.2.0.2", payloadLen: 1400 }),
      ipv6Packet({ src: "fd01::2", dst: "fd02::2", payloadLen: 1 }),
    ];
    inner[0][1] = 0xb8; // DSCP EF: copied to the outer header (RFC 4301 §5.1.2)
    inner[1][0] = 0x6b; inner[1][1] = 0x80; // traffic class 0xb8 — IPv6 receive must recover it from IPV6_TCLASS
    const handles = [p4.out, p6.out, p4.out, p6.out];
    const tx = dp.batch(8);
    inner.forEach((p, k) => tx.push(p, handles[k]));
    assert.equal(tx.encap(), 4);
    assert.equal(tx.ahStart, 0);
    const sent = inner.map((_, k) => Uint8Array.from(tx.output(k)));
    assert.equal(raw.sendBatch(tx, tx.ahStart), 4);
    assert.deepEqual([raw.stats.sent, raw.stats.sendErrors, raw.stats.unroutable], [4, 0, 0]);

    const rx = dp.batch(16);
    const rounds = receiveOurs(dp, raw, rx, [p4.sa.spi >>> 0, p6.sa.spi >>> 0], 4);
    const received = rounds.flat().map((r) => r.bytes);
    // Each family in order; the families are interleaved as the sockets were read.
    for (const v of [4, 6]) {
      assert.deepEqual(received.filter((p) => p[0] >> 4 === v), sent.filter((p) => p[0] >> 4 === v), `IPv${v} packets as sent`);
    }
    for (const p of received) oracleVerify(p[0] >> 4 === 4 ? p4.sa : p6.sa, p);
    assert.equal(dp.sadb.stats(p4.in).packets, 2n, "both IPv4 packets decapsulated");
    assert.equal(dp.sadb.stats(p6.in).packets, 2n, "both IPv6 packets decapsulated (rebuilt header, ICV good)");
    assert.equal(dp.sadb.stats(p6.in).drops.auth_failed, undefined);
    assert.equal(raw.stats.truncated, 0);
  } finally {
    raw.close();
  }
});

test("a packet longer than the slot is counted as truncated and not delivered, on both families", () => {
  const dp = DataPlane.create({ maxSAs: 8 });
  const p4 = loopSa(dp, "127.0.0.1"), p6 = loopSa(dp, "::1");
  const raw = RawAh.open(dp);
  try {
    const tx = dp.batch(4);
    tx.push(ipv4Packet({ payloadLen: 200 }), p4.out);
    tx.push(ipv6Packet({ payloadLen: 200 }), p6.out);
    tx.push(ipv4Packet({ payloadLen: 4 }), p4.out); // 20 + 28 + 32 = 80 bytes
    tx.encap();
    assert.equal(raw.sendBatch(tx), 3);
    const rx = dp.batch(8, 256); // maxPacket 64: every one of them is longer
    const deadline = Date.now() + 3000;
    while (raw.stats.truncated < 3 && Date.now() < deadline) {
      const n = raw.recvBatch(rx, 200);
      for (let i = 0; i < n; i++) {
        const spi = spiOf(input(rx, dp, i));
        assert.ok(spi !== p4.sa.spi >>> 0 && spi !== p6.sa.spi >>> 0, "no truncated packet is handed on");
      }
    }
    assert.equal(raw.stats.truncated, 3);
  } finally {
    raw.close();
  }
});

test("a family without a socket is unroutable; adopted sockets send and leave the descriptors open", () => {
  const dp = DataPlane.create({ maxSAs: 8 });
  const p4 = loopSa(dp, "127.0.0.1"), p6 = loopSa(dp, "::1");
  const only4 = RawAh.open(dp, { ipv6: false });
  try {
    assert.equal(only4.handle.fd6, -1);
    const tx = dp.batch(2);
    tx.push(ipv4Packet(), p4.out);
    tx.push(ipv6Packet(), p6.out);
    tx.encap();
    const adopted = RawAh.adopt(dp, only4.handle);
    assert.equal(adopted.sendBatch(tx), 1);
    assert.deepEqual([adopted.stats.sent, adopted.stats.unroutable], [1, 1]);
    adopted.close();
    tx.clear();
    tx.push(ipv4Packet(), p4.out);
    tx.encap();
    assert.equal(only4.sendBatch(tx), 1, "the owner's descriptor is still open");
    receiveOurs(dp, only4, dp.batch(8), [p4.sa.spi >>> 0], 2);
  } finally {
    only4.close();
  }
  assert.throws(() => RawAh.adopt(dp, { fd4: -1, fd6: -1 }), RangeError);
  assert.throws(() => RawAh.adopt(dp, { fd4: 1.5, fd6: -1 }), RangeError);
  assert.throws(() => RawAh.open(dp, { ipv4: false, ipv6: false }), RangeError);
});

test("a blocking recvBatch() returns at once when the Wakeup is signalled", () => {
  const dp = DataPlane.create({ maxSAs: 1 });
  const wakeup = Wakeup.create();
  const raw = RawAh.open(dp, { wakeup });
  try {
    wakeup.signal();
    const rx = dp.batch(4);
    assert.equal(raw.recvBatch(rx, -1), 0);
    assert.equal(raw.woken, true);
    wakeup.clear();
    assert.equal(raw.recvBatch(rx, 0), 0);
    assert.equal(raw.woken, false);
  } finally {
    raw.close();
    wakeup.close();
  }
});
