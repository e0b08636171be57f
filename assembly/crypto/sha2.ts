// SHA-256, SHA-384, SHA-512 (FIPS 180-4) and HMAC (RFC 2104), for AH's integrity transforms
// HMAC-SHA2-256-128, -384-192 and -512-256 (RFC 4868).
//
// Several worker threads run this module over one shared memory, so nothing mutable is static: the
// chaining state lives in per-instance globals, message words travel as parameters (locals), and the
// round constants are read-only data. An HMAC key is turned once into its inner and outer states
// (hmacInit, into a caller-provided context: for AH, in the SA record); per packet, hmacRun then
// continues from those states, so the key itself is never touched again.

/** Algorithm ids (also AH's integrity-transform ids, see layout.ts). */
export const SHA256: u32 = 1;
export const SHA384: u32 = 2;
export const SHA512: u32 = 3;

/** Bytes of an HMAC context: the inner state, then the outer state (64 bytes each, SHA-512's size). */
export const HMAC_CTX_SIZE: i32 = 128;
const OUTER: usize = 64;

const K256: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
], 16);

const K512: usize = memory.data<u64>([
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
  0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
  0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
  0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
  0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
  0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
  0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
  0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
  0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
  0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
  0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
  0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
  0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
], 16);

// Initial hash values: SHA-256 (8 words), then SHA-512, then SHA-384 (8 words each).
const IV256: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
], 16);
const IV512: usize = memory.data<u64>([
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
  0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17, 0x152fecd8f70e5939,
  0x67332667ffc00b31, 0x8eb44a8768581511, 0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4,
], 16);

// Chaining state (per instance). SHA-256 uses the low 32 bits.
let h0: u64 = 0, h1: u64 = 0, h2: u64 = 0, h3: u64 = 0, h4: u64 = 0, h5: u64 = 0, h6: u64 = 0, h7: u64 = 0;

/** Digest bytes of `alg`. */
export function digestLength(alg: u32): u32 {
  return alg == SHA256 ? 32 : alg == SHA384 ? 48 : 64;
}

// @ts-ignore: decorator
@inline function wide(alg: u32): bool { return alg != SHA256; }

// ---- compression functions: 16 message words in, the state globals updated ----

// @ts-ignore: decorator
@inline function S0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline function S1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline function s0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline function s1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }
// @ts-ignore: decorator
@inline function ch(e: u32, f: u32, g: u32): u32 { return g ^ (e & (f ^ g)); }
// @ts-ignore: decorator
@inline function maj(a: u32, b: u32, c: u32): u32 { return (a & b) | (c & (a | b)); }

