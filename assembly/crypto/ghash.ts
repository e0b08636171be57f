// GHASH (NIST SP 800-38D) by per-byte-position tables.
//
// Multiplication by the fixed key H is linear, so X·H is the XOR, over the 16 byte positions k of
// X, of T[k][X_k], where T[k][v] is (the block holding v at byte k)·H, precomputed per key:
// 16 tables × 256 entries × 16 bytes = 64 KiB per key, 16 loads and XORs per block and no
// reduction step. (The 12.5 KiB table of five-bit chunks took 26 loads and was 15-30% slower per
// block; at 64 KiB per SA, 10,000 SAs still fit in 1 GiB.)
//
// A block costs about 45 cycles when each depends on the last (the table walk is latency-bound,
// and half the table misses L1), about 30 when independent, and about 15 more inside an AES batch:
// gcm.ts hashes there (aesCtr8Hash) wherever the data allows.
//
// SIDE-CHANNEL PROPERTY: this is NOT constant-time. The table index is the running GHASH state
// (Y ^ block), which depends on H (a secret derived from the key) and on the data, so the memory
// addresses touched are secret-dependent. An attacker who can observe cache timing on the same
// core could learn information about H, and with it forge tags. The 64 KiB table is larger than a
// typical 32 KiB L1 data cache, so secret-dependent misses also show in the timing of the call
// itself, not only in the cache state it leaves. AES itself is bitsliced and constant-time; this
// trade-off is confined to GHASH and was chosen for speed (a constant-time carry-less multiply
// without a CLMUL instruction costs several times more in WebAssembly).

/** Bytes of the tables for one 64-bit half of a block: 8 byte positions × 256 entries × 16 bytes. */
const HALF_BYTES: i32 = 8 * 256 * 16;
/** Bytes of the per-key table. */
export const GHASH_TABLE_BYTES: i32 = 2 * HALF_BYTES;

/**
 * Build the table at `tbl` (GHASH_TABLE_BYTES, 16-byte aligned) for the hash key whose 16 bytes
 * are h0 (first 8, little-endian) and h1 (last 8).
 */
export function ghashInit(tbl: usize, h0: u64, h1: u64): void {
  // The field element as two big-endian halves: the top bit of `hi` is the coefficient of x^0.
  let hi = bswap<u64>(h0);
  let lo = bswap<u64>(h1);
  for (let j = 0; j < 128; j++) {
    // Coefficient x^j is bit 7 - j%8 of byte j/8: entry 0x80 >> j%8 of table j/8 is x^j·H.
    const e = tbl + (<usize>(j >> 3) << 12) + (<usize>(0x80 >> (j & 7)) << 4);
    v128.store(e, i64x2.replace_lane(i64x2.splat(bswap<u64>(hi)), 1, bswap<u64>(lo)));
    // Multiply by x: shift towards higher powers, reduce by x^128 = x^7 + x^2 + x + 1.
    const carry = lo & 1;
    lo = (lo >> 1) | (hi << 63);
    hi = (hi >> 1) ^ (0xe100000000000000 & (0 - carry));
  }
  // Every other entry is the XOR of the entries of its lowest set bit and of the rest.
  for (let t = tbl, end = tbl + <usize>GHASH_TABLE_BYTES; t < end; t += 4096) {
    v128.store(t, i64x2.splat(0));
    for (let v = 3; v < 256; v++) {
      const low = v & -v;
      if (low == v) continue;
      v128.store(t + (<usize>v << 4),
        v128.xor(v128.load(t + (<usize>low << 4)), v128.load(t + (<usize>(v ^ low) << 4))));
    }
  }
}

/** x·H using the table at `tbl`. */
@inline export function ghashMul(tbl: usize, x: v128): v128 {
  return ghashMulHalves(tbl, i64x2.extract_lane(x, 0), i64x2.extract_lane(x, 1));
}

/** (a, b)·H for the block whose first 8 bytes are a and last 8 are b (little-endian). */
@inline export function ghashMulHalves(tbl: usize, a: u64, b: u64): v128 {
  return v128.xor(ghashHalf(tbl, a), ghashHalf(tbl + <usize>HALF_BYTES, b));
}

/**
 * The share of one 64-bit half `w` of a block in its product with H (`half` is that half's
 * tables). A block whose second half is zero needs only the first half's share.
 */
@inline export function ghashHalf(half: usize, w: u64): v128 {
  // Byte k's entry is at the byte's value × 16 in table k; tables are 4096 bytes apart. One XOR
  // chain (not a tree) keeps few vector registers busy, which matters inside aesCtr8Hash.
  const a = <u32>w, b = <u32>(w >> 32);
  let r = v128.load(half + <usize>((a << 4) & 0xff0), 0);
  r = v128.xor(r, v128.load(half + <usize>((a >> 4) & 0xff0), 4096));
  r = v128.xor(r, v128.load(half + <usize>((a >> 12) & 0xff0), 8192));
  r = v128.xor(r, v128.load(half + <usize>((a >> 20) & 0xff0), 12288));
  r = v128.xor(r, v128.load(half + <usize>((b << 4) & 0xff0), 16384));
  r = v128.xor(r, v128.load(half + <usize>((b >> 4) & 0xff0), 20480));
  r = v128.xor(r, v128.load(half + <usize>((b >> 12) & 0xff0), 24576));
  return v128.xor(r, v128.load(half + <usize>((b >> 20) & 0xff0), 28672));
}

/** Absorb `n` bytes at `p` into GHASH state `y`; a final partial block is zero-padded. */
@inline export function ghashBytes(tbl: usize, y: v128, p: usize, n: i32): v128 {
  const end = p + (<usize>n & ~15);
  while (p < end) {
    y = ghashMul(tbl, v128.xor(y, v128.load(p)));
    p += 16;
  }
  const rest = n & 15;
  if (rest != 0) y = ghashMul(tbl, v128.xor(y, loadPartial(p, rest)));
  return y;
}

/** Load n < 16 bytes as a zero-padded block, touching no byte beyond p + n. */
@inline export function loadPartial(p: usize, n: i32): v128 {
  if (n >= 8) return i64x2.replace_lane(v128.load64_zero(p), 1, loadLE(p + 8, n - 8));
  return i64x2.replace_lane(i64x2.splat(0), 0, loadLE(p, n));
}

/** Store the first n < 16 bytes of `v` at p. */
@inline export function storePartial(p: usize, n: i32, v: v128): void {
  if (n >= 8) {
    store<u64>(p, i64x2.extract_lane(v, 0));
    storeLE(p + 8, n - 8, i64x2.extract_lane(v, 1));
  } else {
    storeLE(p, n, i64x2.extract_lane(v, 0));
  }
}

function loadLE(p: usize, n: i32): u64 {
  let v: u64 = 0;
  let o: usize = 0;
  if ((n & 4) != 0) { v = <u64>load<u32>(p); o = 4; }
  if ((n & 2) != 0) { v |= <u64>load<u16>(p + o) << (o << 3); o += 2; }
  if ((n & 1) != 0) v |= <u64>load<u8>(p + o) << (o << 3);
  return v;
}

function storeLE(p: usize, n: i32, v: u64): void {
  let o: usize = 0;
  if ((n & 4) != 0) { store<u32>(p, <u32>v); o = 4; }
  if ((n & 2) != 0) { store<u16>(p + o, <u16>(v >> (o << 3))); o += 2; }
  if ((n & 1) != 0) store<u8>(p + o, <u8>(v >> (o << 3)));
}
