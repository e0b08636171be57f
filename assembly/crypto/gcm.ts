// AES-GCM (NIST SP 800-38D) with 96-bit nonces, as used by ESP (RFC 4106: salt || IV).
//
// The context is read-only after gcmInit, so any number of threads may seal/open with it at once
// (gcmInit and gcmWipe must not overlap them). Nothing is kept in static memory: working state
// lives in locals and in per-instance globals. nonce, aad, data and tag must not overlap.
//
// Counter blocks are encrypted 8 at a time (one bitsliced batch), batch k holding counters
// 8k..8k+7. Counter 1 (J0, whose encryption masks the tag) rides in the first batch with counters
// 2..7, so a packet of up to 96 bytes costs a single AES batch.
//
// GHASH's dependent table walk is hidden inside AES batches where the data allows (aesCtr8Hash):
// sealing hashes each batch's ciphertext while the next batch's keystream is computed; opening
// hashes ciphertext while the first two batches are computed (their keystream is kept in locals)
// and the rest after, then verifies the whole tag before it decrypts anything, in a second pass.

import { AES_SCHEDULE_BYTES, aesCtr8, aesCtr8Hash, aesExpandKey, aesWipeOutput, hashOut, out0, out1, out2, out3, out4, out5, out6, out7 } from "./aes";
import { GHASH_TABLE_BYTES, ghashBytes, ghashHalf, ghashInit, ghashMul, loadPartial, storePartial } from "./ghash";

// Context layout (ctx is 16-byte aligned).
const ROUNDS_OFF: usize = 0;
const RK_OFF: usize = 16;
const TBL_OFF: usize = RK_OFF + <usize>AES_SCHEDULE_BYTES;

/** Bytes of a per-key context. */
export const GCM_CTX_SIZE: i32 = <i32>TBL_OFF + GHASH_TABLE_BYTES;

/** Lane indices, to build "first n bytes" masks with i8x16.lt_u. */
const IOTA = i8x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

/** Data bytes covered by the first batch (counters 2..7; counter 0 is unused, 1 is the tag mask). */
const FIRST_BATCH_BYTES: i32 = 96;

/** Set up ctx for `key` (16, 24 or 32 bytes). Any other length leaves a wiped context. */
export function gcmInit(ctx: usize, key: usize, keyLen: i32): void {
  gcmWipe(ctx);
  const rk = ctx + RK_OFF;
  const tbl = ctx + TBL_OFF; // doubles as scratch for the raw key schedule until the table is built
  const nr = aesExpandKey(rk, tbl, key, keyLen);
  if (nr == 0) return;
  store<i32>(ctx + ROUNDS_OFF, nr);
  aesCtr8(rk, nr, 0, 0, 0); // out0 = H = E(K, 0^128)
  ghashInit(tbl, i64x2.extract_lane(out0, 0), i64x2.extract_lane(out0, 1)); // overwrites the scratch
  aesWipeOutput(); // H is secret: leave no copy behind in the instance
}

/** Zero the whole context. */
export function gcmWipe(ctx: usize): void {
  memory.fill(ctx, 0, <usize>GCM_CTX_SIZE);
}

/**
 * Encrypt `len` bytes at `data` in place and write a tagLen-byte tag (8, 12 or 16; values
 * outside 0..16 are clamped) to `tag`. nonce is 12 bytes. A wiped context does nothing.
 */
export function gcmSeal(ctx: usize, nonce: usize, aad: usize, aadLen: i32, data: usize, len: i32,
  tag: usize, tagLen: i32): void {
  const nr = load<i32>(ctx + ROUNDS_OFF);
  if (nr == 0) return; // wiped or never initialised: no key to encrypt with
  if (aadLen < 0) aadLen = 0;
  if (len < 0) len = 0;
  const rk = ctx + RK_OFF;
  const tbl = ctx + TBL_OFF;
  const n01 = load<u64>(nonce), n2 = load<u32>(nonce, 8);
  let y = firstBatch(rk, nr, n01, n2, tbl, aad, aadLen, data, 0); // the plaintext can't be hashed yet
  const mask = out1;
  let n = min(len, FIRST_BATCH_BYTES);
  let done = 0;
  let ctr: u32 = 0;
  while (n < len - done) {
    // Not the last batch: encrypt it now, hash it while the next batch's keystream is computed.
    applyKeystream(data + <usize>done, n, ctr == 0 ? 2 : 0);
    ctr += 8;
    y = batchAndHash(rk, nr, n01, n2, ctr, tbl, y, data + <usize>done, n >> 4);
    done += n;
    n = min(len - done, 128);
  }
  y = encryptAndHash(tbl, y, data + <usize>done, n, ctr == 0 ? 2 : 0);
  y = ghashMul(tbl, v128.xor(y, lengthBlock(aadLen, len)));
  const t = v128.xor(y, mask);
  if (tagLen >= 16) v128.store(tag, t);
  else if (tagLen > 0) storePartial(tag, tagLen, t);
}

