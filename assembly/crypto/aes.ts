// Constant-time AES (FIPS-197) for 128/192/256-bit keys, bitsliced over 8 blocks at once.
//
// Layout (after the same design as BearSSL's aes_ct64, widened to v128): eight blocks B0..B7 are
// held as eight bit-planes q0..q7, where byte p of plane i holds bit i of byte p of every block
// (bit j of that byte = block j). SubBytes is then a Boolean circuit (Boyar–Peralta), and the
// byte-position permutations of ShiftRows and MixColumns are i8x16.swizzle on each plane. Nothing
// is ever indexed by key or data, so timing and memory access do not depend on secrets. Counter
// blocks are built directly as planes; the output is transposed back into blocks.
//
// The S-box circuit leaves out its four NOT gates; its output is then S(x) ^ 0x63. Since ShiftRows
// and MixColumns map an all-0x63 state to itself, the missing constant is folded into round keys
// 1..Nr instead (planes 0, 1, 5 and 6 inverted), which saves eight v128.not per round.
//
// ShiftRows is never applied in the middle rounds ("fixslicing", after Adomnicai and Peyrin):
// after round r the state is held with its bytes permuted by SR^-r, so SubBytes (bytewise) is
// unaffected and MixColumns only needs its two row rotations conjugated by that permutation,
// which are again single byte shuffles. Round keys 1..Nr-1 are stored pre-permuted to match, and
// the last round applies the accumulated SR^Nr. That saves one shuffle per plane and round.
//
// aesCtr8Hash runs a GHASH table walk (ghash.ts, NOT constant-time) alongside, one block per
// round: the walk is latency-bound and the circuit throughput-bound, so a block hashed there costs
// about a third of one hashed alone. The AES computation never depends on that work and stays
// constant-time; the GHASH lookups keep GHASH's own side-channel property.

import { ghashMulHalves } from "./ghash";

/** Bytes of one bitsliced round key: 8 planes × 16 bytes. */
export const AES_RK_BYTES: i32 = 128;
/** Bytes of the largest bitsliced key schedule (AES-256: 15 round keys). */
export const AES_SCHEDULE_BYTES: i32 = 15 * AES_RK_BYTES;

/** Output of aesCtr8: the eight encrypted blocks (per-instance globals, not shared memory). */
export let out0: v128 = i64x2(0, 0);
export let out1: v128 = i64x2(0, 0);
export let out2: v128 = i64x2(0, 0);
export let out3: v128 = i64x2(0, 0);
export let out4: v128 = i64x2(0, 0);
export let out5: v128 = i64x2(0, 0);
export let out6: v128 = i64x2(0, 0);
export let out7: v128 = i64x2(0, 0);
/** Output of aesCtr8Hash: the GHASH state (a per-instance global too). */
export let hashOut: v128 = i64x2(0, 0);

// Two read-only round keys (0 and the 0x63 fold) that turn a 1-round encryption into plain
// SubBytes; used by the key schedule for SubWord.
const SUB_ONLY_KEYS: usize = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
], 16);

// Byte permutations for i8x16.swizzle (out[k] = in[mask[k]]); state byte 4c+r is row r of
// column c. MC_ROTATIONS holds, for round r mod 4, the one-row and two-row column rotations
// conjugated by SR^-r. KEY_PERMUTATIONS holds SR^-r for r mod 4 (applied to round keys).
// SR2 is ShiftRows applied twice (the last round's fix-up for 10 and 14 rounds).
const MC_ROTATIONS: usize = memory.data<u8>([
  1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
  2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
  5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0,
  10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5,
  9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4,
  2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
  13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8,
  10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5,
], 16);
const KEY_PERMUTATIONS: usize = memory.data<u8>([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3,
  0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 5, 14, 7,
  0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11,
], 16);
const SR2: usize = KEY_PERMUTATIONS + 32; // SR^-2 = SR^2

