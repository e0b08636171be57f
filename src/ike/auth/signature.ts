// Signature authentication of IKE_AUTH: RFC 7427 "Digital Signature" (method 14) with ECDSA, RSASSA-PSS,
// RSASSA-PKCS1-v1_5 and Ed25519 (RFC 8420), the classic methods RSA (1, RFC 7296) and ECDSA (9/10/11,
// RFC 4754), and the choice of scheme from the peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) as
// strongSwan's pubkey_authenticator.c makes it. The signed octets are those of PSK authentication
// (psk.ts signedOctets()); node:crypto signs and verifies.
import { constants, sign, verify, type KeyObject } from "node:crypto";
import { AuthMethod, HashAlgorithm } from "../wire/index.js";
import { AuthError } from "./errors.js";
import { DerSeq, Tag, ctx, readOid, readSingle, readSmallUint, type DerNode } from "./der.js";
import { describeKey } from "./keys.js";

type Digest = "sha256" | "sha384" | "sha512";
type KeyKind = "ecdsa" | "rsa" | "ed25519";

export interface SignatureScheme {
  /** strongSwan's signature_scheme_names. */
  readonly name: string;
  readonly key: KeyKind;
  /** RFC 7427 §7 hash algorithm (IDENTITY for Ed25519, RFC 8420). */
  readonly hash: number;
  /** null: Ed25519 signs the octets themselves. */
  readonly digest: Digest | null;
  /** RSASSA-PSS with MGF1 over `digest` and this salt length; absent for other schemes. */
  readonly saltLength?: number;
  /** DER AlgorithmIdentifier carried in the AUTH payload. */
  readonly algorithmIdentifier: Buffer;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const HASH_OF: Record<Digest, number> = { sha256: HashAlgorithm.SHA2_256, sha384: HashAlgorithm.SHA2_384, sha512: HashAlgorithm.SHA2_512 };

function scheme(name: string, key: KeyKind, digest: Digest | null, algId: string, saltLength?: number): SignatureScheme {
  return { name, key, digest, hash: digest ? HASH_OF[digest] : HashAlgorithm.IDENTITY, algorithmIdentifier: hex(algId), saltLength };
}

/**
 * The schemes we sign with. AlgorithmIdentifiers: RFC 7427 Appendix A.1.2-A.1.4 (sha*WithRSAEncryption),
 * A.3.2-A.3.4 (ecdsa-with-SHA*), A.4.3 (RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32); PSS with
 * SHA-384/512 is A.4.3 with the RFC 4055 hash identifier and salt = hash length changed, byte for byte
 * what strongSwan (signature_params.c rsa_pss_params_build()) and libreswan (include/ietf_constants.h)
 * send; Ed25519: RFC 8420 §2 with RFC 8410 §3's id-Ed25519, parameters absent.
 */
export const SCHEMES = {
  ECDSA_WITH_SHA256_DER: scheme("ECDSA_WITH_SHA256_DER", "ecdsa", "sha256", "300a06082a8648ce3d040302"),
  ECDSA_WITH_SHA384_DER: scheme("ECDSA_WITH_SHA384_DER", "ecdsa", "sha384", "300a06082a8648ce3d040303"),
  ECDSA_WITH_SHA512_DER: scheme("ECDSA_WITH_SHA512_DER", "ecdsa", "sha512", "300a06082a8648ce3d040304"),
  ED25519: scheme("ED25519", "ed25519", null, "300506032b6570"),
  RSA_EMSA_PSS_SHA2_256: scheme("RSA_EMSA_PSS_SHA2_256", "rsa", "sha256", `
    3041 06092a864886f70d01010a 3034
      a00f 300d 0609608648016503040201 0500
      a11c 301a 06092a864886f70d010108 300d 0609608648016503040201 0500
      a203 020120`, 32),
  RSA_EMSA_PSS_SHA2_384: scheme("RSA_EMSA_PSS_SHA2_384", "rsa", "sha384", `
    3041 06092a864886f70d01010a 3034
      a00f 300d 0609608648016503040202 0500
      a11c 301a 06092a864886f70d010108 300d 0609608648016503040202 0500
      a203 020130`, 48),
  RSA_EMSA_PSS_SHA2_512: scheme("RSA_EMSA_PSS_SHA2_512", "rsa", "sha512", `
    3041 06092a864886f70d01010a 3034
      a00f 300d 0609608648016503040203 0500
      a11c 301a 06092a864886f70d010108 300d 0609608648016503040203 0500
      a203 020140`, 64),
  RSA_EMSA_PKCS1_SHA2_256: scheme("RSA_EMSA_PKCS1_SHA2_256", "rsa", "sha256", "300d06092a864886f70d01010b0500"),
  RSA_EMSA_PKCS1_SHA2_384: scheme("RSA_EMSA_PKCS1_SHA2_384", "rsa", "sha384", "300d06092a864886f70d01010c0500"),
  RSA_EMSA_PKCS1_SHA2_512: scheme("RSA_EMSA_PKCS1_SHA2_512", "rsa", "sha512", "300d06092a864886f70d01010d0500"),
} as const;

/** What we put in SIGNATURE_HASH_ALGORITHMS: everything the schemes above use. */
export const SUPPORTED_HASH_ALGORITHMS: readonly number[] =
  [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY];

const HASH_NAMES: Record<number, string> = { 1: "SHA1", 2: "SHA2_256", 3: "SHA2_384", 4: "SHA2_512", 5: "IDENTITY" };
const hashName = (h: number): string => HASH_NAMES[h] ?? `hash ${h}`;

/** For logs, as strongSwan prints it: "RSA_EMSA_PSS_SHA2_256_SALT_32", "ECDSA_WITH_SHA384_DER". */
export function describeScheme(s: SignatureScheme): string {
  return s.saltLength === undefined ? s.name : `${s.name}_SALT_${s.saltLength}`;
}

// ------------------------------------------------------------------ AlgorithmIdentifier parsing

const SIGNATURE_OIDS: Record<string, SignatureScheme> = {
  "1.2.840.10045.4.3.2": SCHEMES.ECDSA_WITH_SHA256_DER,
  "1.2.840.10045.4.3.3": SCHEMES.ECDSA_WITH_SHA384_DER,
  "1.2.840.10045.4.3.4": SCHEMES.ECDSA_WITH_SHA512_DER,
  "1.3.101.112": SCHEMES.ED25519,
  "1.2.840.113549.1.1.11": SCHEMES.RSA_EMSA_PKCS1_SHA2_256,
  "1.2.840.113549.1.1.12": SCHEMES.RSA_EMSA_PKCS1_SHA2_384,
  "1.2.840.113549.1.1.13": SCHEMES.RSA_EMSA_PKCS1_SHA2_512,
};
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";
const HASH_OIDS: Record<string, Digest | "sha1"> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
/** Recognized but refused, to name them in errors. */
const REFUSED_OIDS: Record<string, string> = {
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10040.4.3": "dsa-with-sha1",
  "2.16.840.1.101.3.4.3.2": "dsa-with-sha256",
  "1.3.101.113": "Ed448",
};

const isNull = (n: DerNode | undefined): boolean => n !== undefined && n.tag === Tag.NULL && n.content.length === 0;

/** AlgorithmIdentifier of a hash (RFC 4055 §2.1: parameters NULL or absent). */
function readHashAlgorithm(n: DerNode, what: string): Digest | "sha1" {
  const s = new DerSeq(readSingle(n.raw, what, Tag.SEQUENCE), what);
  const id = readOid(s.next(Tag.OID, "algorithm"), what);
  const params = s.optionalAny();
  s.end();
  if (params && !isNull(params)) throw new AuthError("MALFORMED", `${what}: unexpected hash parameters`);
  const d = HASH_OIDS[id];
  if (!d) throw new AuthError("UNSUPPORTED", `${what}: hash algorithm ${id} is not supported`);
  return d;
}

/** RFC 4055 §3.1 RSASSA-PSS-params; defaults SHA-1, MGF1-SHA-1, salt 20, trailer 1. */
function readPssParams(n: DerNode | undefined): SignatureScheme {
  if (!n || n.tag !== Tag.SEQUENCE) throw new AuthError("MALFORMED", "RSASSA-PSS AlgorithmIdentifier without RSASSA-PSS-params");
  const s = new DerSeq(n, "RSASSA-PSS-params");
  const h = s.optional(ctx(0, true)), m = s.optional(ctx(1, true)), sl = s.optional(ctx(2, true)), tf = s.optional(ctx(3, true));
  s.end();
  const hash = h ? readHashAlgorithm(readSingle(h.content, "hashAlgorithm"), "RSASSA-PSS hashAlgorithm") : "sha1";
  let mgfHash: Digest | "sha1" = "sha1";
  if (m) {
    const mgf = new DerSeq(readSingle(m.content, "maskGenAlgorithm", Tag.SEQUENCE), "maskGenAlgorithm");
    const id = readOid(mgf.next(Tag.OID, "algorithm"), "maskGenAlgorithm");
    if (id !== MGF1) throw new AuthError("UNSUPPORTED", `RSASSA-PSS mask generation function ${id} is not supported`);
    mgfHash = readHashAlgorithm(mgf.next(Tag.SEQUENCE, "parameters"), "MGF1 hash");
    mgf.end();
  }
  const saltLength = sl ? readSmallUint(readSingle(sl.content, "saltLength"), "RSASSA-PSS saltLength") : 20;
  if (tf && readSmallUint(readSingle(tf.content, "trailerField"), "RSASSA-PSS trailerField") !== 1) {
    throw new AuthError("UNSUPPORTED", "RSASSA-PSS trailerField other than 1");
  }
  if (hash === "sha1") throw new AuthError("UNSUPPORTED", "RSASSA-PSS with SHA-1 is not supported");
  // node:crypto (OpenSSL's default) uses MGF1 with the signature hash; RFC 7427 §A.4 uses that too.
  if (mgfHash !== hash) throw new AuthError("UNSUPPORTED", `RSASSA-PSS with ${hash} and MGF1-${mgfHash} is not supported`);
  return { ...SCHEMES[`RSA_EMSA_PSS_SHA2_${hash.slice(3)}` as "RSA_EMSA_PSS_SHA2_256"], saltLength };
}

/** The signature scheme an RFC 7427 AlgorithmIdentifier names (parameters checked as strongSwan does). */
export function parseAlgorithmIdentifier(der: Buffer): SignatureScheme {
  const s = new DerSeq(readSingle(der, "AlgorithmIdentifier", Tag.SEQUENCE), "AlgorithmIdentifier");
  const id = readOid(s.next(Tag.OID, "algorithm"), "AlgorithmIdentifier");
  const params = s.optionalAny();
  s.end();
  if (id === RSASSA_PSS) return { ...readPssParams(params), algorithmIdentifier: Buffer.from(der) };
  const known = SIGNATURE_OIDS[id];
  if (!known) {
    throw new AuthError("UNSUPPORTED", `signature algorithm ${REFUSED_OIDS[id] ? `${REFUSED_OIDS[id]} (${id})` : id} is not supported`);
  }
  // RFC 7427 and RFC 8410 want them absent for ECDSA and Ed25519; strongSwan also accepts NULL.
  if (params && !isNull(params)) throw new AuthError("MALFORMED", `unexpected parameters for ${known.name}`);
  return known;
}

// ------------------------------------------------------------------ AUTH data of method 14

/** RFC 7427 §3: ASN.1 length (1 octet) | AlgorithmIdentifier | signature value. */
export function encodeDigitalSignature(s: SignatureScheme, signature: Uint8Array): Buffer {
  const a = s.algorithmIdentifier;
  if (a.length > 255) throw new AuthError("UNSUPPORTED", `AlgorithmIdentifier of ${a.length} bytes does not fit RFC 7427's length octet`);
  return Buffer.concat([Buffer.from([a.length]), a, signature]);
}

export function decodeDigitalSignature(data: Buffer): { scheme: SignatureScheme; signature: Buffer } {
  if (data.length === 0) throw new AuthError("MALFORMED", "empty RFC 7427 signature AUTH data");
  const len = data[0];
  if (1 + len > data.length) {
    throw new AuthError("MALFORMED", `RFC 7427 AlgorithmIdentifier length ${len} exceeds the ${data.length - 1} bytes of AUTH data`);
  }
  const scheme = parseAlgorithmIdentifier(data.subarray(1, 1 + len));
  const signature = data.subarray(1 + len);
  if (signature.length === 0) throw new AuthError("MALFORMED", "RFC 7427 AUTH data without a signature value");
  return { scheme, signature };
}

// ------------------------------------------------------------------ keys and node:crypto

function keyKind(key: KeyObject): KeyKind {
  switch (key.asymmetricKeyType) {
    case "ec": return "ecdsa";
    case "rsa": case "rsa-pss": return "rsa";
    case "ed25519": return "ed25519";
    default: throw new AuthError("UNSUPPORTED", `${describeKey(key)} cannot be used for IKE signature authentication`);
  }
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };
const keyBits = (key: KeyObject): number =>
  key.asymmetricKeyType === "ec" ? CURVE_BITS[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? 0 : key.asymmetricKeyDetails?.modulusLength ?? 0;

type NodeKey = KeyObject | { key: KeyObject; dsaEncoding?: "der" | "ieee-p1363"; padding?: number; saltLength?: number };

function nodeKey(key: KeyObject, s: SignatureScheme): NodeKey {
  if (s.key === "ecdsa") return { key, dsaEncoding: "der" };
  if (s.key === "rsa" && s.saltLength !== undefined) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: s.saltLength };
  if (s.key === "rsa") return { key, padding: constants.RSA_PKCS1_PADDING };
  return key;
}

function nodeVerify(digest: string | null, octets: Uint8Array, key: NodeKey, signature: Uint8Array): boolean {
  try {
    return verify(digest, octets, key, signature);
  } catch {
    return false; // malformed signature encodings end up here: they do not verify
  }
}

// ------------------------------------------------------------------ scheme selection (RFC 7427 §4)

/** strongSwan's signature_schemes_for_key() table (public_key.c scheme_map[]): the hash grows with the
 *  key; maxBits 0 = any size. */
const SCHEME_MAP: ReadonlyArray<{ kind: KeyKind; maxBits: number; scheme: SignatureScheme }> = [
  { kind: "rsa", maxBits: 3072, scheme: SCHEMES.RSA_EMSA_PSS_SHA2_256 },
  { kind: "rsa", maxBits: 7680, scheme: SCHEMES.RSA_EMSA_PSS_SHA2_384 },
  { kind: "rsa", maxBits: 0, scheme: SCHEMES.RSA_EMSA_PSS_SHA2_512 },
  { kind: "rsa", maxBits: 3072, scheme: SCHEMES.RSA_EMSA_PKCS1_SHA2_256 },
  { kind: "rsa", maxBits: 7680, scheme: SCHEMES.RSA_EMSA_PKCS1_SHA2_384 },
  { kind: "rsa", maxBits: 0, scheme: SCHEMES.RSA_EMSA_PKCS1_SHA2_512 },
  { kind: "ecdsa", maxBits: 256, scheme: SCHEMES.ECDSA_WITH_SHA256_DER },
  { kind: "ecdsa", maxBits: 384, scheme: SCHEMES.ECDSA_WITH_SHA384_DER },
  { kind: "ecdsa", maxBits: 0, scheme: SCHEMES.ECDSA_WITH_SHA512_DER },
  { kind: "ed25519", maxBits: 0, scheme: SCHEMES.ED25519 },
];

/**
 * The RFC 7427 schemes for `key` in order of preference that use a hash the peer announced. RSA keys
 * sign with PSS unless `rsaPadding` is "pkcs1" (strongSwan's default unless rsa_pss=yes); RSA-PSS keys
 * always do.
 */
export function selectSchemes(key: KeyObject, peerHashes: readonly number[], rsaPadding: "pss" | "pkcs1" = "pss"): SignatureScheme[] {
  const kind = keyKind(key), bits = keyBits(key);
  const pss = rsaPadding === "pss" || key.asymmetricKeyType === "rsa-pss";
  return SCHEME_MAP.filter((m) => m.kind === kind && (m.maxBits === 0 || bits <= m.maxBits)
    && (kind !== "rsa" || (m.scheme.saltLength !== undefined) === pss) && peerHashes.includes(m.scheme.hash)).map((m) => m.scheme);
}

/** Classic (pre-RFC 7427) signature methods: RSA with SHA-1 (RFC 7296 §3.8) and RFC 4754 ECDSA (raw r|s). */
const CLASSIC: Record<number, { name: string; key: KeyKind; digest: string; curve?: string }> = {
  [AuthMethod.RSA_SIG]: { name: "RSA signature", key: "rsa", digest: "sha1" },
  [AuthMethod.ECDSA_SHA256_P256]: { name: "ECDSA-256 signature", key: "ecdsa", digest: "sha256", curve: "prime256v1" },
  [AuthMethod.ECDSA_SHA384_P384]: { name: "ECDSA-384 signature", key: "ecdsa", digest: "sha384", curve: "secp384r1" },
  [AuthMethod.ECDSA_SHA512_P521]: { name: "ECDSA-521 signature", key: "ecdsa", digest: "sha512", curve: "secp521r1" },
};

function classicKey(key: KeyObject, c: (typeof CLASSIC)[number]): NodeKey {
  return c.key === "ecdsa" ? { key, dsaEncoding: "ieee-p1363" } : { key, padding: constants.RSA_PKCS1_PADDING };
}

export interface AuthSignature {
  method: number;
  data: Buffer;
  /** What was used, for the log ("ECDSA_WITH_SHA384_DER", "RSA_EMSA_PSS_SHA2_256_SALT_32", "ECDSA-256 signature"). */
  scheme: string;
}

/**
 * Sign our AUTH octets. `peerHashes` is the peer's SIGNATURE_HASH_ALGORITHMS list, undefined if it sent
 * none: then, as strongSwan's sign_classic(), RSA signs with method 1 and ECDSA with 9/10/11 by curve.
 */
export function createAuth(key: KeyObject, peerHashes: readonly number[] | undefined, octets: Uint8Array,
                           opts: { rsaPadding?: "pss" | "pkcs1" } = {}): AuthSignature {
  if (peerHashes === undefined) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const entry = Object.entries(CLASSIC).find(([, c]) => c.key === keyKind(key) && c.curve === curve);
    if (!entry || key.asymmetricKeyType === "rsa-pss") {
      throw new AuthError("UNSUPPORTED", `${describeKey(key)} keys need RFC 7427 signature authentication, ` +
        "which the peer did not announce (no SIGNATURE_HASH_ALGORITHMS notify)");
    }
    const [method, c] = entry;
    return { method: Number(method), data: sign(c.digest, octets, classicKey(key, c)), scheme: c.name };
  }
  const [s] = selectSchemes(key, peerHashes, opts.rsaPadding);
  if (!s) {
    throw new AuthError("NO_COMMON_HASH", `no common hash algorithm found to create signature with ${describeKey(key)} key ` +
      `(peer announced ${peerHashes.length ? peerHashes.map(hashName).join(", ") : "none"})`);
  }
  const signature = sign(s.digest, octets, nodeKey(key, s));
  return { method: AuthMethod.DIGITAL_SIGNATURE, data: encodeDigitalSignature(s, signature), scheme: describeScheme(s) };
}

