// IKEv2/IPsec integrity algorithms HMAC-SHA-256-128, HMAC-SHA-384-192, HMAC-SHA-512-256 (RFC 4868 §2.1.1):
// HMAC keyed with a key as long as the hash output, truncated to half of it.
import { timingSafeEqual } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { CHash } from "@noble/hashes/utils.js";
import { IkeCryptoError } from "./errors.js";

export interface Integ {
  /** IKEv2 Transform Type 3 ID. */
  readonly id: number;
  readonly name: string;
  /** Key length in bytes (RFC 4868 §2.1.1: fixed, equal to the hash output). */
  readonly keyLength: number;
  /** Truncated ICV length in bytes. */
  readonly icvLength: number;
  /** The truncated HMAC of `data`. */
  compute(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Constant-time check of `icv` against the truncated HMAC of `data`; false on any length mismatch. */
  verify(key: Uint8Array, data: Uint8Array, icv: Uint8Array): boolean;
}

function truncatedHmac(id: number, name: string, hash: CHash): Integ {
  const keyLength = hash.outputLen;
  const icvLength = hash.outputLen / 2;
  const compute = (key: Uint8Array, data: Uint8Array): Uint8Array => {
    if (key.length !== keyLength) {
      throw new IkeCryptoError("INVALID_KEY_LENGTH", `${name} needs a ${keyLength}-byte key, got ${key.length}`);
    }
    return hmac(hash, key, data).subarray(0, icvLength);
  };
  return {
    id,
    name,
    keyLength,
    icvLength,
    compute,
    // The ICV length is public; only its content must not leak through timing.
    verify: (key, data, icv) => icv.length === icvLength && timingSafeEqual(compute(key, data), icv),
  };
}

export const AUTH_HMAC_SHA2_256_128 = truncatedHmac(12, "AUTH_HMAC_SHA2_256_128", sha256);
export const AUTH_HMAC_SHA2_384_192 = truncatedHmac(13, "AUTH_HMAC_SHA2_384_192", sha384);
export const AUTH_HMAC_SHA2_512_256 = truncatedHmac(14, "AUTH_HMAC_SHA2_512_256", sha512);