// Each round adds T1 into h and d and T2 into h, then the variables change roles instead of moving, so
// eight round lines in a row name them rotated by one. The schedule is a ring of 16 words, refreshed in
// place every 16 rounds (word i needs words i-2, i-7, i-15, i-16: all already current in that order).
function compress256(w0: u32, w1: u32, w2: u32, w3: u32, w4: u32, w5: u32, w6: u32, w7: u32,
                     w8: u32, w9: u32, w10: u32, w11: u32, w12: u32, w13: u32, w14: u32, w15: u32): void {
  let a = <u32>h0, b = <u32>h1, c = <u32>h2, d = <u32>h3, e = <u32>h4, f = <u32>h5, g = <u32>h6, h = <u32>h7;
  for (let k = K256, end = K256 + 256; k < end; k += 64) {
    if (k != K256) {
      w0 += s1(w14) + w9 + s0(w1);   w1 += s1(w15) + w10 + s0(w2);
      w2 += s1(w0) + w11 + s0(w3);   w3 += s1(w1) + w12 + s0(w4);
      w4 += s1(w2) + w13 + s0(w5);   w5 += s1(w3) + w14 + s0(w6);
      w6 += s1(w4) + w15 + s0(w7);   w7 += s1(w5) + w0 + s0(w8);
      w8 += s1(w6) + w1 + s0(w9);    w9 += s1(w7) + w2 + s0(w10);
      w10 += s1(w8) + w3 + s0(w11);  w11 += s1(w9) + w4 + s0(w12);
      w12 += s1(w10) + w5 + s0(w13); w13 += s1(w11) + w6 + s0(w14);
      w14 += s1(w12) + w7 + s0(w15); w15 += s1(w13) + w8 + s0(w0);
    }
    h += S1(e) + ch(e, f, g) + load<u32>(k, 0) + w0;   d += h; h += S0(a) + maj(a, b, c);
    g += S1(d) + ch(d, e, f) + load<u32>(k, 4) + w1;   c += g; g += S0(h) + maj(h, a, b);
    f += S1(c) + ch(c, d, e) + load<u32>(k, 8) + w2;   b += f; f += S0(g) + maj(g, h, a);
    e += S1(b) + ch(b, c, d) + load<u32>(k, 12) + w3;  a += e; e += S0(f) + maj(f, g, h);
    d += S1(a) + ch(a, b, c) + load<u32>(k, 16) + w4;  h += d; d += S0(e) + maj(e, f, g);
    c += S1(h) + ch(h, a, b) + load<u32>(k, 20) + w5;  g += c; c += S0(d) + maj(d, e, f);
    b += S1(g) + ch(g, h, a) + load<u32>(k, 24) + w6;  f += b; b += S0(c) + maj(c, d, e);
    a += S1(f) + ch(f, g, h) + load<u32>(k, 28) + w7;  e += a; a += S0(b) + maj(b, c, d);
    h += S1(e) + ch(e, f, g) + load<u32>(k, 32) + w8;  d += h; h += S0(a) + maj(a, b, c);
    g += S1(d) + ch(d, e, f) + load<u32>(k, 36) + w9;  c += g; g += S0(h) + maj(h, a, b);
    f += S1(c) + ch(c, d, e) + load<u32>(k, 40) + w10; b += f; f += S0(g) + maj(g, h, a);
    e += S1(b) + ch(b, c, d) + load<u32>(k, 44) + w11; a += e; e += S0(f) + maj(f, g, h);
    d += S1(a) + ch(a, b, c) + load<u32>(k, 48) + w12; h += d; d += S0(e) + maj(e, f, g);
    c += S1(h) + ch(h, a, b) + load<u32>(k, 52) + w13; g += c; c += S0(d) + maj(d, e, f);
    b += S1(g) + ch(g, h, a) + load<u32>(k, 56) + w14; f += b; b += S0(c) + maj(c, d, e);
    a += S1(f) + ch(f, g, h) + load<u32>(k, 60) + w15; e += a; a += S0(b) + maj(b, c, d);
  }
  h0 = <u32>(<u32>h0 + a); h1 = <u32>(<u32>h1 + b); h2 = <u32>(<u32>h2 + c); h3 = <u32>(<u32>h3 + d);
  h4 = <u32>(<u32>h4 + e); h5 = <u32>(<u32>h5 + f); h6 = <u32>(<u32>h6 + g); h7 = <u32>(<u32>h7 + h);
}

// @ts-ignore: decorator
@inline function L0(x: u64): u64 { return rotr<u64>(x, 28) ^ rotr<u64>(x, 34) ^ rotr<u64>(x, 39); }
// @ts-ignore: decorator
@inline function L1(x: u64): u64 { return rotr<u64>(x, 14) ^ rotr<u64>(x, 18) ^ rotr<u64>(x, 41); }
// @ts-ignore: decorator
@inline function l0(x: u64): u64 { return rotr<u64>(x, 1) ^ rotr<u64>(x, 8) ^ (x >>> 7); }
// @ts-ignore: decorator
@inline function l1(x: u64): u64 { return rotr<u64>(x, 19) ^ rotr<u64>(x, 61) ^ (x >>> 6); }
// @ts-ignore: decorator
@inline function ch64(e: u64, f: u64, g: u64): u64 { return g ^ (e & (f ^ g)); }
// @ts-ignore: decorator
@inline function maj64(a: u64, b: u64, c: u64): u64 { return (a & b) | (c & (a | b)); }