/**
 * Verify the tagLen-byte tag (8..16) over aad and the ciphertext at `data`, in constant time.
 * Only if it matches, decrypt `len` bytes in place and return true; otherwise data is untouched.
 */
export function gcmOpen(ctx: usize, nonce: usize, aad: usize, aadLen: i32, data: usize, len: i32,
  tag: usize, tagLen: i32): bool {
  const nr = load<i32>(ctx + ROUNDS_OFF);
  // A wiped context (deleted SA) must never authenticate anything.
  if (nr == 0 || tagLen < 8 || tagLen > 16) return false;
  if (aadLen < 0) aadLen = 0;
  if (len < 0) len = 0;
  const rk = ctx + RK_OFF;
  const tbl = ctx + TBL_OFF;
  const n01 = load<u64>(nonce), n2 = load<u32>(nonce, 8);
  // Pass 1, GHASH: the first two batches of keystream are computed meanwhile and kept.
  let hashed = aadLen < 16 ? min(len >> 4, nr) << 4 : 0; // ciphertext bytes hashed so far
  let y = firstBatch(rk, nr, n01, n2, tbl, aad, aadLen, data, hashed >> 4);
  const mask = out1, k2 = out2, k3 = out3, k4 = out4, k5 = out5, k6 = out6, k7 = out7;
  if (len > FIRST_BATCH_BYTES) {
    const blocks = min((len - hashed) >> 4, nr);
    y = batch(rk, nr, n01, n2, 8, tbl, y, data + <usize>hashed, blocks);
    hashed += blocks << 4;
  }
  y = ghashBytes(tbl, y, data + <usize>hashed, len - hashed);
  y = ghashMul(tbl, v128.xor(y, lengthBlock(aadLen, len)));
  const expected = v128.xor(y, mask);
  const received = tagLen == 16 ? v128.load(tag) : loadPartial(tag, tagLen);
  const tagBytes = i8x16.lt_u(IOTA, i8x16.splat(<i8>tagLen));
  if (v128.any_true(v128.and(v128.xor(expected, received), tagBytes))) return false;

  // Pass 2, decryption.
  applyBlock(data, len, k2);
  applyBlock(data + 16, len - 16, k3);
  applyBlock(data + 32, len - 32, k4);
  applyBlock(data + 48, len - 48, k5);
  applyBlock(data + 64, len - 64, k6);
  applyBlock(data + 80, len - 80, k7);
  if (len <= FIRST_BATCH_BYTES) return true;
  let n = min(len - FIRST_BATCH_BYTES, 128);
  applyKeystream(data + <usize>FIRST_BATCH_BYTES, n, 0); // the second batch, still in out0..out7
  let done = FIRST_BATCH_BYTES + n;
  let ctr: u32 = 16;
  while (done < len) {
    aesCtr8(rk, nr, n01, n2, ctr);
    ctr += 8;
    n = min(len - done, 128);
    applyKeystream(data + <usize>done, n, 0);
    done += n;
  }
  return true;
}

/**
 * Compute the first batch (the tag mask and the first 96 bytes of keystream) and return the GHASH
 * state after the AAD. Up to one whole block per AES round is hashed during the batch: of the AAD
 * if it has any (GMAC), else the first `blocks` (<= nr) blocks at `data` (ESP's AAD is 8 or 12
 * bytes), which are then hashed too.
 */
