// AES-GCM of the data plane (assembly/crypto/gcm.ts). Oracles: the McGrew–Viega GCM spec vectors,
// the ESP packets of draft-mcgrew-gcm-test-01, Project Wycheproof, and node:crypto (OpenSSL) on
// thousands of seeded random inputs. Also checks that nothing is written outside the buffers passed
// in (no shared scratch, read-only context) and that several instances over one memory agree.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { constant, createMemory, instantiate, type RawExports } from "../../src/dataplane/wasm.js";

interface Vector { name: string; key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }
interface WycheproofTest { tcId: number; comment: string; flags: string[]; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: string }
interface WycheproofGroup { keySize: number; ivSize: number; tagSize: number; tests: WycheproofTest[] }

const vectors = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), "utf8"));
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const memory = createMemory(64); // 4 MiB
const { exports: x } = instantiate(memory);
const CTX_SIZE = constant(x, "GCM_CTX_SIZE");

// Scratch layout, far above the module's static data. Every buffer has GUARD bytes of known filler
// on both sides; they are checked after each call to catch stray writes.
const GUARD = 32;
const FILL = 0xa5;
const CTX = 1 << 20;
const CTX_SLOT = 0x20000; // room for a context (asserted below)
const CTX2 = CTX + CTX_SLOT;
const KEY = CTX2 + CTX_SLOT;
const NONCE = KEY + 128;
const TAG = NONCE + 128;
const AAD = TAG + 128;
const DATA = AAD + 8192;
const MAX_DATA = 70_000;

const mem = (): Uint8Array => new Uint8Array(memory.buffer);

/** Copy `bytes` to `at`, surrounded by GUARD filler bytes. */
function place(at: number, bytes: Uint8Array): void {
  const m = mem();
  m.fill(FILL, at - GUARD, at + bytes.length + GUARD);
  m.set(bytes, at);
}

function assertGuards(at: number, len: number, what: string): void {
  const m = mem();
  for (let i = at - GUARD; i < at; i++) assert.equal(m[i], FILL, `${what}: byte ${i - at} before the buffer was written`);
  for (let i = at + len; i < at + len + GUARD; i++) assert.equal(m[i], FILL, `${what}: byte ${i - at} past the end was written`);
}

function init(key: Uint8Array, ctx = CTX, ex: RawExports = x): void {
  place(KEY, key);
  ex.gcmInit(ctx, KEY, key.length);
}

interface Sealed { ciphertext: Uint8Array; tag: Uint8Array }

function seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, tagLen = 16, ctx = CTX): Sealed {
  place(NONCE, nonce);
  place(AAD, aad);
  place(DATA, plaintext);
  place(TAG, new Uint8Array(tagLen));
  x.gcmSeal(ctx, NONCE, AAD, aad.length, DATA, plaintext.length, TAG, tagLen);
  assertGuards(DATA, plaintext.length, "seal data");
  assertGuards(TAG, tagLen, "seal tag");
  assert.deepEqual(mem().subarray(AAD, AAD + aad.length), aad, "seal modified the AAD");
  assert.deepEqual(mem().subarray(NONCE, NONCE + 12), nonce, "seal modified the nonce");
  return { ciphertext: mem().slice(DATA, DATA + plaintext.length), tag: mem().slice(TAG, TAG + tagLen) };
}

/** Open; returns the plaintext, or null on rejection (after checking that nothing was modified). */
function open(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, ctx = CTX): Uint8Array | null {
  place(NONCE, nonce);
  place(AAD, aad);
  place(DATA, ciphertext);
  place(TAG, tag);
  const ok: boolean = x.gcmOpen(ctx, NONCE, AAD, aad.length, DATA, ciphertext.length, TAG, tag.length) !== 0;
  assertGuards(DATA, ciphertext.length, "open data");
  assertGuards(TAG, tag.length, "open tag");
  assert.deepEqual(mem().subarray(TAG, TAG + tag.length), tag, "open modified the tag");
  assert.deepEqual(mem().subarray(AAD, AAD + aad.length), aad, "open modified the AAD");
  const out = mem().slice(DATA, DATA + ciphertext.length);
  if (!ok) {
    assert.deepEqual(out, ciphertext, "a rejected packet must be left untouched");
    return null;
  }
  return out;
}

