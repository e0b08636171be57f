// The boundary to the SK payload's cryptography (RFC 7296 §3.14, RFC 5282 for AEAD). The crypto side owns IVs,
// padding, ICVs and their length checks; this codec supplies the bytes they cover and the frame around them.
//
// `aad` is every message byte before the SK/SKF body: the IKE header (with its final length), any cleartext
// payloads, and the SK/SKF payload header (for SKF including Fragment Number and Total Fragments, RFC 7383 §2.5).
// It is the AEAD associated data and the start of what a separate ICV covers. It is only valid during the call.
import { WireError } from "./errors.js";

/** One direction's outbound protection; src/ike/crypto/sk.ts SkSealer has this shape. */
export interface SkEncrypter {
  /** Bytes of SK body (IV, padded ciphertext, ICV) that an inner chain of `plaintextLength` bytes becomes. */
  bodyLength(plaintextLength: number): number;
  /** Pad, encrypt and protect the inner payload chain; returns exactly bodyLength(plaintext.length) bytes. */
  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
}

/** One direction's inbound protection, e.g. `{ open: (aad, body) => openSk(suite, keys, aad, body) }`. */
export interface SkDecrypter {
  /** Verify and decrypt an SK body, returning the inner payload chain without padding; throw on any failure. */
  open(aad: Uint8Array, body: Uint8Array): Uint8Array;
}

export function seal(encrypter: SkEncrypter, aad: Buffer, plaintext: Buffer): Buffer {
  const body = encrypter.seal(aad, plaintext);
  const expected = encrypter.bodyLength(plaintext.length);
  if (body.length !== expected) {
    throw new WireError("INTERNAL", `encrypter sealed ${body.length} bytes, not ${expected}`);
  }
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Any refusal (length, ICV, padding) means the message cannot be trusted: dropped without a notify. */
export function open(decrypter: SkDecrypter, aad: Buffer, body: Buffer): Buffer {
  let plaintext: Uint8Array;
  try {
    plaintext = decrypter.open(aad, body);
  } catch (err) {
    throw new WireError("DECRYPT_FAILED", `SK body rejected: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return Buffer.from(plaintext);
}
