// IKEv2 transform registry (RFC 7296 §3.3.2, IANA "IKEv2 Transform Type n Transform IDs") mapped to the
// implementations, and a parser for strongSwan proposal strings ("aes128-sha256-x25519", "aes256gcm16-prfsha384-ecp384",
// AH's "sha256-x25519" or "aes128gmac").
import { aesCbc, aesGcm, ENCR_AES_CBC, ENCR_AES_GCM_8, ENCR_AES_GCM_12, ENCR_AES_GCM_16 } from "./encr.js";
import type { AesKeyBits, Cipher, GcmIcvLength } from "./encr.js";
import { CURVE_25519, DH_CURVE_25519, DH_ECP_256, DH_ECP_384, DH_ECP_521, ECP_256, ECP_384, ECP_521 } from "./dh.js";
import type { DhGroup } from "./dh.js";
import { ProposalError } from "./errors.js";
import { AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256 } from "./integ.js";
import type { Integ } from "./integ.js";
import { PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512 } from "./prf.js";
import type { Prf } from "./prf.js";

/** Transform Type values (RFC 7296 §3.3.2). */
export const TRANSFORM_ENCR = 1;
export const TRANSFORM_PRF = 2;
export const TRANSFORM_INTEG = 3;
export const TRANSFORM_DH = 4;
export const TRANSFORM_ESN = 5;

/** Transform attribute type of the Key Length attribute (RFC 7296 §3.3.5), sent in TV format. */
export const ATTRIBUTE_KEY_LENGTH = 14;

/** Transform Type 5 IDs. */
export const ESN_NONE = 0;
export const ESN_ENABLED = 1;

const GCM_ICV: Record<number, GcmIcvLength> = { [ENCR_AES_GCM_8]: 8, [ENCR_AES_GCM_12]: 12, [ENCR_AES_GCM_16]: 16 };
const PRFS = new Map<number, Prf>([PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512].map((p) => [p.id, p]));
const INTEGS = new Map<number, Integ>(
  [AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256].map((i) => [i.id, i]),
);
const GROUPS = new Map<number, DhGroup>([ECP_256, ECP_384, ECP_521, CURVE_25519].map((g) => [g.id, g]));

const unsupported = (what: string, id: number): ProposalError =>
  new ProposalError("UNSUPPORTED_TRANSFORM", `unsupported ${what} transform ID ${id}`);

/** The cipher for ENCR transform `id` with Key Length attribute `keyBits` (mandatory for AES, RFC 7296 §3.3.5). */
export function lookupEncr(id: number, keyBits: number | undefined): Cipher {
  if (id !== ENCR_AES_CBC && GCM_ICV[id] === undefined) throw unsupported("ENCR", id);
  if (keyBits === undefined) {
    throw new ProposalError("MISSING_KEY_LENGTH", `ENCR transform ${id} requires the Key Length attribute`);
  }
  if (keyBits !== 128 && keyBits !== 192 && keyBits !== 256) {
    throw new ProposalError("UNSUPPORTED_TRANSFORM", `unsupported AES key length ${keyBits} for ENCR transform ${id}`);
  }
  return id === ENCR_AES_CBC ? aesCbc(keyBits) : aesGcm(keyBits, GCM_ICV[id]!);
}

export function lookupPrf(id: number): Prf {
  const prf = PRFS.get(id);
  if (!prf) throw unsupported("PRF", id);
  return prf;
}

export function lookupInteg(id: number): Integ {
  const integ = INTEGS.get(id);
  if (!integ) throw unsupported("INTEG", id);
  return integ;
}

export function lookupDh(id: number): DhGroup {
  const group = GROUPS.get(id);
  if (!group) throw unsupported("DH", id);
  return group;
}

export const isAeadEncr = (id: number): boolean => GCM_ICV[id] !== undefined;

/** Transform Type 3 IDs of AES-GMAC (RFC 4543 §9); the ID fixes the key size, no Key Length attribute. */
export const AUTH_AES_128_GMAC = 9;
export const AUTH_AES_256_GMAC = 11;

/** An integrity transform of an AH Child SA, as the data plane implements them. */
export interface AhInteg {
  readonly id: number;
  /** strongSwan's keyword, which is also the data plane's name for it (sadb.ts Integrity). */
  readonly name: "sha256" | "sha384" | "sha512" | "aes128gmac" | "aes256gmac";
  /** KEYMAT bytes per direction: the HMAC key (RFC 4868 §2.1.2), or the AES key and 4-byte salt (RFC 4543 §7). */
  readonly keyLength: number;
}

const AH_INTEGS = new Map<number, AhInteg>(([
  [AUTH_HMAC_SHA2_256_128.id, "sha256", 32], [AUTH_HMAC_SHA2_384_192.id, "sha384", 48], [AUTH_HMAC_SHA2_512_256.id, "sha512", 64],
  [AUTH_AES_128_GMAC, "aes128gmac", 16 + 4], [AUTH_AES_256_GMAC, "aes256gmac", 32 + 4],
] as const).map(([id, name, keyLength]) => [id, { id, name, keyLength }]));