// SHA-512's 80 rounds, written as compress256 is.
function compress512(w0: u64, w1: u64, w2: u64, w3: u64, w4: u64, w5: u64, w6: u64, w7: u64,
                     w8: u64, w9: u64, w10: u64, w11: u64, w12: u64, w13: u64, w14: u64, w15: u64): void {
  let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
  for (let k = K512, end = K512 + 640; k < end; k += 128) {
    if (k != K512) {
      w0 += l1(w14) + w9 + l0(w1);   w1 += l1(w15) + w10 + l0(w2);
      w2 += l1(w0) + w11 + l0(w3);   w3 += l1(w1) + w12 + l0(w4);
      w4 += l1(w2) + w13 + l0(w5);   w5 += l1(w3) + w14 + l0(w6);
      w6 += l1(w4) + w15 + l0(w7);   w7 += l1(w5) + w0 + l0(w8);
      w8 += l1(w6) + w1 + l0(w9);    w9 += l1(w7) + w2 + l0(w10);
      w10 += l1(w8) + w3 + l0(w11);  w11 += l1(w9) + w4 + l0(w12);
      w12 += l1(w10) + w5 + l0(w13); w13 += l1(w11) + w6 + l0(w14);
      w14 += l1(w12) + w7 + l0(w15); w15 += l1(w13) + w8 + l0(w0);
    }
    h += L1(e) + ch64(e, f, g) + load<u64>(k, 0) + w0;    d += h; h += L0(a) + maj64(a, b, c);
    g += L1(d) + ch64(d, e, f) + load<u64>(k, 8) + w1;    c += g; g += L0(h) + maj64(h, a, b);
    f += L1(c) + ch64(c, d, e) + load<u64>(k, 16) + w2;   b += f; f += L0(g) + maj64(g, h, a);
    e += L1(b) + ch64(b, c, d) + load<u64>(k, 24) + w3;   a += e; e += L0(f) + maj64(f, g, h);
    d += L1(a) + ch64(a, b, c) + load<u64>(k, 32) + w4;   h += d; d += L0(e) + maj64(e, f, g);
    c += L1(h) + ch64(h, a, b) + load<u64>(k, 40) + w5;   g += c; c += L0(d) + maj64(d, e, f);
    b += L1(g) + ch64(g, h, a) + load<u64>(k, 48) + w6;   f += b; b += L0(c) + maj64(c, d, e);
    a += L1(f) + ch64(f, g, h) + load<u64>(k, 56) + w7;   e += a; a += L0(b) + maj64(b, c, d);
    h += L1(e) + ch64(e, f, g) + load<u64>(k, 64) + w8;   d += h; h += L0(a) + maj64(a, b, c);
    g += L1(d) + ch64(d, e, f) + load<u64>(k, 72) + w9;   c += g; g += L0(h) + maj64(h, a, b);
    f += L1(c) + ch64(c, d, e) + load<u64>(k, 80) + w10;  b += f; f += L0(g) + maj64(g, h, a);
    e += L1(b) + ch64(b, c, d) + load<u64>(k, 88) + w11;  a += e; e += L0(f) + maj64(f, g, h);
    d += L1(a) + ch64(a, b, c) + load<u64>(k, 96) + w12;  h += d; d += L0(e) + maj64(e, f, g);
    c += L1(h) + ch64(h, a, b) + load<u64>(k, 104) + w13; g += c; c += L0(d) + maj64(d, e, f);
    b += L1(g) + ch64(g, h, a) + load<u64>(k, 112) + w14; f += b; b += L0(c) + maj64(c, d, e);
    a += L1(f) + ch64(f, g, h) + load<u64>(k, 120) + w15; e += a; a += L0(b) + maj64(b, c, d);
  }
  h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
}

// ---- message words ----

// @ts-ignore: decorator
@inline function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline function be64(p: usize): u64 { return bswap<u64>(load<u64>(p)); }

/** Big-endian word i of the n bytes at p followed by the byte `mark` and then zeros: a final block's
 *  words (mark 0x80, FIPS 180-4 §5.1) or a short HMAC key's (mark 0). Reads no byte at or past p + n. */
function word32(p: usize, n: u32, i: u32, mark: u32): u32 {
  const o = i << 2;
  if (o + 4 <= n) return be32(p + o);
  let w: u32 = 0;
  for (let j = o; j < o + 4; j++) w = (w << 8) | (j < n ? <u32>load<u8>(p + j) : j == n ? mark : 0);
  return w;
}

