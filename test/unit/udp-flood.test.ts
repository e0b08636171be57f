// The tunnel bench's UDP generator and sink (bench/lib/udp-flood.ts): probe format, sequence accounting
// (loss, reordering, duplicates), the packet path's frames (headers and checksums recomputed here from
// scratch), and one paced send → sink over loopback counted end to end. The packet path's frames going
// through a real kernel: test/e2e/udp-flood-packet.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { batchFor, packetFlow, PROBE_HEADER, PROBE_MAGIC, ProbeCounter, SeqTracker, send, sink, SLOT, stamp, unstamp, writeProbe, type NextHop } from "../../bench/lib/udp-flood.js";
import { SockAddr } from "../../src/io/sockaddr.js";

test("probe header: 'WPKT', run, flow, 64-bit sequence number, big-endian", () => {
  const buf = new Uint8Array(64).fill(0xee);
  writeProbe(new DataView(buf.buffer), 2, 0x01020304, 5, 2 ** 32 + 7);
  assert.equal(PROBE_HEADER, 20);
  assert.deepEqual([...buf.subarray(0, 2)], [0xee, 0xee]);
  assert.deepEqual(Buffer.from(buf.subarray(2, 6)).toString("latin1"), "WPKT");
  assert.deepEqual([...buf.subarray(6, 22)], [1, 2, 3, 4, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 7]);
  assert.equal(buf[22], 0xee); // nothing written past the header
});

test("in order: everything received, nothing lost", () => {
  const t = new SeqTracker();
  for (let s = 0; s < 1000; s++) t.add(s);
  assert.deepEqual([t.received, t.lost, t.reordered, t.duplicates, t.next], [1000, 0, 0, 0, 1000]);
});

test("gaps are losses until the missing numbers arrive late", () => {
  const t = new SeqTracker();
  for (const s of [0, 1, 4, 5, 9]) t.add(s);
  assert.deepEqual([t.received, t.lost, t.reordered], [5, 5, 0]); // 2, 3, 6, 7, 8 missing
  t.add(3);
  t.add(7);
  assert.deepEqual([t.received, t.lost, t.reordered, t.duplicates], [7, 3, 2, 0]);
});

test("a number seen twice is a duplicate, not a second datagram, in order or late", () => {
  const t = new SeqTracker();
  for (const s of [0, 1, 1, 3, 2, 2, 0]) t.add(s);
  assert.deepEqual([t.received, t.lost, t.reordered, t.duplicates], [4, 0, 1, 3]);
});

test("the losses before the first datagram count (the sender starts at 0)", () => {
  const t = new SeqTracker();
  t.add(10);
  assert.deepEqual([t.received, t.lost], [1, 10]);
});

test("a jump beyond the window forgets older marks: a late arrival then counts as received", () => {
  const W = SeqTracker.WINDOW;
  const t = new SeqTracker();
  t.add(0);
  t.add(1);
  t.add(W + 10); // 2 .. W+9 missing
  assert.equal(t.lost, W + 8);
  t.add(5); // older than the window: cannot be checked for duplicates
  t.add(W + 9); // inside it
  t.add(W + 9);
  assert.deepEqual([t.received, t.lost, t.reordered, t.duplicates], [5, W + 6, 2, 1]);
});

test("the counter keeps flows apart and ignores what is not this run's probe", () => {
  const c = new ProbeCounter(77, 2);
  const buf = new Uint8Array(64), view = new DataView(buf.buffer);
  const put = (run: number, flow: number, seq: number, len = 64) => { writeProbe(view, 0, run, flow, seq); c.add(view, 0, len); };
  put(77, 0, 0); put(77, 0, 1); put(77, 1, 0); put(77, 1, 2); put(77, 1, 1);
  put(78, 0, 2);             // another run
  put(77, 2, 0);             // no such flow
  put(77, 0, 2, PROBE_HEADER - 1); // too short
  view.setUint32(0, 0);      // not a probe
  c.add(view, 0, 64);
  const r = c.result(9);
  assert.deepEqual(r, { received: 5, lost: 0, reordered: 1, duplicates: 0, stray: 4, next: [2, 3], recvmmsgCalls: 9 });
});

test("batches are ~200 µs of the rate, 1 to 64 datagrams", () => {
  assert.equal(batchFor(0), 64);
  assert.equal(batchFor(1000), 1);
  assert.equal(batchFor(100_000), 20);
  assert.equal(batchFor(10_000_000), 64);
});

test("loopback: every datagram sent, over two flows, is counted once", async () => {
  let stop = false, port = 0;
  const run = 0xdeadbeef;
  const result = sink({ bind: "127.0.0.1", port: 0, run, flows: 2, receiveBuffer: 1 << 20 }, (p) => { port = p; }, () => stop);
  assert.ok(port > 0);
  // Sends synchronously: the sink's socket buffer holds them until its loop runs again.
  const s = send({ to: "127.0.0.1", port, run, pps: 20_000, seconds: 0.05, length: 64, flows: 2 });
  assert.equal(s.sent, 1000);
  assert.equal(s.errors, 0);
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  const r = await result;
  assert.equal(r.received, 1000);
  assert.deepEqual([r.lost, r.duplicates, r.stray], [0, 0, 0]);
  assert.deepEqual(r.next, [500, 500]);
});

// ---- the packet path's frames

