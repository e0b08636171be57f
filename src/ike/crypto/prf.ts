// IKEv2 pseudo-random functions (RFC 4868 §2.1.2: PRF_HMAC_SHA2_256/384/512) and prf+ (RFC 7296 §2.13).
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { CHash } from "@noble/hashes/utils.js";
import { IkeCryptoError } from "./errors.js";

export interface Prf {
  /** IKEv2 Transform Type 2 ID. */
  readonly id: number;
  readonly name: string;
  /** Output length in bytes. */
  readonly outputLength: number;
  /** Preferred key length in bytes: the size of SK_d, SK_pi and SK_pr (RFC 7296 §2.14, RFC 4868 §2.1.2). */
  readonly keyLength: number;
  /** prf(key, data); HMAC accepts keys of any length. */
  compute(key: Uint8Array, data: Uint8Array): Uint8Array;
}

function hmacPrf(id: number, name: string, hash: CHash): Prf {
  return {
    id,
    name,
    outputLength: hash.outputLen,
    keyLength: hash.outputLen,
    compute: (key, data) => hmac(hash, key, data),
  };
}

export const PRF_HMAC_SHA2_256 = hmacPrf(5, "PRF_HMAC_SHA2_256", sha256);
export const PRF_HMAC_SHA2_384 = hmacPrf(6, "PRF_HMAC_SHA2_384", sha384);
export const PRF_HMAC_SHA2_512 = hmacPrf(7, "PRF_HMAC_SHA2_512", sha512);

/** The 8-bit counter of prf+ limits the output to 255 PRF blocks (RFC 7296 §2.13). */
export const PRF_PLUS_MAX_BLOCKS = 255;

/**
 * prf+(K, S) = T1 | T2 | ... with T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), truncated to `length` bytes.
 * Throws PRF_PLUS_TOO_LONG past 255 blocks rather than wrap the counter.
 */
export function prfPlus(prf: Prf, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > PRF_PLUS_MAX_BLOCKS * prf.outputLength) {
    throw new IkeCryptoError(
      "PRF_PLUS_TOO_LONG",
      `prf+ with ${prf.name} yields at most ${PRF_PLUS_MAX_BLOCKS * prf.outputLength} bytes, ${length} requested`,
    );
  }
  const out = new Uint8Array(length);
  const h = prf.outputLength;
  // Input buffer T(n-1) | S | n, reused across iterations; T0 is empty.
  const input = new Uint8Array(h + seed.length + 1);
  input.set(seed, h);
  let previous: Uint8Array = new Uint8Array(0);
  for (let n = 1, offset = 0; offset < length; n++, offset += h) {
    const start = previous.length === 0 ? h : 0;
    input.set(previous, 0);
    input[input.length - 1] = n;
    previous = prf.compute(key, input.subarray(start));
    out.set(previous.subarray(0, Math.min(h, length - offset)), offset);
  }
  return out;
}