/** AES-GCM by node:crypto (OpenSSL), the independent oracle. */
function oracle(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, tagLen: number): Sealed {
  const c = createCipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, nonce, { authTagLength: tagLen });
  c.setAAD(aad);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { ciphertext: Uint8Array.from(ciphertext), tag: Uint8Array.from(c.getAuthTag()) };
}

function oracleOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Uint8Array | null {
  const d = createDecipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, nonce, { authTagLength: tag.length });
  d.setAAD(aad);
  d.setAuthTag(tag);
  try {
    return Uint8Array.from(Buffer.concat([d.update(ciphertext), d.final()]));
  } catch {
    return null;
  }
}

/** Seeded PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): { int: (n: number) => number; bytes: (n: number) => Uint8Array } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    int: (n) => next() % n,
    bytes: (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = next() & 0xff; return b; },
  };
}

function checkKnownAnswer(v: Vector): void {
  const key = hex(v.key), nonce = hex(v.nonce), aad = hex(v.aad), pt = hex(v.plaintext), ct = hex(v.ciphertext), tag = hex(v.tag);
  init(key);
  const out = seal(nonce, aad, pt, tag.length);
  assert.equal(toHex(out.ciphertext), v.ciphertext, `${v.name}: ciphertext`);
  assert.equal(toHex(out.tag), v.tag, `${v.name}: tag`);
  assert.deepEqual(open(nonce, aad, ct, tag), pt, `${v.name}: open`);
}

test("the context fits the SA database budget", () => {
  // 10,000 SAs must fit in 1 GiB with the rest of each SA record (sadb.test checks the whole).
  assert.ok(CTX_SIZE > 0 && CTX_SIZE * 10_000 <= 0.75 * 2 ** 30, `GCM_CTX_SIZE = ${CTX_SIZE}`);
  assert.ok(CTX_SIZE <= CTX_SLOT);
  assert.equal(CTX_SIZE % 16, 0);
});

test("McGrew–Viega GCM spec test cases (96-bit IV, AES-128/192/256) and truncated ICVs", () => {
  const { vectors: vs } = vectors<{ vectors: Vector[] }>("gcm-spec.json");
  assert.equal(vs.length, 14);
  for (const v of vs) checkKnownAnswer(v);
});

test("draft-mcgrew-gcm-test-01 ESP packets at the GCM level", () => {
  const { vectors: vs } = vectors<{ vectors: (Vector & { salt: string; iv: string; spi: string; seq: string })[] }>("gcm-esp-draft.json");
  assert.equal(vs.length, 17);
  for (const v of vs) {
    assert.equal(v.nonce, v.salt + v.iv, `${v.name}: RFC 4106 nonce`);
    checkKnownAnswer(v);
  }
});

describe("Wycheproof aes_gcm_test.json (96-bit IV)", () => {
  const { testGroups } = vectors<{ testGroups: WycheproofGroup[] }>("gcm-wycheproof.json");
  const all = testGroups.flatMap((g) => g.tests.map((t) => ({ g, t })));

  test("valid cases seal and open; the tag truncated to 96 and 64 bits still verifies", () => {
    let n = 0;
    for (const { t } of all.filter(({ t }) => t.result === "valid")) {
      const key = hex(t.key), iv = hex(t.iv), aad = hex(t.aad), msg = hex(t.msg), ct = hex(t.ct), tag = hex(t.tag);
      init(key);
      const out = seal(iv, aad, msg);
      assert.equal(toHex(out.ciphertext) + toHex(out.tag), t.ct + t.tag, `tcId ${t.tcId}`);
      for (const len of [16, 12, 8]) assert.deepEqual(open(iv, aad, ct, tag.subarray(0, len)), msg, `tcId ${t.tcId}, ${len}-byte tag`);
      n++;
    }
    assert.ok(n >= 100, `${n} valid cases`);
  });

  test("invalid cases are rejected with the data untouched", () => {
    let n = 0;
    for (const { g, t } of all.filter(({ t }) => t.result === "invalid")) {
      init(hex(t.key));
      assert.equal(g.tagSize, 128);
      assert.equal(open(hex(t.iv), hex(t.aad), hex(t.ct), hex(t.tag)), null, `tcId ${t.tcId}: ${t.comment}`);
      n++;
    }
    assert.ok(n >= 50, `${n} invalid cases`);
  });
});

test("differential against node:crypto: 3600 random key/nonce/AAD/length/tag-length combinations", () => {
  const seed = 0x6763_6d01;
  const r = rng(seed);
  const keyLens = [16, 24, 32], tagLens = [8, 12, 16];
  const aadLens = [0, 8, 12, 16, 20, 40];
  // Lengths around the 8-block batch boundaries (the first batch holds 6 data blocks), around the
  // blocks hashed during the first two batches when opening (one per AES round: 10, 12 or 14 each),
  // then random.
  const edges = [0, 1, 15, 16, 17, 63, 64, 65, 95, 96, 97, 111, 112, 113, 127, 128, 129, 159, 160, 161, 191, 192, 193,
    223, 224, 225, 239, 240, 241, 255, 256, 257, 319, 320, 321, 351, 352, 353, 368, 369, 383, 384, 385, 447, 448, 449,
    2047, 2048, 2100];
  for (let i = 0; i < 3600; i++) {
    const key = r.bytes(keyLens[i % 3]), nonce = r.bytes(12);
    const aad = r.bytes(i % 7 === 6 ? r.int(41) : aadLens[r.int(aadLens.length)]);
    const len = i < edges.length * 3 ? edges[Math.floor(i / 3)] : r.int(2101);
    const tagLen = tagLens[r.int(3)];
    const pt = r.bytes(len);
    const want = oracle(key, nonce, aad, pt, tagLen);
    const ctx = i % 2 === 0 ? CTX : CTX2;
    init(key, ctx);
    const got = seal(nonce, aad, pt, tagLen, ctx);
    const where = `seed ${seed} case ${i}: key ${key.length}, aad ${aad.length}, len ${len}, tag ${tagLen}`;
    assert.equal(toHex(got.ciphertext), toHex(want.ciphertext), `${where}: ciphertext`);
    assert.equal(toHex(got.tag), toHex(want.tag), `${where}: tag`);
    assert.deepEqual(open(nonce, aad, want.ciphertext, want.tag, ctx), pt, `${where}: open`);
  }
});

test("long AADs, as GMAC (RFC 4543) in AH uses them with no data, and with data, agree with node:crypto", () => {
  const seed = 0x676d_6163;
  const r = rng(seed);
  // Around the AAD blocks hashed during the first AES batch (one per round: 10, 12 or 14), then random.
  const aadLens = [15, 16, 17, 159, 160, 161, 191, 192, 193, 223, 224, 225, 240, 4096];
  for (let i = 0; i < 600; i++) {
    const key = r.bytes([16, 24, 32][i % 3]), nonce = r.bytes(12);
    const aad = r.bytes(i < aadLens.length * 6 ? aadLens[Math.floor(i / 6)] : r.int(4000));
    const pt = r.bytes(i % 2 === 0 ? 0 : r.int(500));
    const want = oracle(key, nonce, aad, pt, 16);
    init(key);
    const got = seal(nonce, aad, pt);
    const where = `seed ${seed} case ${i}: key ${key.length}, aad ${aad.length}, len ${pt.length}`;
    assert.equal(toHex(got.ciphertext) + toHex(got.tag), toHex(want.ciphertext) + toHex(want.tag), where);
    assert.deepEqual(open(nonce, aad, want.ciphertext, want.tag), pt, `${where}: open`);
    const t = want.tag.slice(); t[r.int(16)] ^= 1 << r.int(8);
    assert.equal(open(nonce, aad, want.ciphertext, t), null, `${where}: tampered tag`);
  }
});

test("large packets: 65535, 65536 and 70000 bytes agree with node:crypto", () => {
  const r = rng(7);
  for (const [len, keyLen] of [[65535, 16], [65536, 24], [MAX_DATA, 32]]) {
    const key = r.bytes(keyLen), nonce = r.bytes(12), aad = r.bytes(12), pt = r.bytes(len);
    init(key);
    const want = oracle(key, nonce, aad, pt, 16);
    const got = seal(nonce, aad, pt);
    assert.ok(Buffer.from(got.ciphertext).equals(want.ciphertext), `len ${len}: ciphertext`);
    assert.equal(toHex(got.tag), toHex(want.tag), `len ${len}: tag`);
    assert.deepEqual(open(nonce, aad, want.ciphertext, want.tag), pt, `len ${len}: open`);
  }
});

describe("tampering", () => {
  test("every single-bit flip of ciphertext, tag, AAD or nonce is rejected, data unchanged", () => {
    const r = rng(11);
    for (const [len, tagLen] of [[0, 16], [1, 8], [37, 12], [113, 16]]) {
      const key = r.bytes(16), nonce = r.bytes(12), aad = r.bytes(12), pt = r.bytes(len);
      init(key);
      const { ciphertext, tag } = oracle(key, nonce, aad, pt, tagLen);
      assert.deepEqual(open(nonce, aad, ciphertext, tag), pt);
      for (let bit = 0; bit < ciphertext.length * 8; bit++) {
        const c = ciphertext.slice(); c[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(open(nonce, aad, c, tag), null, `len ${len}: ciphertext bit ${bit}`);
      }
      for (let bit = 0; bit < tagLen * 8; bit++) {
        const t = tag.slice(); t[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(open(nonce, aad, ciphertext, t), null, `len ${len}: tag bit ${bit}`);
      }
      for (let bit = 0; bit < aad.length * 8; bit++) {
        const a = aad.slice(); a[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(open(nonce, a, ciphertext, tag), null, `len ${len}: AAD bit ${bit}`);
      }
      for (let bit = 0; bit < 96; bit++) {
        const n = nonce.slice(); n[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(open(n, aad, ciphertext, tag), null, `len ${len}: nonce bit ${bit}`);
      }
    }
  });

  test("random flips on random packets agree with node:crypto's verdict", () => {
    const r = rng(13);
    for (let i = 0; i < 400; i++) {
      const key = r.bytes([16, 24, 32][i % 3]), nonce = r.bytes(12), aad = r.bytes(r.int(41));
      const pt = r.bytes(1 + r.int(2100)), tagLen = [8, 12, 16][r.int(3)];
      init(key);
      const { ciphertext, tag } = oracle(key, nonce, aad, pt, tagLen);
      const c = ciphertext.slice(), t = tag.slice(), a = aad.slice();
      const target = r.int(aad.length > 0 ? 3 : 2);
      const buf = target === 0 ? c : target === 1 ? t : a;
      buf[r.int(buf.length)] ^= 1 << r.int(8);
      assert.equal(oracleOpen(key, nonce, a, c, t), null, "node:crypto accepted a tampered packet");
      assert.equal(open(nonce, a, c, t), null, `case ${i}: tampered ${["ciphertext", "tag", "AAD"][target]}`);
    }
  });

  test("a truncated tag verifies only as the length it claims", () => {
    const r = rng(17);
    const key = r.bytes(32), nonce = r.bytes(12), aad = r.bytes(8), pt = r.bytes(100);
    init(key);
    const { ciphertext, tag } = oracle(key, nonce, aad, pt, 16);
    // The 8-byte prefix verifies as an 8-byte tag (SP 800-38D truncation) …
    assert.deepEqual(open(nonce, aad, ciphertext, tag.subarray(0, 8)), pt);
    // … but the bytes after it matter when 16 are claimed.
    const t = tag.slice(); t[15] ^= 0x80;
    assert.equal(open(nonce, aad, ciphertext, t), null);
  });
});

describe("degenerate inputs never trap", () => {
  test("tag lengths outside 8..16 are refused by open; seal clamps to 0..16", () => {
    const r = rng(19);
    const key = r.bytes(16), nonce = r.bytes(12), aad = r.bytes(8), pt = r.bytes(50);
    init(key);
    const { ciphertext, tag } = oracle(key, nonce, aad, pt, 16);
    for (const tagLen of [-1, 0, 1, 4, 7, 17, 1 << 30]) {
      place(DATA, ciphertext);
      place(TAG, tag);
      assert.equal(x.gcmOpen(CTX, NONCE, AAD, aad.length, DATA, ciphertext.length, TAG, tagLen), 0, `tagLen ${tagLen}`);
      assert.deepEqual(mem().subarray(DATA, DATA + ciphertext.length), ciphertext);
    }
    for (const tagLen of [13, 14, 15]) {
      const want = oracle(key, nonce, aad, pt, tagLen);
      assert.equal(toHex(seal(nonce, aad, pt, tagLen).tag), toHex(want.tag), `tagLen ${tagLen}`);
      assert.deepEqual(open(nonce, aad, want.ciphertext, want.tag), pt);
    }
    assert.equal(seal(nonce, aad, pt, 0).tag.length, 0); // writes nothing (guards checked)
    place(DATA, pt);
    place(TAG, new Uint8Array(16));
    x.gcmSeal(CTX, NONCE, AAD, aad.length, DATA, pt.length, TAG, 99);
    assert.equal(toHex(mem().slice(TAG, TAG + 16)), toHex(oracle(key, nonce, aad, pt, 16).tag));
    assertGuards(TAG, 16, "clamped tag");
  });

  test("negative lengths act as zero", () => {
    const r = rng(23);
    const key = r.bytes(24), nonce = r.bytes(12);
    init(key);
    place(NONCE, nonce);
    place(DATA, new Uint8Array(16));
    place(TAG, new Uint8Array(16));
    x.gcmSeal(CTX, NONCE, AAD, -5, DATA, -1, TAG, 16);
    const want = oracle(key, nonce, new Uint8Array(0), new Uint8Array(0), 16);
    assert.equal(toHex(mem().slice(TAG, TAG + 16)), toHex(want.tag));
    assert.deepEqual(mem().subarray(DATA, DATA + 16), new Uint8Array(16));
    assert.notEqual(x.gcmOpen(CTX, NONCE, AAD, -5, DATA, -1, TAG, 16), 0);
  });

  test("a bad key length leaves a context that seals nothing and opens nothing", () => {
    const r = rng(29);
    for (const keyLen of [0, 8, 15, 17, 31, 33, 64]) {
      init(r.bytes(keyLen));
      assert.deepEqual(mem().subarray(CTX, CTX + CTX_SIZE), new Uint8Array(CTX_SIZE), `keyLen ${keyLen}: context not wiped`);
      const pt = r.bytes(40);
      place(DATA, pt);
      place(TAG, new Uint8Array(16));
      x.gcmSeal(CTX, NONCE, AAD, 0, DATA, pt.length, TAG, 16);
      assert.deepEqual(mem().subarray(DATA, DATA + pt.length), pt);
      assert.deepEqual(mem().subarray(TAG, TAG + 16), new Uint8Array(16));
      assert.equal(x.gcmOpen(CTX, NONCE, AAD, 0, DATA, pt.length, TAG, 16), 0);
    }
  });
});

describe("context and memory discipline", () => {
  test("gcmWipe zeroes exactly the context, and a wiped SA authenticates nothing", () => {
    const r = rng(31);
    const key = r.bytes(16), nonce = r.bytes(12), aad = r.bytes(8), pt = r.bytes(64);
    mem().fill(FILL, CTX - GUARD, CTX + CTX_SIZE + GUARD);
    init(key);
    const { ciphertext, tag } = oracle(key, nonce, aad, pt, 16);
    assert.deepEqual(open(nonce, aad, ciphertext, tag), pt);
    x.gcmWipe(CTX);
    assert.deepEqual(mem().subarray(CTX, CTX + CTX_SIZE), new Uint8Array(CTX_SIZE));
    assertGuards(CTX, CTX_SIZE, "wipe");
    assert.equal(open(nonce, aad, ciphertext, tag), null);
    // A wiped context behaves as "no key", not as the all-zero key.
    const zero = oracle(new Uint8Array(16), nonce, aad, pt, 16);
    assert.equal(open(nonce, aad, zero.ciphertext, zero.tag), null);
  });

  test("gcmInit writes only inside the context; seal and open never write to it or to static memory", () => {
    const r = rng(37);
    mem().fill(FILL, CTX - GUARD, CTX + CTX_SIZE + GUARD);
    init(r.bytes(32));
    assertGuards(CTX, CTX_SIZE, "init");
    const before = mem().slice(0, CTX + CTX_SIZE + GUARD); // static data, heap start and the context
    for (let i = 0; i < 50; i++) {
      const nonce = r.bytes(12), aad = r.bytes(r.int(41)), pt = r.bytes(r.int(3000));
      const { ciphertext, tag } = seal(nonce, aad, pt, 16);
      assert.deepEqual(open(nonce, aad, ciphertext, tag), pt);
      tag[0] ^= 1;
      assert.equal(open(nonce, aad, ciphertext, tag), null);
    }
    assert.ok(Buffer.from(mem().subarray(0, before.length)).equals(before), "memory outside the caller's buffers changed");
  });

  test("two instances over one shared memory interleave correctly", () => {
    const { exports: y } = instantiate(memory);
    const r = rng(41);
    const k1 = r.bytes(16), k2 = r.bytes(32);
    init(k1, CTX, x);
    init(k2, CTX2, y);
    for (let i = 0; i < 200; i++) {
      const useY = i % 2 === 1, key = useY ? k2 : k1, ctx = useY ? CTX2 : CTX, ex = useY ? y : x;
      const nonce = r.bytes(12), aad = r.bytes(8), pt = r.bytes(r.int(600));
      place(NONCE, nonce); place(AAD, aad); place(DATA, pt); place(TAG, new Uint8Array(16));
      ex.gcmSeal(ctx, NONCE, AAD, aad.length, DATA, pt.length, TAG, 16);
      const want = oracle(key, nonce, aad, pt, 16);
      assert.equal(toHex(mem().slice(DATA, DATA + pt.length)) + toHex(mem().slice(TAG, TAG + 16)), toHex(want.ciphertext) + toHex(want.tag), `op ${i}`);
    }
  });

  test("worker threads sealing and opening with one shared context at the same time", async () => {
    const r = rng(43);
    const key = r.bytes(16);
    init(key);
    const WORKERS = 2, PACKETS = 1000, SIZE = 256, STRIDE = 512, ROUNDS = 8;
    // Per packet slot: nonce (12) | pad | data (SIZE) | tag (16).
    const slot = (w: number, p: number): number => DATA + (w * PACKETS + p) * STRIDE;
    const plain: Uint8Array[][] = [];
    for (let w = 0; w < WORKERS; w++) {
      plain.push([]);
      for (let p = 0; p < PACKETS; p++) {
        const pt = r.bytes(SIZE);
        mem().set(r.bytes(12), slot(w, p));
        mem().set(pt, slot(w, p) + 16);
        plain[w].push(pt);
      }
    }
    // Each worker waits at a barrier, then seals and reopens its packets ROUNDS times (opening
    // restores the plaintext) and seals them once more; it reports how many opens failed.
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    const wasmJs = new URL("../../src/dataplane/wasm.js", import.meta.url).href;
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      import(${JSON.stringify(wasmJs)}).then(({ instantiate }) => {
        const { memory, barrier, ctx, first, count, size, stride, rounds, workers } = workerData;
        const { exports: e } = instantiate(memory);
        Atomics.add(barrier, 0, 1);
        while (Atomics.load(barrier, 0) < workers);
        let failures = 0;
        const seal = (at) => e.gcmSeal(ctx, at, 0, 0, at + 16, size, at + 16 + size, 16);
        for (let round = 0; round <= rounds; round++) {
          for (let p = first; p < first + count; p++) seal(${DATA} + p * stride);
          if (round === rounds) break;
          for (let p = first; p < first + count; p++) {
            const at = ${DATA} + p * stride;
            if (!e.gcmOpen(ctx, at, 0, 0, at + 16, size, at + 16 + size, 16)) failures++;
          }
        }
        parentPort.postMessage(failures);
      });`;
    const failures = await Promise.all(Array.from({ length: WORKERS }, (_, w) => new Promise<number>((resolve, reject) => {
      const workerData = { memory, barrier, ctx: CTX, first: w * PACKETS, count: PACKETS, size: SIZE, stride: STRIDE, rounds: ROUNDS, workers: WORKERS };
      const worker = new Worker(code, { eval: true, workerData });
      worker.once("message", (n: number) => { void worker.terminate(); resolve(n); });
      worker.once("error", reject);
    })));
    assert.deepEqual(failures, [0, 0]);
    for (let w = 0; w < WORKERS; w++) {
      for (let p = 0; p < PACKETS; p++) {
        const at = slot(w, p);
        const want = oracle(key, mem().slice(at, at + 12), new Uint8Array(0), plain[w][p], 16);
        assert.equal(toHex(mem().slice(at + 16, at + 16 + SIZE + 16)), toHex(want.ciphertext) + toHex(want.tag), `worker ${w} packet ${p}`);
      }
    }
  });
});
