// SA database: install/delete/lookup, key zeroing, validation errors, capacity and worker sharing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { SaError } from "../../src/dataplane/sadb.js";
import { cidr } from "../../src/dataplane/selectors.js";
import { ipv4Packet } from "../helpers/packets.js";
import { loopback } from "../helpers/dp.js";

const base = { direction: "in" as const, mode: "tunnel" as const, salt: randomBytes(4) };

test("inbound SAs are found by SPI; deleting unpublishes the SPI and zeroes the record, keys included", () => {
  const dp = DataPlane.create({ maxSAs: 8 });
  const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const h = dp.sadb.install({ ...base, spi: 0xabcdef01, key });
  assert.equal(dp.sadb.lookup(0xabcdef01), h);
  assert.equal(dp.sadb.lookup(0xabcdef02), -1);
  const rec = dp.saAddress(h);
  const size = dp.L.SA_SIZE;
  const mem = () => dp.views.refresh().u8.subarray(rec, rec + size);
  assert.ok(Buffer.from(mem()).includes(Buffer.from(key)), "raw key present while the SA lives");
  dp.sadb.delete(h);
  assert.equal(dp.sadb.lookup(0xabcdef01), -1);
  const after = mem();
  // Everything but the generation counter (kept to tell stale handles apart) is zero.
  const nonZero = [...after].map((v, i) => [i, v]).filter(([i, v]) => v !== 0 && (i < dp.L.SA_GENERATION || i >= dp.L.SA_GENERATION + 4));
  assert.deepEqual(nonZero, []);
  assert.throws(() => dp.sadb.delete(h), SaError);
  // The handle is reused and the SPI can be installed again.
  const h2 = dp.sadb.install({ ...base, spi: 0xabcdef01, key });
  assert.equal(dp.sadb.lookup(0xabcdef01), h2);
});

test("many SPIs with deletes in between: lookups stay exact (tombstones)", () => {
  const dp = DataPlane.create({ maxSAs: 600 });
  const live = new Map<number, number>();
  const spis = new Set<number>();
  while (spis.size < 1500) spis.add(256 + Math.floor(Math.random() * 0xfffffe00));
  const list = [...spis];
  let i = 0;
  for (const spi of list) {
    if (live.size >= 500) {
      const [victim, h] = live.entries().next().value as [number, number];
      dp.sadb.delete(h);
      live.delete(victim);
    }
    live.set(spi, dp.sadb.install({ ...base, spi, key: randomBytes(16) }));
    if (++i % 100 === 0) for (const [s, h] of live) assert.equal(dp.sadb.lookup(s), h);
  }
  for (const spi of list) assert.equal(dp.sadb.lookup(spi), live.get(spi) ?? -1);
});

test("installation errors are specific and leave nothing behind", () => {
  const dp = DataPlane.create({ maxSAs: 2 });
  const key = randomBytes(16);
  const cases: [object, RegExp][] = [
    [{ spi: 255 }, /SPI 0xff invalid/],
    [{ spi: 2 ** 32 }, /invalid/],
    [{ spi: 1.5 }, /invalid/],
    [{ key: randomBytes(20) }, /key must be 16, 24 or 32 bytes, got 20/],
    [{ salt: randomBytes(3) }, /salt must be 4 bytes/],
    [{ icvLength: 10 }, /ICV length/],
    [{ replayWindow: 16 }, /replay window 16 out of range/],
    [{ replayWindow: 1 << 20 }, /replay window .* out of range/],
    [{ mode: "beet" }, /mode must be/],
    [{ direction: "sideways" }, /direction must be/],
    [{ mode: "transport" }, /needs local and remote endpoints/],
    [{ localTs: Array.from({ length: 17 }, () => cidr("10.0.0.0/8")), remoteTs: [] }, /at most 16 traffic selectors/],
  ];
  for (const [over, re] of cases) {
    assert.throws(() => dp.sadb.install({ ...base, spi: 0x1234, key, ...over } as never), re);
  }
  assert.equal(dp.sadb.size, 0);
  dp.sadb.install({ ...base, spi: 0x1234, key });
  assert.throws(() => dp.sadb.install({ ...base, spi: 0x1234, key }), /already used/);
  dp.sadb.install({ ...base, spi: 0x1235, key });
  assert.throws(() => dp.sadb.install({ ...base, spi: 0x1236, key }), /SA database full/);
});

test("capacity: 10,000 SAs fit within 1 GiB (bytes per SA reported)", () => {
  const dp = DataPlane.create({ maxSAs: 10000 });
  for (let i = 0; i < 10000; i++) {
    dp.sadb.install({ ...base, direction: i % 2 ? "out" : "in", spi: 0x100000 + i, key: randomBytes(16) });
  }
  assert.equal(dp.sadb.size, 10000);
  const total = dp.memoryBytes;
  console.log(`# SA record: ${dp.L.SA_SIZE} bytes (GCM context ${dp.L.GCM_CTX_SIZE}, replay state ${dp.L.REPLAY_STATE_SIZE}); ` +
    `10,000 SAs: ${(total / 2 ** 20).toFixed(1)} MiB of shared memory`);
  assert.ok(total < 2 ** 30, `${total} bytes`);
  assert.equal(dp.sadb.lookup(0x100000 + 9998), 9998);
});

test("worker threads share the SA database: sequence numbers stay unique across workers", async () => {
  const dp = DataPlane.create({ maxSAs: 4 });
  const pr = loopback("wasm", {}, dp);
  const workerUrl = new URL("../helpers/encap-worker.js", import.meta.url);
  const perWorker = 4000;
  const runs = [0, 1, 2].map(() => new Promise<number[]>((resolve, reject) => {
    const w = new Worker(fileURLToPath(workerUrl), { workerData: { handle: dp.handle, sa: pr.out, count: perWorker } });
    w.once("message", resolve);
    w.once("error", reject);
  }));
  const seqs = (await Promise.all(runs)).flat();
  assert.equal(seqs.length, 3 * perWorker);
  assert.equal(new Set(seqs).size, seqs.length, "no sequence number used twice");
  assert.equal(Math.max(...seqs), 3 * perWorker);
  assert.equal(dp.sadb.stats(pr.out).seqOut, BigInt(3 * perWorker));
  assert.equal(dp.sadb.stats(pr.out).packets, BigInt(3 * perWorker));
  // Packets a worker sealed open on the main thread.
  const b = dp.batch(1);
  b.push(ipv4Packet(), pr.out);
  b.encap();
  const d = dp.batch(1);
  d.push(Uint8Array.from(b.output(0)));
  assert.equal(d.decap(), 1);
});
