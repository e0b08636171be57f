// GHASH (NIST SP 800-38D) by per-chunk tables.
//
// Multiplication by the fixed key H is linear, so X·H is the XOR, over disjoint bit chunks of X,
// of T[chunk][value of X in that chunk], with T precomputed per key. Each 64-bit half of X is cut
// into twelve 5-bit chunks and one 4-bit chunk: 26 loads and XORs per block, no reduction step,
// and 2 × (12 × 32 + 16) entries × 16 bytes = 12.5 KiB per key. (4-bit chunks take 32 loads in
// 8 KiB and measured ~30% slower; larger chunks would not fit the 16 KiB context.)
//
// SIDE-CHANNEL PROPERTY: this is NOT constant-time. The table index is the running GHASH state
// (Y ^ block), which depends on H (a secret derived from the key) and on the data, so the memory
// addresses touched are secret-dependent. An attacker who can observe cache timing on the same
// core could learn information about H, and with it forge tags. The table (12.5 KiB) stays in L1,
// which narrows but does not close that channel. AES itself is bitsliced and constant-time; this
// trade-off is confined to GHASH and was chosen for speed (a constant-time carry-less multiply
// without a CLMUL instruction costs several times more in WebAssembly).

/** Bytes of the table for one 64-bit half: 12 chunks of 32 entries, one of 16. */
const HALF_BYTES: i32 = (12 * 32 + 16) * 16;
/** Bytes of the per-key table. */
export const GHASH_TABLE_BYTES: i32 = 2 * HALF_BYTES;

/**
 * Build the table at `tbl` (GHASH_TABLE_BYTES, 16-byte aligned) for the hash key whose 16 bytes
 * are h0 (first 8, little-endian) and h1 (last 8).
 */
export function ghashInit(tbl: usize, h0: u64, h1: u64): void {
  memory.fill(tbl, 0, <usize>GHASH_TABLE_BYTES);
  // The field element as two big-endian halves: the top bit of `hi` is the coefficient of x^0.
  let hi = bswap<u64>(h0);
  let lo = bswap<u64>(h1);
  for (let j = 0; j < 128; j++) {
    // Coefficient x^j is bit 7 - j%8 of byte j/8, i.e. bit b of little-endian half `half`.
    const half = j >> 6;
    const b = (j & 0x38) + 7 - (j & 7);
    const chunk = b / 5;
    const bit = 1 << (b - chunk * 5);
    const entries = chunk < 12 ? 32 : 16;
    const base = tbl + <usize>(half * HALF_BYTES + (chunk << 9));
    const p = i64x2.replace_lane(i64x2.splat(bswap<u64>(hi)), 1, bswap<u64>(lo)); // x^j·H
    for (let v = 0; v < entries; v++) {
      if ((v & bit) != 0) {
        const e = base + (<usize>v << 4);
        v128.store(e, v128.xor(v128.load(e), p));
      }
    }
    // Multiply by x: shift towards higher powers, reduce by x^128 = x^7 + x^2 + x + 1.
    const carry = lo & 1;
    lo = (lo >> 1) | (hi << 63);
    hi = (hi >> 1) ^ (0xe100000000000000 & (0 - carry));
  }
}

/** x·H using the table at `tbl`. */
@inline export function ghashMul(tbl: usize, x: v128): v128 {
  return v128.xor(
    ghashHalf(tbl, i64x2.extract_lane(x, 0)),
    ghashHalf(tbl + <usize>HALF_BYTES, i64x2.extract_lane(x, 1)));
}

/**
 * The share of one 64-bit half `w` of a block in its product with H (`half` is that half's
 * table). A block whose second half is zero needs only the first half's share.
 */
@inline export function ghashHalf(half: usize, w: u64): v128 {
  // Chunk c covers bits 5c..5c+4; its table offset is the chunk value × 16, i.e. the chunk moved
  // to bits 4..8. Chunk tables are 512 bytes apart.
  let a0 = v128.load(half + <usize>((<u32>w << 4) & 0x1f0), 0);
  let a1 = v128.load(half + <usize>(<u32>(w >> 1) & 0x1f0), 512);
  let a2 = v128.load(half + <usize>(<u32>(w >> 6) & 0x1f0), 1024);
  let a3 = v128.load(half + <usize>(<u32>(w >> 11) & 0x1f0), 1536);
  a0 = v128.xor(a0, v128.load(half + <usize>(<u32>(w >> 16) & 0x1f0), 2048));
  a1 = v128.xor(a1, v128.load(half + <usize>(<u32>(w >> 21) & 0x1f0), 2560));
  a2 = v128.xor(a2, v128.load(half + <usize>(<u32>(w >> 26) & 0x1f0), 3072));
  a3 = v128.xor(a3, v128.load(half + <usize>(<u32>(w >> 31) & 0x1f0), 3584));
  a0 = v128.xor(a0, v128.load(half + <usize>(<u32>(w >> 36) & 0x1f0), 4096));
  a1 = v128.xor(a1, v128.load(half + <usize>(<u32>(w >> 41) & 0x1f0), 4608));
  a2 = v128.xor(a2, v128.load(half + <usize>(<u32>(w >> 46) & 0x1f0), 5120));
  a3 = v128.xor(a3, v128.load(half + <usize>(<u32>(w >> 51) & 0x1f0), 5632));
  a0 = v128.xor(a0, v128.load(half + <usize>(<u32>(w >> 56) & 0xf0), 6144));
  return v128.xor(v128.xor(a0, a1), v128.xor(a2, a3));
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