function word64(p: usize, n: u32, i: u32, mark: u32): u64 {
  const o = i << 3;
  if (o + 8 <= n) return be64(p + o);
  return (<u64>word32(p, n, i << 1, mark) << 32) | <u64>word32(p, n, (i << 1) + 1, mark);
}

function block256(p: usize): void {
  compress256(be32(p), be32(p + 4), be32(p + 8), be32(p + 12), be32(p + 16), be32(p + 20), be32(p + 24),
    be32(p + 28), be32(p + 32), be32(p + 36), be32(p + 40), be32(p + 44), be32(p + 48), be32(p + 52),
    be32(p + 56), be32(p + 60));
}

function block512(p: usize): void {
  compress512(be64(p), be64(p + 8), be64(p + 16), be64(p + 24), be64(p + 32), be64(p + 40), be64(p + 48),
    be64(p + 56), be64(p + 64), be64(p + 72), be64(p + 80), be64(p + 88), be64(p + 96), be64(p + 104),
    be64(p + 112), be64(p + 120));
}

/** Absorb len bytes at p and pad (FIPS 180-4 §5.1); `before` bytes were absorbed already (an HMAC pad block).
 *  The padding is built in the message words, never written to memory. */
function absorb256(p: usize, len: u32, before: u32): void {
  const end = p + (<usize>len & ~63);
  for (; p < end; p += 64) block256(p);
  const r = len & 63;
  const bits: u64 = (<u64>before + <u64>len) << 3;
  const hi = <u32>(bits >> 32), lo = <u32>bits;
  if (r < 56) {
    compress256(word32(p, r, 0, 0x80), word32(p, r, 1, 0x80), word32(p, r, 2, 0x80), word32(p, r, 3, 0x80),
      word32(p, r, 4, 0x80), word32(p, r, 5, 0x80), word32(p, r, 6, 0x80), word32(p, r, 7, 0x80),
      word32(p, r, 8, 0x80), word32(p, r, 9, 0x80), word32(p, r, 10, 0x80), word32(p, r, 11, 0x80),
      word32(p, r, 12, 0x80), word32(p, r, 13, 0x80), hi, lo);
  } else {
    compress256(word32(p, r, 0, 0x80), word32(p, r, 1, 0x80), word32(p, r, 2, 0x80), word32(p, r, 3, 0x80),
      word32(p, r, 4, 0x80), word32(p, r, 5, 0x80), word32(p, r, 6, 0x80), word32(p, r, 7, 0x80),
      word32(p, r, 8, 0x80), word32(p, r, 9, 0x80), word32(p, r, 10, 0x80), word32(p, r, 11, 0x80),
      word32(p, r, 12, 0x80), word32(p, r, 13, 0x80), word32(p, r, 14, 0x80), word32(p, r, 15, 0x80));
    compress256(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, hi, lo);
  }
}

function absorb512(p: usize, len: u32, before: u32): void {
  const end = p + (<usize>len & ~127);
  for (; p < end; p += 128) block512(p);
  const r = len & 127;
  const bits: u64 = (<u64>before + <u64>len) << 3; // the 128-bit length's high half is 0 for these sizes
  if (r < 112) {
    compress512(word64(p, r, 0, 0x80), word64(p, r, 1, 0x80), word64(p, r, 2, 0x80), word64(p, r, 3, 0x80),
      word64(p, r, 4, 0x80), word64(p, r, 5, 0x80), word64(p, r, 6, 0x80), word64(p, r, 7, 0x80),
      word64(p, r, 8, 0x80), word64(p, r, 9, 0x80), word64(p, r, 10, 0x80), word64(p, r, 11, 0x80),
      word64(p, r, 12, 0x80), word64(p, r, 13, 0x80), 0, bits);
  } else {
    compress512(word64(p, r, 0, 0x80), word64(p, r, 1, 0x80), word64(p, r, 2, 0x80), word64(p, r, 3, 0x80),
      word64(p, r, 4, 0x80), word64(p, r, 5, 0x80), word64(p, r, 6, 0x80), word64(p, r, 7, 0x80),
      word64(p, r, 8, 0x80), word64(p, r, 9, 0x80), word64(p, r, 10, 0x80), word64(p, r, 11, 0x80),
      word64(p, r, 12, 0x80), word64(p, r, 13, 0x80), word64(p, r, 14, 0x80), word64(p, r, 15, 0x80));
    compress512(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, bits);
  }
}

