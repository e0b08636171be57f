// The tunnel bench's UDP generator and sink (bench/lib/udp-flood.ts): probe format, sequence accounting
// (loss, reordering, duplicates), and one paced send → sink over loopback counted end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { batchFor, PROBE_HEADER, ProbeCounter, SeqTracker, send, sink, writeProbe } from "../../bench/lib/udp-flood.js";

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
