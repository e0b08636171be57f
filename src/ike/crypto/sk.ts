// The body of the Encrypted and Authenticated (SK) payload: IV | ciphertext | ICV (RFC 7296 §3.14, RFC 5282).
// The plaintext is the inner payload chain | Padding | Pad Length.
//
// `aad` is the message from the first octet of the IKE header up to the start of the IV (IKE header, any
// unencrypted payloads, the SK generic payload header). With AES-CBC the ICV is the truncated HMAC of
// aad | IV | ciphertext; with AES-GCM `aad` is the associated data (RFC 5282). The caller writes the
// header lengths before sealing, using skBodyLength().
import { randomBytes } from "node:crypto";
import { IkeCryptoError, SkPayloadError } from "./errors.js";
import type { Integ } from "./integ.js";
import type { KeySuite } from "./keys.js";
import { concatBytes } from "./bytes.js";

/** One direction's keys: SK_ei / SK_ai (initiator sends) or SK_er / SK_ar (responder sends). */
export interface SkKeys {
  /** AES key, followed by the 4-byte salt for AES-GCM. */
  readonly encryptionKey: Uint8Array;
  /** Empty (or absent) with AES-GCM. */
  readonly integrityKey?: Uint8Array;
}

/** The integrity algorithm a suite uses for the SK payload, after checking suite and key sizes. */
function checkSuite(suite: KeySuite, keys: SkKeys): Integ | undefined {
  const { encr, integ } = suite;
  if (encr.kind === "aead" ? integ !== undefined : integ === undefined) {
    throw new IkeCryptoError(
      "INVALID_SUITE",
      encr.kind === "aead" ? `${encr.name} takes no integrity algorithm` : `${encr.name} needs an integrity algorithm`,
    );
  }
  if (keys.encryptionKey.length !== encr.keyMaterialLength) {
    throw new IkeCryptoError(
      "INVALID_KEY_LENGTH",
      `${encr.name} needs ${encr.keyMaterialLength} bytes of key material, got ${keys.encryptionKey.length}`,
    );
  }
  const integrityKeyLength = keys.integrityKey?.length ?? 0;
  if (integrityKeyLength !== (integ?.keyLength ?? 0)) {
    throw new IkeCryptoError("INVALID_KEY_LENGTH", `integrity key of ${integrityKeyLength} bytes for ${integ?.name ?? encr.name}`);
  }
  return integ;
}

/** Length of the inner chain plus minimal padding and the Pad Length byte. */
function paddedLength(suite: KeySuite, plaintextLength: number): number {
  const block = suite.encr.blockSize;
  return Math.ceil((plaintextLength + 1) / block) * block;
}

const icvLength = (suite: KeySuite): number =>
  suite.encr.kind === "aead" ? suite.encr.icvLength : (suite.integ?.icvLength ?? 0);

/** Size of the SK payload body (IV | encrypted payloads, padding, pad length | ICV) for a plaintext chain. */
export function skBodyLength(suite: KeySuite, plaintextLength: number): number {
  return suite.encr.ivLength + paddedLength(suite, plaintextLength) + icvLength(suite);
}

/** Encrypts and protects `plaintext` (the inner payload chain) with an explicit IV. Prefer SkSealer. */
export function sealSk(suite: KeySuite, keys: SkKeys, aad: Uint8Array, plaintext: Uint8Array, iv: Uint8Array): Uint8Array {
  const integ = checkSuite(suite, keys);
  const { encr } = suite;
  if (iv.length !== encr.ivLength) {
    throw new IkeCryptoError("INVALID_IV_LENGTH", `${encr.name} needs a ${encr.ivLength}-byte IV, got ${iv.length}`);
  }
  // Minimal zero padding; the Pad Length byte comes last (RFC 7296 §3.14).
  const padded = new Uint8Array(paddedLength(suite, plaintext.length));
  padded.set(plaintext);
  padded[padded.length - 1] = padded.length - plaintext.length - 1;
  if (encr.kind === "aead") {
    return concatBytes(iv, encr.seal(keys.encryptionKey, iv, aad, padded));
  }
  const ivAndCiphertext = concatBytes(iv, encr.encrypt(keys.encryptionKey, iv, padded));
  return concatBytes(ivAndCiphertext, integ!.compute(keys.integrityKey!, concatBytes(aad, ivAndCiphertext)));
}