// ---- state ----

function loadState(alg: u32, st: usize): void {
  if (wide(alg)) {
    h0 = load<u64>(st, 0); h1 = load<u64>(st, 8); h2 = load<u64>(st, 16); h3 = load<u64>(st, 24);
    h4 = load<u64>(st, 32); h5 = load<u64>(st, 40); h6 = load<u64>(st, 48); h7 = load<u64>(st, 56);
  } else {
    h0 = load<u32>(st, 0); h1 = load<u32>(st, 4); h2 = load<u32>(st, 8); h3 = load<u32>(st, 12);
    h4 = load<u32>(st, 16); h5 = load<u32>(st, 20); h6 = load<u32>(st, 24); h7 = load<u32>(st, 28);
  }
}

function saveState(alg: u32, st: usize): void {
  if (wide(alg)) {
    store<u64>(st, h0, 0); store<u64>(st, h1, 8); store<u64>(st, h2, 16); store<u64>(st, h3, 24);
    store<u64>(st, h4, 32); store<u64>(st, h5, 40); store<u64>(st, h6, 48); store<u64>(st, h7, 56);
  } else {
    store<u32>(st, <u32>h0, 0); store<u32>(st, <u32>h1, 4); store<u32>(st, <u32>h2, 8); store<u32>(st, <u32>h3, 12);
    store<u32>(st, <u32>h4, 16); store<u32>(st, <u32>h5, 20); store<u32>(st, <u32>h6, 24); store<u32>(st, <u32>h7, 28);
  }
}

function initialState(alg: u32): void {
  loadState(alg, alg == SHA256 ? IV256 : alg == SHA384 ? IV512 + 64 : IV512);
}

/** Word i of the current state, big-endian as the digest is written: 32 bits for SHA-256, else 64. */
function stateWord(i: u32): u64 {
  switch (i) {
    case 0: return h0;
    case 1: return h1;
    case 2: return h2;
    case 3: return h3;
    case 4: return h4;
    case 5: return h5;
    case 6: return h6;
    default: return h7;
  }
}

/** Write the first n bytes of the digest (n a multiple of the word size) to out. */
function storeDigest(alg: u32, out: usize, n: u32): void {
  if (wide(alg)) {
    for (let i: u32 = 0; i < n >> 3; i++) store<u64>(out + (<usize>i << 3), bswap<u64>(stateWord(i)));
  } else {
    for (let i: u32 = 0; i < n >> 2; i++) store<u32>(out + (<usize>i << 2), bswap<u32>(<u32>stateWord(i)));
  }
}

function wipeState(): void {
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0; h5 = 0; h6 = 0; h7 = 0;
}

// ---- hash and HMAC ----

/** SHA-2 digest of len bytes at msg, written to out (digestLength(alg) bytes). */
export function sha2Digest(alg: u32, msg: usize, len: u32, out: usize): void {
  initialState(alg);
  if (wide(alg)) absorb512(msg, len, 0); else absorb256(msg, len, 0);
  storeDigest(alg, out, digestLength(alg));
}

// The state after one block of key ^ pad (RFC 2104: K zero-padded to the block size), saved at st.
function padState(alg: u32, st: usize, key: usize, n: u32, pad: u64): void {
  initialState(alg);
  if (wide(alg)) {
    compress512(word64(key, n, 0, 0) ^ pad, word64(key, n, 1, 0) ^ pad, word64(key, n, 2, 0) ^ pad,
      word64(key, n, 3, 0) ^ pad, word64(key, n, 4, 0) ^ pad, word64(key, n, 5, 0) ^ pad, word64(key, n, 6, 0) ^ pad,
      word64(key, n, 7, 0) ^ pad, word64(key, n, 8, 0) ^ pad, word64(key, n, 9, 0) ^ pad, word64(key, n, 10, 0) ^ pad,
      word64(key, n, 11, 0) ^ pad, word64(key, n, 12, 0) ^ pad, word64(key, n, 13, 0) ^ pad,
      word64(key, n, 14, 0) ^ pad, word64(key, n, 15, 0) ^ pad);
  } else {
    const p = <u32>pad;
    compress256(word32(key, n, 0, 0) ^ p, word32(key, n, 1, 0) ^ p, word32(key, n, 2, 0) ^ p, word32(key, n, 3, 0) ^ p,
      word32(key, n, 4, 0) ^ p, word32(key, n, 5, 0) ^ p, word32(key, n, 6, 0) ^ p, word32(key, n, 7, 0) ^ p,
      word32(key, n, 8, 0) ^ p, word32(key, n, 9, 0) ^ p, word32(key, n, 10, 0) ^ p, word32(key, n, 11, 0) ^ p,
      word32(key, n, 12, 0) ^ p, word32(key, n, 13, 0) ^ p, word32(key, n, 14, 0) ^ p, word32(key, n, 15, 0) ^ p);
  }
  saveState(alg, st);
}