/** The AH integrity transform `id`; throws UNSUPPORTED_TRANSFORM. */
export function lookupAhInteg(id: number): AhInteg {
  const integ = AH_INTEGS.get(id);
  if (!integ) throw unsupported("AH INTEG", id);
  return integ;
}

export type Protocol = "ike" | "esp" | "ah";

export interface EncrSpec {
  readonly id: number;
  readonly keyBits: AesKeyBits;
}

/** One proposal: the acceptable transforms of each type, in order of preference. */
export interface Proposal {
  readonly protocol: Protocol;
  readonly encr: readonly EncrSpec[];
  readonly prf: readonly number[];
  readonly integ: readonly number[];
  readonly dh: readonly number[];
  readonly esn: readonly number[];
}

/** A transform as carried in a Transform substructure. */
export interface TransformSpec {
  readonly type: number;
  readonly id: number;
  /** Key Length attribute value in bits, when the transform has one. */
  readonly keyLength?: number;
}

type Token =
  | { type: typeof TRANSFORM_ENCR; spec: EncrSpec }
  | { type: typeof TRANSFORM_PRF | typeof TRANSFORM_INTEG | typeof TRANSFORM_DH | typeof TRANSFORM_ESN; id: number };

/** strongSwan's PRF for an integrity algorithm, used when an IKE proposal names no PRF. */
const INTEG_TO_PRF = new Map<number, number>([
  [AUTH_HMAC_SHA2_256_128.id, PRF_HMAC_SHA2_256.id],
  [AUTH_HMAC_SHA2_384_192.id, PRF_HMAC_SHA2_384.id],
  [AUTH_HMAC_SHA2_512_256.id, PRF_HMAC_SHA2_512.id],
]);

/** strongSwan keywords (src/libstrongswan/crypto/proposal/proposal_keywords_static.txt) for what is implemented here. */
const KEYWORDS = new Map<string, Token>();
for (const bits of [128, 192, 256] as const) {
  const cbc: Token = { type: TRANSFORM_ENCR, spec: { id: ENCR_AES_CBC, keyBits: bits } };
  KEYWORDS.set(`aes${bits}`, cbc);
  for (const [icv, id] of [[8, ENCR_AES_GCM_8], [12, ENCR_AES_GCM_12], [16, ENCR_AES_GCM_16]] as const) {
    const gcm: Token = { type: TRANSFORM_ENCR, spec: { id, keyBits: bits } };
    KEYWORDS.set(`aes${bits}gcm${icv}`, gcm);
    KEYWORDS.set(`aes${bits}gcm${icv * 8}`, gcm); // ICV length in bits: aes128gcm64/96/128
  }
  KEYWORDS.set(`aes${bits}gcm`, { type: TRANSFORM_ENCR, spec: { id: ENCR_AES_GCM_16, keyBits: bits } });
}
KEYWORDS.set("aes", KEYWORDS.get("aes128")!);
for (const [bits, integ, prf] of [
  [256, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256],
  [384, AUTH_HMAC_SHA2_384_192, PRF_HMAC_SHA2_384],
  [512, AUTH_HMAC_SHA2_512_256, PRF_HMAC_SHA2_512],
] as const) {
  KEYWORDS.set(`sha${bits}`, { type: TRANSFORM_INTEG, id: integ.id });
  KEYWORDS.set(`sha2_${bits}`, { type: TRANSFORM_INTEG, id: integ.id });
  KEYWORDS.set(`prfsha${bits}`, { type: TRANSFORM_PRF, id: prf.id });
}
KEYWORDS.set("ecp256", { type: TRANSFORM_DH, id: DH_ECP_256 });
KEYWORDS.set("ecp384", { type: TRANSFORM_DH, id: DH_ECP_384 });
KEYWORDS.set("ecp521", { type: TRANSFORM_DH, id: DH_ECP_521 });
KEYWORDS.set("curve25519", { type: TRANSFORM_DH, id: DH_CURVE_25519 });
KEYWORDS.set("x25519", { type: TRANSFORM_DH, id: DH_CURVE_25519 });
KEYWORDS.set("esn", { type: TRANSFORM_ESN, id: ESN_ENABLED });
KEYWORDS.set("noesn", { type: TRANSFORM_ESN, id: ESN_NONE });

/** Keywords of AH proposals only: strongSwan parses them as ENCR_NULL_AUTH_AES_GMAC and turns them into AH's
 *  integrity transforms (proposal.c check_proposal); ESP's GMAC is not implemented here. */
const AH_KEYWORDS = new Map<string, Token>([
  ["aes128gmac", { type: TRANSFORM_INTEG, id: AUTH_AES_128_GMAC }],
  ["aes256gmac", { type: TRANSFORM_INTEG, id: AUTH_AES_256_GMAC }],
]);

