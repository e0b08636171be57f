// IKEv2 encryption algorithms over node:crypto (OpenSSL): ENCR_AES_CBC (RFC 3602, RFC 7296 §3.3.2) and
// ENCR_AES_GCM_8/12/16 (RFC 5282, RFC 4106 nonce layout: 4-byte salt from the keying material | 8-byte IV).
import { createCipheriv, createDecipheriv } from "node:crypto";
import { concatBytes } from "./bytes.js";

export type AesKeyBits = 128 | 192 | 256;
export type GcmIcvLength = 8 | 12 | 16;

export const ENCR_AES_CBC = 12;
export const ENCR_AES_GCM_8 = 18;
export const ENCR_AES_GCM_12 = 19;
export const ENCR_AES_GCM_16 = 20;

interface CipherBase {
  /** IKEv2 Transform Type 1 ID. */
  readonly id: number;
  readonly name: string;
  /** Value of the Key Length transform attribute. */
  readonly keyBits: AesKeyBits;
  /** AES key length in bytes. */
  readonly keyLength: number;
  /** Keying material taken from prf+ for SK_e / the ESP encryption key (AES key plus salt for GCM). */
  readonly keyMaterialLength: number;
  /** Length of the IV that precedes the ciphertext on the wire. */
  readonly ivLength: number;
  /** The plaintext (payloads | padding | pad length) must be a multiple of this. */
  readonly blockSize: number;
}

export interface CbcCipher extends CipherBase {
  readonly kind: "cbc";
  /** Raw CBC, no padding: `plaintext.length` must be a multiple of 16. */
  encrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Raw CBC, no padding: `ciphertext.length` must be a multiple of 16. */
  decrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

export interface AeadCipher extends CipherBase {
  readonly kind: "aead";
  readonly saltLength: number;
  readonly icvLength: GcmIcvLength;
  /** Returns ciphertext | ICV. `keyMaterial` is AES key | 4-byte salt. */
  seal(keyMaterial: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Returns the plaintext, or null when the ICV does not verify (no plaintext is released then). */
  open(keyMaterial: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

export type Cipher = CbcCipher | AeadCipher;

export function aesCbc(keyBits: AesKeyBits): CbcCipher {
  const algorithm = `aes-${keyBits}-cbc`;
  const run = (decrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array => {
    const c = decrypt ? createDecipheriv(algorithm, key, iv) : createCipheriv(algorithm, key, iv);
    c.setAutoPadding(false); // IKE pads itself (RFC 7296 §3.14)
    return concatBytes(c.update(data), c.final());
  };
  return {
    kind: "cbc",
    id: ENCR_AES_CBC,
    name: `AES_CBC_${keyBits}`,
    keyBits,
    keyLength: keyBits / 8,
    keyMaterialLength: keyBits / 8,
    ivLength: 16,
    blockSize: 16,
    encrypt: (key, iv, plaintext) => run(false, key, iv, plaintext),
    decrypt: (key, iv, ciphertext) => run(true, key, iv, ciphertext),
  };
}

const GCM_IDS: Record<GcmIcvLength, number> = { 8: ENCR_AES_GCM_8, 12: ENCR_AES_GCM_12, 16: ENCR_AES_GCM_16 };

export function aesGcm(keyBits: AesKeyBits, icvLength: GcmIcvLength): AeadCipher {
  const algorithm = `aes-${keyBits}-gcm` as const;
  const keyLength = keyBits / 8;
  const nonce = (keyMaterial: Uint8Array, iv: Uint8Array): Uint8Array => concatBytes(keyMaterial.subarray(keyLength), iv);
  return {
    kind: "aead",
    id: GCM_IDS[icvLength],
    name: `AES_GCM_${icvLength}_${keyBits}`,
    keyBits,
    keyLength,
    saltLength: 4,
    keyMaterialLength: keyLength + 4,
    ivLength: 8,
    // GCM is a stream mode: no alignment, so the pad length byte may be 0 (RFC 5282).
    blockSize: 1,
    icvLength,
    seal(keyMaterial, iv, aad, plaintext) {
      const c = createCipheriv(algorithm, keyMaterial.subarray(0, keyLength), nonce(keyMaterial, iv), {
        authTagLength: icvLength,
      });
      c.setAAD(aad);
      return concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
    },
    open(keyMaterial, iv, aad, sealed) {
      const d = createDecipheriv(algorithm, keyMaterial.subarray(0, keyLength), nonce(keyMaterial, iv), {
        authTagLength: icvLength,
      });
      d.setAuthTag(sealed.subarray(sealed.length - icvLength));
      d.setAAD(aad);
      const head = d.update(sealed.subarray(0, sealed.length - icvLength));
      try {
        return concatBytes(head, d.final()); // final() compares the tag in constant time (OpenSSL)
      } catch {
        head.fill(0);
        return null;
      }
    },
  };
}
