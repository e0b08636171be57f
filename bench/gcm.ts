// `node dist/bench/gcm.js [--quick]`: raw throughput of the data plane's AES-GCM (gcmSeal / gcmOpen)
// on one core, packets already in WASM memory, many packets per timed loop. node:crypto with one
// cipher object per packet is measured alongside as a yardstick for the machine's speed.
// Prints a table, then one JSON line with every figure.
import { createCipheriv, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { constant, createMemory, instantiate } from "../src/dataplane/wasm.js";

const SIZES = [64, 512, 1400, 9000];
const KEY_LENGTHS = [16, 32];
const PACKETS = 256; // per timed loop
const AAD_LEN = 8; // ESP: SPI || 32-bit sequence number
const TAG_LEN = 16;

const { values: opts } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const ROUNDS = opts.quick ? 9 : 31; // timed loops per figure (the median and the best are reported)
const MIN_BYTES = opts.quick ? 2e6 : 8e6; // payload bytes per timed loop, at least

const memory = createMemory(1024); // 64 MiB
const { exports: x } = instantiate(memory);
const CTX = 1 << 20;
const KEY = CTX + constant(x, "GCM_CTX_SIZE");
const SLOTS = 2 << 20; // packet slots: nonce 16 | aad 16 | data | tag 16, 64-byte aligned

interface Figure { pps: number; gbps: number; bestPps: number; bestGbps: number }
interface Row { keyBits: number; size: number; seal: Figure; open: Figure; nodeSeal: Figure }

const figure = (seconds: number[], packets: number, size: number): Figure => {
  const sorted = [...seconds].sort((a, b) => a - b);
  const pps = packets / sorted[sorted.length >> 1], bestPps = packets / sorted[0];
  const gbps = (p: number): number => Number(((p * size * 8) / 1e9).toFixed(3));
  return { pps: Math.round(pps), gbps: gbps(pps), bestPps: Math.round(bestPps), bestGbps: gbps(bestPps) };
};

function measureWasm(keyLen: number, size: number): { seal: Figure; open: Figure } {
  const mem = new Uint8Array(memory.buffer);
  mem.set(randomBytes(keyLen), KEY);
  x.gcmInit(CTX, KEY, keyLen);
  const stride = (48 + size + TAG_LEN + 63) & ~63;
  const slot = (i: number): number => SLOTS + i * stride;
  for (let i = 0; i < PACKETS; i++) {
    mem.set(randomBytes(12), slot(i));
    mem.set(randomBytes(AAD_LEN), slot(i) + 16);
    mem.set(randomBytes(size), slot(i) + 32);
  }
  const sealAll = (): void => {
    for (let i = 0; i < PACKETS; i++) {
      const p = slot(i);
      x.gcmSeal(CTX, p, p + 16, AAD_LEN, p + 32, size, p + 32 + size, TAG_LEN);
    }
  };
  let failures = 0;
  const openAll = (): void => {
    for (let i = 0; i < PACKETS; i++) {
      const p = slot(i);
      if (!x.gcmOpen(CTX, p, p + 16, AAD_LEN, p + 32, size, p + 32 + size, TAG_LEN)) failures++;
    }
  };
  // Each sealing loop is undone by an opening loop (same nonces), so both always see valid input.
  const loops = Math.max(1, Math.ceil(MIN_BYTES / (PACKETS * size)));
  const sealT: number[] = [], openT: number[] = [];
  for (let r = -3; r < ROUNDS; r++) { // 3 warm-up rounds
    let s = 0, o = 0;
    for (let l = 0; l < loops; l++) {
      const t0 = process.hrtime.bigint();
      sealAll();
      const t1 = process.hrtime.bigint();
      openAll();
      const t2 = process.hrtime.bigint();
      s += Number(t1 - t0);
      o += Number(t2 - t1);
    }
    if (r >= 0) { sealT.push(s / 1e9); openT.push(o / 1e9); }
  }
  if (failures) throw new Error(`${failures} packets failed to open (${keyLen * 8}-bit key, ${size} B)`);
  return { seal: figure(sealT, loops * PACKETS, size), open: figure(openT, loops * PACKETS, size) };
}

function measureNode(keyLen: number, size: number): Figure {
  const key = randomBytes(keyLen), nonce = randomBytes(12), aad = randomBytes(AAD_LEN), data = randomBytes(size);
  const algorithm = keyLen === 16 ? "aes-128-gcm" : "aes-256-gcm";
  const loops = Math.max(1, Math.ceil(MIN_BYTES / 4 / (PACKETS * size)));
  const times: number[] = [];
  for (let r = -3; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < loops * PACKETS; i++) {
      const c = createCipheriv(algorithm, key, nonce);
      c.setAAD(aad);
      c.update(data);
      c.final();
      c.getAuthTag();
    }
    if (r >= 0) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return figure(times, loops * PACKETS, size);
}

const rows: Row[] = [];
const fmt = (f: Figure): string =>
  `${(f.pps / 1e6).toFixed(3).padStart(7)} Mpps ${f.gbps.toFixed(2).padStart(6)} Gb/s (best ${(f.bestPps / 1e6).toFixed(3)} / ${f.bestGbps.toFixed(2)})`;
console.log(`AES-GCM, one core, ${PACKETS} packets per loop, AAD ${AAD_LEN} B, ICV ${TAG_LEN} B; median of ${ROUNDS} (best)`);
for (const keyLen of KEY_LENGTHS) {
  for (const size of SIZES) {
    const { seal, open } = measureWasm(keyLen, size);
    const nodeSeal = measureNode(keyLen, size);
    rows.push({ keyBits: keyLen * 8, size, seal, open, nodeSeal });
    console.log(`AES-${keyLen * 8} ${String(size).padStart(5)} B  gcmSeal ${fmt(seal)}  gcmOpen ${fmt(open)}  node:crypto seal ${fmt(nodeSeal)}`);
  }
}
console.log(JSON.stringify({ bench: "gcm", packetsPerLoop: PACKETS, aadBytes: AAD_LEN, tagBytes: TAG_LEN, rounds: ROUNDS, rows }));