/** RFC 1071 sum of big-endian 16-bit words (an odd byte padded with zero), folded. */
function sum(b: Uint8Array, start = 0): number {
  let s = start;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

const HOP: NextHop = {
  dev: "lan", ifindex: 3, srcMac: Uint8Array.of(2, 0, 0, 0, 0, 1), dstMac: Uint8Array.of(2, 0, 0, 0, 0, 2), src: "",
};

for (const [v, src, dst] of [[4, "10.9.1.2", "10.9.2.3"], [6, "fd00:1::2", "fd00:2::3"]] as const) {
  test(`packet path, IPv${v}: Ethernet, IP and UDP headers as a connected socket's, checksums right for every sequence number`, () => {
    const hop = { ...HOP, src }, to = new SockAddr(dst, 5202);
    for (const length of [64, 21, 1400]) {
      const flow = packetFlow({ run: 0x01020304, length }, hop, to, -1, 5);
      const ipl = v === 4 ? 20 : 40, payload = 14 + ipl + 8;
      assert.equal(flow.payload, payload);
      // Sequence numbers that carry into every 16-bit word of the checksums, and past 2^32.
      for (const seq of [0, 1, 0xffff, 0x10000, 0xfffffffe, 2 ** 32 + 0x1234, 2 ** 40 - 3]) {
        flow.seqs[0] = seq; flow.next = 0;
        assert.equal(stamp(flow, 3), 3);
        for (let i = 0; i < 3; i++) {
          const f = flow.ring.data.u8.subarray(i * SLOT, i * SLOT + payload + length), d = new DataView(f.buffer, f.byteOffset);
          assert.deepEqual([...f.subarray(0, 12)], [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
          assert.equal(d.getUint16(12), v === 4 ? 0x0800 : 0x86dd);
          const ip = f.subarray(14, 14 + ipl), udp = f.subarray(14 + ipl);
          let pseudo: number;
          if (v === 4) {
            assert.equal(ip[0], 0x45);
            assert.equal(d.getUint16(16), ipl + 8 + length, "total length");
            assert.equal(d.getUint16(18), (seq + i) % 0x10000, "ID counts up");
            assert.equal(d.getUint16(20), 0x4000, "DF, no fragment");
            assert.deepEqual([ip[8], ip[9]], [64, 17]);
            assert.equal(sum(ip), 0xffff, "IPv4 header checksum");
            assert.deepEqual([...ip.subarray(12, 20)], [10, 9, 1, 2, 10, 9, 2, 3]);
            pseudo = sum(ip.subarray(12, 20), 17 + 8 + length);
          } else {
            assert.equal(d.getUint32(14), 0x60000000);
            assert.equal(d.getUint16(18), 8 + length, "payload length");
            assert.deepEqual([ip[6], ip[7]], [17, 64]);
            assert.equal(new SockAddr(dst, 0).bytes.every((x, k) => ip[24 + k] === x), true);
            pseudo = sum(ip.subarray(8, 40), 17 + 8 + length);
          }
          assert.equal(d.getUint16(14 + ipl), 49152 + 5, "source port: 49152 + flow");
          assert.equal(d.getUint16(14 + ipl + 2), 5202);
          assert.equal(d.getUint16(14 + ipl + 4), 8 + length);
          assert.notEqual(d.getUint16(14 + ipl + 6), 0, "a UDP checksum is sent");
          assert.equal(sum(udp, pseudo), 0xffff, `UDP checksum, seq ${seq + i}, length ${length}`);
          const p = new DataView(f.buffer, f.byteOffset + payload);
          assert.deepEqual([p.getUint32(0), p.getUint32(4), p.getUint32(8)], [PROBE_MAGIC, 0x01020304, 5]);
          assert.equal(p.getUint32(12) * 2 ** 32 + p.getUint32(16), seq + i);
        }
      }
    }
  });
}

test("packet path: a frame larger than a ring slot, and mixed address families, are refused", () => {
  assert.throws(() => packetFlow({ run: 1, length: SLOT }, { ...HOP, src: "10.9.1.2" }, new SockAddr("10.9.2.3", 1), -1, 0), /does not fit/);
  assert.throws(() => packetFlow({ run: 1, length: 64 }, { ...HOP, src: "fd00::1" }, new SockAddr("10.9.2.3", 1), -1, 0), /different families/);
});

test("packet path, interleaved: slot i carries flow i % F with that flow's next number; the ring wraps; unsent slots give their numbers back", () => {
  const hop = { ...HOP, src: "10.9.1.2" }, to = new SockAddr("10.9.2.3", 5202);
  const flow = packetFlow({ run: 9, length: 64 }, hop, to, -1, 10, 3); // flows 10, 11, 12
  assert.equal(flow.slots, 63); // a multiple of 3
  const sent: [number, number][] = []; // [flow, seq] of every datagram "sent"
  const read = (i: number): [number, number] => {
    const v = new DataView(flow.ring.data.u8.buffer, flow.ring.data.u8.byteOffset + i * SLOT);
    assert.equal(v.getUint16(14 + 20), 49152 + 10 + (i % 3), "the source port is the slot's flow's");
    return [v.getUint32(flow.payload + 8), v.getUint32(flow.payload + 16)];
  };
  // Sends of 20 that take 20, 13 (the rest given back), 20, ..., past the end of the ring.
  for (const [want, took] of [[20, 20], [20, 13], [20, 20], [20, 20], [20, 5], [20, 20]]) {
    const start = flow.next, n = stamp(flow, want);
    assert.equal(n, Math.min(want, flow.slots - start));
    for (let i = start; i < start + Math.min(n, took); i++) sent.push(read(i));
    unstamp(flow, n, Math.min(n, took));
  }
  for (const f of [10, 11, 12]) {
    const seqs = sent.filter(([g]) => g === f).map(([, q]) => q);
    assert.deepEqual(seqs, seqs.map((_, k) => k), `flow ${f}: 0, 1, 2, ... with no gap or repeat`);
  }
  assert.deepEqual(flow.seqs, [10, 11, 12].map((f) => sent.filter(([g]) => g === f).length));
});
