// Private keys for signature authentication: PEM (PKCS#8, encrypted PKCS#8, SEC1 "EC PRIVATE KEY",
// PKCS#1 "RSA PRIVATE KEY") or DER in any of those, parsed by node:crypto. Only key types we can sign
// IKE AUTH payloads with are accepted, so a wrong file fails when loaded, not at the first IKE_AUTH.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { AuthError } from "./errors.js";

const CURVES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

/** "ECDSA P-384", "RSA 3072", "Ed25519": for logs and errors. */
export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "ec": return `ECDSA ${CURVES[d.namedCurve ?? ""] ?? d.namedCurve}`;
    case "rsa": case "rsa-pss": return `RSA ${d.modulusLength}`;
    case "ed25519": return "Ed25519";
    default: return `${key.asymmetricKeyType} key`;
  }
}

/** Throws unless `key` is one we can sign or verify IKE AUTH payloads with. */
export function checkKeyType(key: KeyObject): KeyObject {
  const t = key.asymmetricKeyType, curve = key.asymmetricKeyDetails?.namedCurve;
  const ok = t === "rsa" || t === "rsa-pss" || t === "ed25519" || (t === "ec" && curve !== undefined && curve in CURVES);
  if (!ok) throw new AuthError("UNSUPPORTED", `${t === "ec" ? `ECDSA key on curve ${curve}` : `${t} key`} is not supported for IKE authentication (use ECDSA P-256/P-384/P-521, RSA or Ed25519)`);
  return key;
}

const DER_TYPES = [
  { format: "der", type: "pkcs8" },
  { format: "der", type: "sec1" },
  { format: "der", type: "pkcs1" },
] as const;

/** A private key from a PEM or DER file's content; `passphrase` for encrypted PKCS#8 or legacy PEM. */
export function loadPrivateKey(data: Buffer | string, passphrase?: string): KeyObject {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  if (buf.includes("-----BEGIN")) {
    if (buf.includes("-----BEGIN ENCRYPTED PRIVATE KEY") || buf.includes("Proc-Type: 4,ENCRYPTED")) {
      if (passphrase === undefined) throw new AuthError("NO_KEY", "the private key is encrypted and no passphrase was given");
    }
    try {
      return checkKeyType(createPrivateKey({ key: buf, format: "pem", passphrase }));
    } catch (e) {
      if (e instanceof AuthError) throw e;
      throw new AuthError("MALFORMED", `cannot load PEM private key: ${(e as Error).message}`);
    }
  }
  for (const t of DER_TYPES) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: buf, ...t });
    } catch {
      continue;
    }
    return checkKeyType(key);
  }
  // Encrypted PKCS#8 in DER needs the passphrase; try it last so a plain key never needs one.
  if (passphrase !== undefined) {
    try {
      return checkKeyType(createPrivateKey({ key: buf, format: "der", type: "pkcs8", passphrase }));
    } catch (e) {
      if (e instanceof AuthError) throw e;
    }
  }
  throw new AuthError("MALFORMED", "not a private key in PEM or DER (PKCS#8, SEC1 or PKCS#1)");
}

/** The DER SubjectPublicKeyInfo of a private or public key, to match keys with certificates. */
export function spkiOf(key: KeyObject): Buffer {
  return (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "der" });
}