/**
 * Checks and decrypts a received SK payload body, returning the inner payload chain. Lengths are validated
 * first, then the ICV (constant time), and only then is the plaintext decrypted and its padding read.
 * Throws SkPayloadError (TOO_SHORT, BAD_LENGTH, AUTH_FAILED, BAD_PADDING) for anything wrong with `body`.
 */
export function openSk(suite: KeySuite, keys: SkKeys, aad: Uint8Array, body: Uint8Array): Uint8Array {
  const integ = checkSuite(suite, keys);
  const { encr } = suite;
  const icv = icvLength(suite);
  const ciphertextLength = body.length - encr.ivLength - icv;
  // At least one block (CBC) or the Pad Length byte (GCM) must be present.
  if (ciphertextLength < encr.blockSize) {
    throw new SkPayloadError("TOO_SHORT", `SK payload body of ${body.length} bytes is too short for ${encr.name}`);
  }
  if (ciphertextLength % encr.blockSize !== 0) {
    throw new SkPayloadError("BAD_LENGTH", `${ciphertextLength} bytes of ciphertext is not a multiple of ${encr.blockSize}`);
  }
  const iv = body.subarray(0, encr.ivLength);
  const ciphertext = body.subarray(encr.ivLength, encr.ivLength + ciphertextLength);
  let padded: Uint8Array;
  if (encr.kind === "aead") {
    const opened = encr.open(keys.encryptionKey, iv, aad, body.subarray(encr.ivLength));
    if (!opened) throw new SkPayloadError("AUTH_FAILED", "SK payload ICV does not verify");
    padded = opened;
  } else {
    const signed = body.subarray(0, body.length - icv);
    if (!integ!.verify(keys.integrityKey!, concatBytes(aad, signed), body.subarray(body.length - icv))) {
      throw new SkPayloadError("AUTH_FAILED", "SK payload integrity checksum does not verify");
    }
    padded = encr.decrypt(keys.encryptionKey, iv, ciphertext);
  }
  const padLength = padded[padded.length - 1]!;
  if (padLength + 1 > padded.length) {
    throw new SkPayloadError("BAD_PADDING", `pad length ${padLength} exceeds the ${padded.length} decrypted bytes`);
  }
  return padded.slice(0, padded.length - padLength - 1);
}

/**
 * Seals SK payloads for one direction of an IKE SA, choosing IVs: random for AES-CBC (RFC 7296 §3.14 requires
 * unpredictable IVs), a 64-bit counter from a random start for AES-GCM (RFC 5282 requires unique IVs per key).
 * Use one sealer per key.
 */
export class SkSealer {
  private counter: bigint;

  constructor(
    readonly suite: KeySuite,
    private readonly keys: SkKeys,
  ) {
    checkSuite(suite, keys);
    this.counter = randomBytes(8).readBigUInt64BE();
  }

  bodyLength(plaintextLength: number): number {
    return skBodyLength(this.suite, plaintextLength);
  }

  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return sealSk(this.suite, this.keys, aad, plaintext, this.nextIv());
  }

  private nextIv(): Uint8Array {
    if (this.suite.encr.kind === "cbc") return new Uint8Array(randomBytes(this.suite.encr.ivLength));
    const iv = new Uint8Array(8);
    new DataView(iv.buffer).setBigUint64(0, this.counter);
    this.counter = (this.counter + 1n) & 0xffffffffffffffffn;
    return iv;
  }
}