@inline function xor(a: v128, b: v128): v128 { return v128.xor(a, b); }
@inline function and(a: v128, b: v128): v128 { return v128.and(a, b); }
/** Bit i of every byte of v, spread over its whole byte (0x00 or 0xFF): a bit-plane of v. */
@inline function spread(v: v128, i: i32): v128 {
  const bit = i8x16.splat(<i8>(<i32>1 << i)); // a compare, not byte shifts: WebAssembly's cost several instructions
  return i8x16.eq(v128.and(v, bit), bit);
}

/**
 * Expand `key` (keyLen 16, 24 or 32 bytes) into bitsliced round keys at `rk`
 * (AES_SCHEDULE_BYTES bytes suffice). `tmp` is 240 bytes of caller-owned scratch for the raw
 * schedule; the caller wipes it. Returns the number of rounds, or 0 for a bad key length.
 */
export function aesExpandKey(rk: usize, tmp: usize, key: usize, keyLen: i32): i32 {
  if (keyLen != 16 && keyLen != 24 && keyLen != 32) return 0;
  const nk = keyLen >> 2;
  const nr = nk + 6;
  const words = (nr + 1) << 2;
  memory.copy(tmp, key, <usize>keyLen);
  let rcon: u32 = 1;
  let w = load<u32>(tmp + (<usize>(nk - 1) << 2));
  for (let i = nk; i < words; i++) {
    const j = i % nk;
    if (j == 0) {
      // Words are little-endian, so RotWord is a right rotation by one byte.
      w = subWord(rotr<u32>(w, 8)) ^ rcon;
      rcon = (rcon << 1) ^ (0x11b & -(rcon >> 7));
    } else if (nk > 6 && j == 4) {
      w = subWord(w);
    }
    w ^= load<u32>(tmp + (<usize>(i - nk) << 2));
    store<u32>(tmp + (<usize>i << 2), w);
  }
  const fold = i8x16(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  for (let r = 0; r <= nr; r++) {
    let k = v128.load(tmp + (<usize>r << 4));
    if (r < nr) k = i8x16.swizzle(k, v128.load(KEY_PERMUTATIONS + (<usize>(r & 3) << 4)));
    const dst = rk + (<usize>r << 7);
    for (let i = 0; i < 8; i++) {
      let plane = spread(k, i);
      if (r > 0 && ((0x63 >> i) & 1) != 0) plane = v128.xor(plane, fold);
      v128.store(dst + (<usize>i << 4), plane);
    }
  }
  return nr;
}

/**
 * AES SubWord in constant time: a one-round encryption with zero keys of a block whose four
 * columns all equal w (so ShiftRows is the identity); the counter BE32(bswap(w)) is w itself.
 */
function subWord(w: u32): u32 {
  aesCtr8(SUB_ONLY_KEYS, 1, (<u64>w << 32) | w, w, bswap<u32>(w));
  return i32x4.extract_lane(out0, 0);
}

/** Zero out0..out7 (they may hold secrets such as H). */
export function aesWipeOutput(): void {
  const z = i64x2(0, 0);
  out0 = z; out1 = z; out2 = z; out3 = z; out4 = z; out5 = z; out6 = z; out7 = z;
}

/**
 * Encrypt the eight counter blocks prefix || BE32(ctr + i), i = 0..7, with the bitsliced key
 * schedule at `rk` (nr rounds) into out0..out7. The 12-byte prefix is given as its first 8 bytes
 * (little-endian u64) and last 4 bytes (little-endian u32). ctr must be a multiple of 8, except
 * that out0 is right for any ctr.
 */
export function aesCtr8(rk: usize, nr: i32, prefix01: u64, prefix2: u32, ctr: u32): void {
  ctr8(rk, nr, prefix01, prefix2, ctr, false, 0, 0, 0, 0, 0);
}

/**
 * aesCtr8, absorbing meanwhile `blocks` (at most nr) 16-byte blocks at `p` into the GHASH state
 * whose halves are ylo and yhi, with the table at `tbl`, one block per round. The new GHASH state
 * goes to hashOut.
 */
export function aesCtr8Hash(rk: usize, nr: i32, prefix01: u64, prefix2: u32, ctr: u32,
  tbl: usize, ylo: u64, yhi: u64, p: usize, blocks: i32): void {
  hashOut = ctr8(rk, nr, prefix01, prefix2, ctr, true, tbl, ylo, yhi, p, blocks);
}

/** Both of the above: `hash` is a constant at each call, so the unused GHASH code folds away. */
@inline function ctr8(rk: usize, nr: i32, prefix01: u64, prefix2: u32, ctr: u32,
  hash: bool, tbl: usize, ylo: u64, yhi: u64, p: usize, blocks: i32): v128 {
  // The blocks differ only in the low 3 bits of the counter (its last byte), so no transpose is
  // needed: plane i is the plane of block 0, plus, for i < 3, bit i of each block index j placed
  // at bit j of the last byte (0xaa, 0xcc, 0xf0).
  const prefix = i32x4.replace_lane(i64x2.replace_lane(i64x2.splat(0), 0, prefix01), 2, prefix2);
  const b = i32x4.replace_lane(prefix, 3, bswap<u32>(ctr));
  let q0 = xor(xor(spread(b, 0), i32x4(0, 0, 0, <i32>0xaa000000)), v128.load(rk, 0));
  let q1 = xor(xor(spread(b, 1), i32x4(0, 0, 0, <i32>0xcc000000)), v128.load(rk, 16));
  let q2 = xor(xor(spread(b, 2), i32x4(0, 0, 0, <i32>0xf0000000)), v128.load(rk, 32));
  let q3 = xor(spread(b, 3), v128.load(rk, 48)), q4 = xor(spread(b, 4), v128.load(rk, 64));
  let q5 = xor(spread(b, 5), v128.load(rk, 80)), q6 = xor(spread(b, 6), v128.load(rk, 96));
  let q7 = xor(spread(b, 7), v128.load(rk, 112));

  let k = rk + AES_RK_BYTES;
  let round = 1;
  const last = rk + (<usize>nr << 7);
  while (true) {
    if (hash && blocks > 0) { // the GHASH state stays in integer registers, free during AES
      const m = ghashMulHalves(tbl, ylo ^ load<u64>(p), yhi ^ load<u64>(p, 8));
      ylo = i64x2.extract_lane(m, 0);
      yhi = i64x2.extract_lane(m, 1);
      p += 16;
      blocks--;
    }
    // SubBytes: Boyar–Peralta circuit. u0 is the most significant bit (plane 7).
    const u0 = q7, u1 = q6, u2 = q5, u3 = q4, u4 = q3, u5 = q2, u6 = q1, u7 = q0;
    // Top linear layer.
    const y14 = xor(u3, u5), y13 = xor(u0, u6), y9 = xor(u0, u3), y8 = xor(u0, u5);
    const t0 = xor(u1, u2), y1 = xor(t0, u7), y4 = xor(y1, u3), y12 = xor(y13, y14);
    const y2 = xor(y1, u0), y5 = xor(y1, u6), y3 = xor(y5, y8), t1 = xor(u4, y12);
    const y15 = xor(t1, u5), y20 = xor(t1, u1), y6 = xor(y15, u7), y10 = xor(y15, t0);
    const y11 = xor(y20, y9), y7 = xor(u7, y11), y17 = xor(y10, y11), y19 = xor(y10, y8);
    const y16 = xor(t0, y11), y21 = xor(y13, y16), y18 = xor(u0, y16);
    // Middle non-linear layer (inversion in GF(2^4)^2).
    const t2 = and(y12, y15), t3 = and(y3, y6), t4 = xor(t3, t2), t5 = and(y4, u7);
    const t6 = xor(t5, t2), t7 = and(y13, y16), t8 = and(y5, y1), t9 = xor(t8, t7);
    const t10 = and(y2, y7), t11 = xor(t10, t7), t12 = and(y9, y11), t13 = and(y14, y17);
    const t14 = xor(t13, t12), t15 = and(y8, y10), t16 = xor(t15, t12), t17 = xor(t4, t14);
    const t18 = xor(t6, t16), t19 = xor(t9, t14), t20 = xor(t11, t16), t21 = xor(t17, y20);
    const t22 = xor(t18, y19), t23 = xor(t19, y21), t24 = xor(t20, y18);
    const t25 = xor(t21, t22), t26 = and(t21, t23), t27 = xor(t24, t26), t28 = and(t25, t27);
    const t29 = xor(t28, t22), t30 = xor(t23, t24), t31 = xor(t22, t26), t32 = and(t31, t30);
    const t33 = xor(t32, t24), t34 = xor(t23, t33), t35 = xor(t27, t33), t36 = and(t24, t35);
    const t37 = xor(t36, t34), t38 = xor(t27, t36), t39 = and(t29, t38), t40 = xor(t25, t39);
    const t41 = xor(t40, t37), t42 = xor(t29, t33), t43 = xor(t29, t40), t44 = xor(t33, t37);
    const t45 = xor(t42, t41);
    const z0 = and(t44, y15), z1 = and(t37, y6), z2 = and(t33, u7), z3 = and(t43, y16);
    const z4 = and(t40, y1), z5 = and(t29, y7), z6 = and(t42, y11), z7 = and(t45, y17);
    const z8 = and(t41, y10), z9 = and(t44, y12), z10 = and(t37, y3), z11 = and(t33, y4);
    const z12 = and(t43, y13), z13 = and(t40, y5), z14 = and(t29, y2), z15 = and(t42, y9);
    const z16 = and(t45, y14), z17 = and(t41, y8);
    // Bottom linear layer, without the NOTs (see the header comment).
    const t46 = xor(z15, z16), t47 = xor(z10, z11), t48 = xor(z5, z13), t49 = xor(z9, z10);
    const t50 = xor(z2, z12), t51 = xor(z2, z5), t52 = xor(z7, z8), t53 = xor(z0, z3);
    const t54 = xor(z6, z7), t55 = xor(z16, z17), t56 = xor(z12, t48), t57 = xor(t50, t53);
    const t58 = xor(z4, t46), t59 = xor(z3, t54), t60 = xor(t46, t57), t61 = xor(z14, t57);
    const t62 = xor(t52, t58), t63 = xor(t49, t58), t64 = xor(z4, t59), t65 = xor(t61, t62);
    const t66 = xor(z1, t63), t67 = xor(t64, t65);
    const s3 = xor(t53, t66);
    q7 = xor(t59, t63);
    q6 = xor(t64, s3);
    q5 = xor(t55, t67);
    q4 = s3;
    q3 = xor(t51, t66);
    q2 = xor(t47, t65);
    q1 = xor(t56, t62);
    q0 = xor(t48, t60);
    if (k >= last) break;

    // MixColumns (in the permuted domain): out = xtime(a ^ R1 a) ^ R1 a ^ R2(a ^ R1 a).
    const rot = MC_ROTATIONS + (<usize>(round & 3) << 5);
    const R1 = v128.load(rot, 0), R2 = v128.load(rot, 16);
    const r0 = i8x16.swizzle(q0, R1), r1 = i8x16.swizzle(q1, R1);
    const r2 = i8x16.swizzle(q2, R1), r3 = i8x16.swizzle(q3, R1);
    const r4 = i8x16.swizzle(q4, R1), r5 = i8x16.swizzle(q5, R1);
    const r6 = i8x16.swizzle(q6, R1), r7 = i8x16.swizzle(q7, R1);
    const d0 = xor(q0, r0), d1 = xor(q1, r1), d2 = xor(q2, r2), d3 = xor(q3, r3);
    const d4 = xor(q4, r4), d5 = xor(q5, r5), d6 = xor(q6, r6), d7 = xor(q7, r7);
    q0 = xor(xor(d7, r0), xor(i8x16.swizzle(d0, R2), v128.load(k, 0)));
    q1 = xor(xor(xor(d0, d7), r1), xor(i8x16.swizzle(d1, R2), v128.load(k, 16)));
    q2 = xor(xor(d1, r2), xor(i8x16.swizzle(d2, R2), v128.load(k, 32)));
    q3 = xor(xor(xor(d2, d7), r3), xor(i8x16.swizzle(d3, R2), v128.load(k, 48)));
    q4 = xor(xor(xor(d3, d7), r4), xor(i8x16.swizzle(d4, R2), v128.load(k, 64)));
    q5 = xor(xor(d4, r5), xor(i8x16.swizzle(d5, R2), v128.load(k, 80)));
    q6 = xor(xor(d5, r6), xor(i8x16.swizzle(d6, R2), v128.load(k, 96)));
    q7 = xor(xor(d6, r7), xor(i8x16.swizzle(d7, R2), v128.load(k, 112)));
    k += AES_RK_BYTES;
    round++;
  }
  // Final round: the accumulated ShiftRows, SR^nr (SR^4 is the identity; for the 1-round
  // SubWord encryption, whose columns are equal, every power of SR is), then AddRoundKey.
  if ((nr & 3) != 0) {
    const m = v128.load(SR2);
    q0 = i8x16.swizzle(q0, m); q1 = i8x16.swizzle(q1, m); q2 = i8x16.swizzle(q2, m);
    q3 = i8x16.swizzle(q3, m); q4 = i8x16.swizzle(q4, m); q5 = i8x16.swizzle(q5, m);
    q6 = i8x16.swizzle(q6, m); q7 = i8x16.swizzle(q7, m);
  }
  let b0 = xor(q0, v128.load(last, 0)), b1 = xor(q1, v128.load(last, 16));
  let b2 = xor(q2, v128.load(last, 32)), b3 = xor(q3, v128.load(last, 48));
  let b4 = xor(q4, v128.load(last, 64)), b5 = xor(q5, v128.load(last, 80));
  let b6 = xor(q6, v128.load(last, 96)), b7 = xor(q7, v128.load(last, 112));

  // Transpose the 8 bit-planes back into 8 blocks (an 8×8 bit transpose in every byte position).
  let t: v128;
  const m1 = i8x16.splat(0x55), m2 = i8x16.splat(0x33), m4 = i8x16.splat(0x0f);
  t = and(xor(i64x2.shr_u(b0, 1), b1), m1); b1 = xor(b1, t); b0 = xor(b0, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(b2, 1), b3), m1); b3 = xor(b3, t); b2 = xor(b2, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(b4, 1), b5), m1); b5 = xor(b5, t); b4 = xor(b4, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(b6, 1), b7), m1); b7 = xor(b7, t); b6 = xor(b6, i64x2.shl(t, 1));
  t = and(xor(i64x2.shr_u(b0, 2), b2), m2); b2 = xor(b2, t); b0 = xor(b0, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(b1, 2), b3), m2); b3 = xor(b3, t); b1 = xor(b1, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(b4, 2), b6), m2); b6 = xor(b6, t); b4 = xor(b4, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(b5, 2), b7), m2); b7 = xor(b7, t); b5 = xor(b5, i64x2.shl(t, 2));
  t = and(xor(i64x2.shr_u(b0, 4), b4), m4); b4 = xor(b4, t); b0 = xor(b0, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(b1, 4), b5), m4); b5 = xor(b5, t); b1 = xor(b1, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(b2, 4), b6), m4); b6 = xor(b6, t); b2 = xor(b2, i64x2.shl(t, 4));
  t = and(xor(i64x2.shr_u(b3, 4), b7), m4); b7 = xor(b7, t); b3 = xor(b3, i64x2.shl(t, 4));
  out0 = b0; out1 = b1; out2 = b2; out3 = b3; out4 = b4; out5 = b5; out6 = b6; out7 = b7;
  return i64x2.replace_lane(i64x2.splat(ylo), 1, yhi);
}
