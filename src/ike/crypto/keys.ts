// IKEv2 key derivation: SKEYSEED and the IKE SA keys (RFC 7296 §2.14), SKEYSEED of a rekeyed IKE SA (§2.18),
// and Child SA KEYMAT (§2.17).
import type { Cipher } from "./encr.js";
import { IkeCryptoError } from "./errors.js";
import type { Integ } from "./integ.js";
import { prfPlus } from "./prf.js";
import type { Prf } from "./prf.js";
import { concatBytes } from "./bytes.js";

/** The negotiated algorithms that determine key lengths. `integ` is absent for AEAD ciphers. */
export interface KeySuite {
  readonly encr: Cipher;
  readonly integ?: Integ;
}

export interface IkeSaSuite extends KeySuite {
  readonly prf: Prf;
}

export interface IkeSaKeys {
  readonly skD: Uint8Array;
  /** Empty with an AEAD cipher (RFC 5282: no SK_ai/SK_ar). */
  readonly skAi: Uint8Array;
  readonly skAr: Uint8Array;
  /** AES key, followed by the 4-byte salt for AES-GCM (RFC 5282). */
  readonly skEi: Uint8Array;
  readonly skEr: Uint8Array;
  readonly skPi: Uint8Array;
  readonly skPr: Uint8Array;
}

export interface ChildSaDirectionKeys {
  /** Cipher key material: AES key, followed by the 4-byte salt for AES-GCM (RFC 4106 §8.1). */
  readonly encryptionKey: Uint8Array;
  /** Empty with an AEAD cipher. */
  readonly integrityKey: Uint8Array;
}

export interface ChildSaKeys {
  readonly initiatorToResponder: ChildSaDirectionKeys;
  readonly responderToInitiator: ChildSaDirectionKeys;
}

/** Splits `material` into consecutive slices of the given lengths. */
function split(material: Uint8Array, lengths: number[]): Uint8Array[] {
  let offset = 0;
  return lengths.map((n) => material.slice(offset, (offset += n)));
}

function integKeyLength(suite: KeySuite): number {
  if (suite.encr.kind === "aead" && suite.integ) {
    throw new IkeCryptoError("INVALID_SUITE", `${suite.encr.name} is an AEAD cipher: no integrity algorithm may be used`);
  }
  return suite.integ?.keyLength ?? 0;
}

/** SKEYSEED = prf(Ni | Nr, g^ir) for the IKE_SA_INIT exchange (RFC 7296 §2.14). */
export function skeyseed(prf: Prf, ni: Uint8Array, nr: Uint8Array, gir: Uint8Array): Uint8Array {
  return prf.compute(concatBytes(ni, nr), gir);
}

/**
 * SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) for an IKE SA rekeyed with CREATE_CHILD_SA (RFC 7296 §2.18).
 * `prf` is the PRF of the old IKE SA, the one the rekeying exchange belongs to.
 */
export function rekeySkeyseed(prf: Prf, oldSkD: Uint8Array, girNew: Uint8Array, ni: Uint8Array, nr: Uint8Array): Uint8Array {
  return prf.compute(oldSkD, concatBytes(girNew, ni, nr));
}

/**
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) (RFC 7296 §2.14),
 * with SK_d/SK_pi/SK_pr of the PRF's key length and the other lengths from the negotiated transforms.
 */
export function deriveIkeSaKeys(
  suite: IkeSaSuite,
  skeyseedValue: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  spiI: Uint8Array,
  spiR: Uint8Array,
): IkeSaKeys {
  if (suite.encr.kind === "cbc" && !suite.integ) {
    throw new IkeCryptoError("INVALID_SUITE", `IKE SA with ${suite.encr.name} needs an integrity algorithm`);
  }
  const p = suite.prf.keyLength;
  const a = integKeyLength(suite);
  const e = suite.encr.keyMaterialLength;
  const lengths = [p, a, a, e, e, p, p];
  const material = prfPlus(suite.prf, skeyseedValue, concatBytes(ni, nr, spiI, spiR), lengths.reduce((x, y) => x + y));
  const [skD, skAi, skAr, skEi, skEr, skPi, skPr] = split(material, lengths) as [
    Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array,
  ];
  material.fill(0);
  return { skD, skAi, skAr, skEi, skEr, skPi, skPr };
}

/**
 * KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS (RFC 7296 §2.17), taken as
 * encryption key then integrity key, first for initiator→responder, then for responder→initiator.
 * Ni and Nr are the nonces of the exchange that creates the Child SA.
 */
export function deriveChildSaKeys(
  prf: Prf,
  skD: Uint8Array,
  suite: KeySuite,
  ni: Uint8Array,
  nr: Uint8Array,
  girNew?: Uint8Array,
): ChildSaKeys {
  return deriveChildSaKeyLengths(prf, skD, { encr: suite.encr.keyMaterialLength, integ: integKeyLength(suite) }, ni, nr, girNew);
}

/**
 * The same KEYMAT split by key lengths in bytes: what deriveChildSaKeys does for ESP, and for AH, which has
 * integrity keys only (`encr` 0; an AES-GMAC key includes its 4-byte salt, RFC 4543 §7).
 */
export function deriveChildSaKeyLengths(
  prf: Prf,
  skD: Uint8Array,
  length: { readonly encr: number; readonly integ: number },
  ni: Uint8Array,
  nr: Uint8Array,
  girNew?: Uint8Array,
): ChildSaKeys {
  const e = length.encr;
  const a = length.integ;
  const lengths = [e, a, e, a];
  const seed = girNew ? concatBytes(girNew, ni, nr) : concatBytes(ni, nr);
  const material = prfPlus(prf, skD, seed, 2 * (e + a));
  const [ei, ai, er, ar] = split(material, lengths) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  material.fill(0);
  return {
    initiatorToResponder: { encryptionKey: ei, integrityKey: ai },
    responderToInitiator: { encryptionKey: er, integrityKey: ar },
  };
}