/** The transform a single strongSwan keyword stands for; throws UNKNOWN_KEYWORD. */
export function lookupKeyword(keyword: string): TransformSpec {
  const token = KEYWORDS.get(keyword);
  if (!token) throw new ProposalError("UNKNOWN_KEYWORD", `unknown algorithm keyword '${keyword}'`, keyword);
  return token.type === TRANSFORM_ENCR
    ? { type: TRANSFORM_ENCR, id: token.spec.id, keyLength: token.spec.keyBits }
    : { type: token.type, id: token.id };
}

/**
 * Parses one strongSwan proposal ("aes128-sha256-x25519", "aes256gcm16-prfsha384-ecp384", "aes128gcm16-esn")
 * and applies strongSwan's completion rules (proposal.c check_proposal):
 * - IKE: without a PRF keyword the PRFs of the integrity algorithms are used; a PRF and a DH group are required;
 *   classic ciphers need an integrity algorithm; ESN keywords are rejected.
 * - ESP: PRF keywords are dropped; without an ESN keyword "noesn" is implied; a DH group means PFS.
 * - AH: as ESP, but an integrity algorithm is required (sha256, aes128gmac, ...) and no encryption algorithm
 *   may be named (strongSwan drops it silently; here it is an error, as it asks for what AH cannot do).
 * - AEAD and classic ciphers cannot be mixed; with AEAD ciphers integrity algorithms are dropped.
 */
export function parseProposal(text: string, protocol: Protocol): Proposal {
  const encr: EncrSpec[] = [];
  const integ: number[] = [];
  let prf: number[] = [];
  const dh: number[] = [];
  const esn: number[] = [];
  const invalid = (why: string): ProposalError => new ProposalError("INVALID_PROPOSAL", `proposal '${text}': ${why}`);
  for (const keyword of text.split("-").map((k) => k.trim())) {
    const token = KEYWORDS.get(keyword) ?? (protocol === "ah" ? AH_KEYWORDS.get(keyword) : undefined);
    if (!token) {
      throw new ProposalError("UNKNOWN_KEYWORD", `unknown algorithm keyword '${keyword}' in proposal '${text}'`, keyword);
    }
    if (token.type === TRANSFORM_ENCR) {
      if (protocol === "ah") throw invalid(`AH does not encrypt: '${keyword}' belongs in an ESP proposal`);
      if (!encr.some((e) => e.id === token.spec.id && e.keyBits === token.spec.keyBits)) encr.push(token.spec);
      continue;
    }
    const list = { [TRANSFORM_PRF]: prf, [TRANSFORM_INTEG]: integ, [TRANSFORM_DH]: dh, [TRANSFORM_ESN]: esn }[token.type];
    if (!list.includes(token.id)) list.push(token.id);
  }
  if (protocol === "ah") {
    if (integ.length === 0) throw invalid("an integrity algorithm is required in AH proposals (e.g. sha256)");
    if (esn.length === 0) esn.push(ESN_NONE);
    return { protocol, encr, prf: [], integ, dh, esn };
  }
  if (encr.length === 0) throw invalid("an encryption algorithm is required");
  const aead = encr.filter((e) => isAeadEncr(e.id)).length;
  if (aead !== 0 && aead !== encr.length) throw invalid("AEAD and classic encryption algorithms cannot be mixed");

  if (protocol === "ike") {
    if (esn.length !== 0) throw invalid("ESN transforms belong to ESP/AH proposals");
    if (prf.length === 0) prf = integ.map((id) => INTEG_TO_PRF.get(id)!);
    if (prf.length === 0) throw invalid("a PRF is required (prfsha256, or an integrity keyword)");
    if (aead === 0 && integ.length === 0) throw invalid("an integrity algorithm is required with classic encryption");
    if (dh.length === 0) throw invalid("a key exchange method is required");
  } else {
    prf = [];
    if (esn.length === 0) esn.push(ESN_NONE);
  }
  return { protocol, encr, prf, integ: aead !== 0 ? [] : integ, dh, esn };
}

/** Parses a comma-separated list of proposals, as in strongSwan's `proposals`/`esp_proposals`/`ah_proposals`. */
export function parseProposals(text: string, protocol: Protocol): Proposal[] {
  return text.split(",").map((p) => parseProposal(p, protocol));
}

/** The transforms of `proposal` in Transform Type order, ready for the SA payload. */
export function proposalTransforms(proposal: Proposal): TransformSpec[] {
  return [
    ...proposal.encr.map((e) => ({ type: TRANSFORM_ENCR, id: e.id, keyLength: e.keyBits })),
    ...proposal.prf.map((id) => ({ type: TRANSFORM_PRF, id })),
    ...proposal.integ.map((id) => ({ type: TRANSFORM_INTEG, id })),
    ...proposal.dh.map((id) => ({ type: TRANSFORM_DH, id })),
    ...proposal.esn.map((id) => ({ type: TRANSFORM_ESN, id })),
  ];
}