/** Precompute the HMAC inner and outer states of `key` into ctx (HMAC_CTX_SIZE bytes). A key longer than
 *  the block is hashed first (RFC 2104 §2). Returns false for an unknown algorithm (ctx untouched). */
export function hmacInit(ctx: usize, alg: u32, key: usize, keyLen: u32): bool {
  if (alg != SHA256 && alg != SHA384 && alg != SHA512) return false;
  const block: u32 = wide(alg) ? 128 : 64;
  if (keyLen > block) {
    sha2Digest(alg, key, keyLen, ctx + OUTER); // the outer state's place holds H(K) until it is computed
    key = ctx + OUTER;
    keyLen = digestLength(alg);
  }
  padState(alg, ctx, key, keyLen, 0x3636363636363636);
  padState(alg, ctx + OUTER, key, keyLen, 0x5c5c5c5c5c5c5c5c); // all key words are read before the store
  wipeState(); // key-equivalent: leave no copy in the instance
  return true;
}

/** HMAC of len bytes at msg under the states in ctx; the MAC stays in the state, for hmacStore/hmacEqual. */
export function hmacRun(ctx: usize, alg: u32, msg: usize, len: u32): void {
  loadState(alg, ctx);
  if (alg == SHA256) {
    absorb256(msg, len, 64);
    const a = <u32>h0, b = <u32>h1, c = <u32>h2, d = <u32>h3, e = <u32>h4, f = <u32>h5, g = <u32>h6, h = <u32>h7;
    loadState(alg, ctx + OUTER);
    compress256(a, b, c, d, e, f, g, h, 0x80000000, 0, 0, 0, 0, 0, 0, (64 + 32) << 3);
    return;
  }
  absorb512(msg, len, 128);
  const a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
  loadState(alg, ctx + OUTER);
  if (alg == SHA384) { // the inner digest is the first 48 bytes
    compress512(a, b, c, d, e, f, 0x8000000000000000, 0, 0, 0, 0, 0, 0, 0, 0, (128 + 48) << 3);
  } else {
    compress512(a, b, c, d, e, f, g, h, 0x8000000000000000, 0, 0, 0, 0, 0, 0, (128 + 64) << 3);
  }
}

/** Write the first n bytes of the MAC hmacRun left (n: a multiple of 4 for SHA-256, of 8 otherwise). */
export function hmacStore(alg: u32, out: usize, n: u32): void {
  storeDigest(alg, out, n);
}

/** Whether the first n bytes of the MAC hmacRun left equal those at `expected`, in constant time. */
export function hmacEqual(alg: u32, expected: usize, n: u32): bool {
  let diff: u64 = 0;
  if (wide(alg)) {
    for (let i: u32 = 0; i < n >> 3; i++) diff |= bswap<u64>(stateWord(i)) ^ load<u64>(expected + (<usize>i << 3));
  } else {
    for (let i: u32 = 0; i < n >> 2; i++) diff |= <u64>(bswap<u32>(<u32>stateWord(i)) ^ load<u32>(expected + (<usize>i << 2)));
  }
  return diff == 0;
}

/** Full HMAC (digestLength(alg) bytes) of len bytes at msg under the states in ctx, written to out. */
export function hmacMac(ctx: usize, alg: u32, msg: usize, len: u32, out: usize): void {
  hmacRun(ctx, alg, msg, len);
  storeDigest(alg, out, digestLength(alg));
}