function firstBatch(rk: usize, nr: i32, n01: u64, n2: u32, tbl: usize, aad: usize, aadLen: i32,
  data: usize, blocks: i32): v128 {
  if (aadLen >= 16) {
    const early = min(aadLen >> 4, nr);
    const y = batchAndHash(rk, nr, n01, n2, 0, tbl, i64x2.splat(0), aad, early);
    return ghashBytes(tbl, y, aad + (<usize>early << 4), aadLen - (early << 4));
  }
  const y = aadLen == 8 ? ghashHalf(tbl, load<u64>(aad)) : ghashBytes(tbl, i64x2.splat(0), aad, aadLen);
  return batch(rk, nr, n01, n2, 0, tbl, y, data, blocks);
}

/** Batch `ctr` of keystream, hashing `blocks` (<= nr) blocks at p into y meanwhile; returns y. */
@inline function batch(rk: usize, nr: i32, n01: u64, n2: u32, ctr: u32, tbl: usize, y: v128,
  p: usize, blocks: i32): v128 {
  if (blocks > 0) return batchAndHash(rk, nr, n01, n2, ctr, tbl, y, p, blocks);
  aesCtr8(rk, nr, n01, n2, ctr); // the plain batch is faster
  return y;
}

/** aesCtr8Hash for a GHASH state held as a vector; returns the new state. */
@inline function batchAndHash(rk: usize, nr: i32, n01: u64, n2: u32, ctr: u32, tbl: usize, y: v128,
  p: usize, blocks: i32): v128 {
  aesCtr8Hash(rk, nr, n01, n2, ctr, tbl, i64x2.extract_lane(y, 0), i64x2.extract_lane(y, 1), p, blocks);
  return hashOut;
}

/** The final GHASH block: bit lengths of AAD and data, 64-bit big-endian each. */
function lengthBlock(aadLen: i32, len: i32): v128 {
  return i64x2.replace_lane(i64x2.splat(bswap<u64>(<u64>aadLen << 3)), 1, bswap<u64>(<u64>len << 3));
}

/**
 * Encrypt n bytes at p with keystream blocks out[first..7] (n <= (8 - first) * 16) and absorb the
 * ciphertext into GHASH state y, each block straight from its register.
 */
function encryptAndHash(tbl: usize, y: v128, p: usize, n: i32, first: i32): v128 {
  for (let i = first; n > 0; i++) {
    let c = v128.xor(n >= 16 ? v128.load(p) : loadPartial(p, n), keystream(i));
    if (n >= 16) {
      v128.store(p, c);
    } else {
      storePartial(p, n, c);
      c = v128.and(c, i8x16.lt_u(IOTA, i8x16.splat(<i8>n))); // GHASH pads with zeros, not keystream
    }
    y = ghashMul(tbl, v128.xor(y, c));
    p += 16;
    n -= 16;
  }
  return y;
}

/** XOR keystream blocks out[first..7] into n bytes at p (n <= (8 - first) * 16). */
function applyKeystream(p: usize, n: i32, first: i32): void {
  if (first == 0 && n == 128) {
    v128.store(p, v128.xor(v128.load(p, 0), out0), 0);
    v128.store(p, v128.xor(v128.load(p, 16), out1), 16);
    v128.store(p, v128.xor(v128.load(p, 32), out2), 32);
    v128.store(p, v128.xor(v128.load(p, 48), out3), 48);
    v128.store(p, v128.xor(v128.load(p, 64), out4), 64);
    v128.store(p, v128.xor(v128.load(p, 80), out5), 80);
    v128.store(p, v128.xor(v128.load(p, 96), out6), 96);
    v128.store(p, v128.xor(v128.load(p, 112), out7), 112);
    return;
  }
  for (let i = first; n > 0; i++) {
    applyBlock(p, n, keystream(i));
    p += 16;
    n -= 16;
  }
}

/** XOR keystream block k into the first min(n, 16) bytes at p (none if n <= 0). */
@inline function applyBlock(p: usize, n: i32, k: v128): void {
  if (n >= 16) v128.store(p, v128.xor(v128.load(p), k));
  else if (n > 0) storePartial(p, n, v128.xor(loadPartial(p, n), k));
}

function keystream(i: i32): v128 {
  switch (i) {
    case 0: return out0;
    case 1: return out1;
    case 2: return out2;
    case 3: return out3;
    case 4: return out4;
    case 5: return out5;
    case 6: return out6;
    default: return out7;
  }
}
