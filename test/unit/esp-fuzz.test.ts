// Fuzz-style decapsulation: ≥ 100,000 random and mutated packets. Nothing may trap or throw, and every
// packet must be accounted for: delivered, or counted under exactly one drop reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { BackendName } from "../../src/crypto/backend.js";
import { ipv4Packet, ipv6Packet } from "../helpers/packets.js";
import { oracleSeal } from "../helpers/esp-oracle.js";
import { loopback, type Pair } from "../helpers/dp.js";

// Deterministic PRNG so a failure can be replayed (seed printed on failure).
function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };
}

function total(counters: Partial<Record<string, bigint>>): bigint {
  return Object.values(counters).reduce((a: bigint, b) => a + (b ?? 0n), 0n);
}

function run(backend: BackendName, packets: number, seed: number) {
  const rand = rng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const dp = DataPlane.create({ maxSAs: 16, backend });
  const sas: Pair[] = [
    loopback(backend, { spi: 0x1001 }, dp),
    loopback(backend, { spi: 0x1002, esn: true, replayWindow: 1024 }, dp),
    loopback(backend, { spi: 0x1003, mode: "transport", icvLength: 8 }, dp),
    loopback(backend, { spi: 0x1004, key: randomBytes(32), icvLength: 12, replayWindow: 0 }, dp),
  ];
  // Corpus of valid packets per SA (various sizes and inner versions).
  const corpus: Uint8Array[] = [];
  for (const pr of sas) {
    for (let k = 0; k < 40; k++) {
      const len = [0, 1, 20, 100, 600, 1400][k % 6];
      const inner = k % 2 ? ipv4Packet({ payloadLen: len }) : ipv6Packet({ payloadLen: len });
      const nh = pr.params.spi === 0x1003 ? 17 : inner[0] >> 4 === 4 ? 4 : 41;
      corpus.push(oracleSeal(pr.params, BigInt(1 + int(5000)), nh === 17 ? inner.subarray(20) : inner, nh));
    }
  }
  const batch = dp.batch(256, 2048);
  const max = batch.maxPacket;
  let delivered = 0;
  for (let done = 0; done < packets; done += batch.capacity) {
    batch.clear();
    for (let i = 0; i < batch.capacity; i++) {
      const src = corpus[int(corpus.length)];
      let p: Uint8Array;
      switch (int(9)) {
        case 0: p = randomBytes(int(200)); break;                            // garbage
        case 1: p = src.subarray(0, int(src.length + 1)); break;              // truncation
        case 2: { p = Uint8Array.from(src); for (let k = 1 + int(4); k > 0; k--) p[int(p.length)] ^= 1 << int(8); break; }
        case 3: { p = Uint8Array.from(src); p[int(p.length)] = int(256); break; }
        case 4: { p = new Uint8Array(Math.min(max, src.length + 1 + int(64))); p.set(src); p.set(randomBytes(p.length - src.length), src.length); break; }
        case 5: { p = Uint8Array.from(src); p.set(randomBytes(4), 4); break; }   // sequence number
        case 6: { p = Uint8Array.from(src); p.set(corpus[int(corpus.length)].subarray(0, 4)); break; } // another SA's SPI
        case 7: { p = Uint8Array.from(src); p[p.length - 1 - int(3)] ^= 0xff; break; } // ICV tail / trailer
        default: p = Uint8Array.from(src); // valid (or a replay of an earlier copy)
      }
      batch.push(p.subarray(0, max));
    }
    delivered += batch.decap();
  }
  const perSa = sas.map((pr) => dp.sadb.stats(pr.in));
  const accounted = BigInt(delivered) + total(dp.sadb.globalDrops()) + perSa.reduce((a, s) => a + total(s.drops), 0n);
  const deliveredBySa = perSa.reduce((a, s) => a + s.packets, 0n);
  return { accounted, delivered, deliveredBySa, global: dp.sadb.globalDrops(), perSa: perSa.map((s) => s.drops) };
}

test("decapsulation fuzz: 102,400 packets through the WASM backend, every one accounted for", () => {
  const seed = Date.now() >>> 0;
  const r = run("wasm", 102400, seed);
  assert.equal(r.accounted, 102400n, `seed ${seed}`);
  assert.equal(r.deliveredBySa, BigInt(r.delivered), `seed ${seed}`);
  assert.ok(r.delivered > 0, "some packets must be valid");
  // Every class of damage showed up.
  const reasons = new Set([...Object.keys(r.global), ...r.perSa.flatMap((d) => Object.keys(d))]);
  for (const k of ["unknown_spi", "too_short", "auth_failed", "replay", "malformed"]) assert.ok(reasons.has(k), `${k} never seen (seed ${seed})`);
});

test("decapsulation fuzz through the JavaScript backends: same accounting", () => {
  for (const backend of ["node", "noble", "auto"] as const) {
    const seed = (Date.now() + backend.length) >>> 0;
    const r = run(backend, 5120, seed);
    assert.equal(r.accounted, 5120n, `${backend} seed ${seed}`);
    assert.equal(r.deliveredBySa, BigInt(r.delivered));
  }
});