/**
 * Verify a peer's AUTH payload with the public key of its certificate. Returns whether the signature
 * verifies and the scheme it claims; throws an AuthError when the payload is malformed, the scheme
 * unsupported, or the scheme does not fit the key (e.g. ECDSA claimed, RSA key certified).
 */
export function verifyAuth(method: number, data: Buffer, publicKey: KeyObject, octets: Uint8Array): { ok: boolean; scheme: string } {
  const kind = keyKind(publicKey);
  if (method === AuthMethod.DIGITAL_SIGNATURE) {
    const { scheme: s, signature } = decodeDigitalSignature(data);
    if (s.key !== kind) {
      throw new AuthError("SIGNATURE", `peer signed with ${describeScheme(s)} but its certificate holds an ${describeKey(publicKey)} key`);
    }
    return { ok: nodeVerify(s.digest, octets, nodeKey(publicKey, s), signature), scheme: describeScheme(s) };
  }
  const c = CLASSIC[method];
  if (!c) throw new AuthError("UNSUPPORTED", `authentication method ${method} is not a signature method we support`);
  if (c.key !== kind || (c.curve !== undefined && c.curve !== publicKey.asymmetricKeyDetails?.namedCurve)) {
    throw new AuthError("SIGNATURE", `peer signed with ${c.name} (method ${method}) but its certificate holds an ${describeKey(publicKey)} key`);
  }
  return { ok: nodeVerify(c.digest, octets, classicKey(publicKey, c), data), scheme: c.name };
}
