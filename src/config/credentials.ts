// swanctl's credential directories next to swanctl.conf, read as `swanctl --load-all` reads them (swanctl.h,
// load_creds.c): every regular file in x509/ (certificates), x509ca/ (CA certificates), and private/, rsa/,
// ecdsa/, pkcs8/ (private keys; rsa/ and ecdsa/ of that type only). An encrypted key is decrypted with the
// `secret` of a secrets section named after its directory (private<suffix>, rsa<suffix>, ...) whose `file`
// names it relative to that directory; swanctl would prompt for it otherwise, we report it. Directories of
// credentials wasm-ipsec cannot use (CRLs, OCSP, attribute certificates, raw public keys, PKCS#12) must be
// empty: a CRL ignored would accept revoked certificates.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { KeyObject } from "node:crypto";
import { loadCertificates, type Certificate } from "../ike/auth/certs.js";
import { loadPrivateKey, describeKey } from "../ike/auth/keys.js";
import { AuthError } from "../ike/auth/errors.js";

export const KEY_DIRS = ["private", "rsa", "ecdsa", "pkcs8"] as const;
export type KeyDir = (typeof KEY_DIRS)[number];

const UNSUPPORTED_DIRS: Record<string, string> = {
  x509crl: "certificate revocation lists (CRL checking)",
  x509ocsp: "OCSP signer certificates (OCSP)",
  x509aa: "attribute authority certificates",
  x509ac: "attribute certificates",
  pubkey: "raw public keys",
  pkcs12: "PKCS#12 containers",
};

export interface Credentials {
  /** x509/: end-entity certificates (ours, or peers' pinned). */
  certs: Certificate[];
  /** x509ca/: CA certificates, the trust anchors. */
  caCerts: Certificate[];
  privateKeys: KeyObject[];
}

/** Reports a problem with a whole file (no line: it is not settings text). */
export type FileIssue = (file: string, message: string) => void;

/** The passphrases configured for `rel` in directory `dir` (secrets.<dir><suffix> { file = rel, secret = ... }). */
export type Passphrases = (dir: KeyDir, rel: string) => string[];

/** Regular files of `dir` (symbolic links followed), sorted; none if it does not exist. */
function files(dir: string): { rel: string; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.sort().map((rel) => ({ rel, path: join(dir, rel) })).filter((f) => {
    try { return statSync(f.path).isFile(); } catch { return false; }
  });
}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The one certificate of a file (PEM or DER): swanctl loads one per file, so a bundle is an error. */
export function certificateFile(data: Buffer): Certificate {
  const certs = loadCertificates(data);
  if (certs.length !== 1) throw new AuthError("MALFORMED", `holds ${certs.length} certificates; swanctl loads one per file (split the bundle)`);
  return certs[0];
}

/** A private key file of directory `dir`, decrypted with one of `passphrases` if it needs one. */
export function keyFile(dir: KeyDir, data: Buffer, passphrases: string[]): KeyObject {
  let key: KeyObject | undefined, first: unknown;
  for (const p of [undefined, ...passphrases]) {
    try {
      key = loadPrivateKey(data, p);
      break;
    } catch (e) {
      first ??= e;
    }
  }
  if (!key) {
    const encrypted = data.includes("ENCRYPTED");
    if (encrypted && passphrases.length) throw new AuthError("NO_KEY", "the configured secret does not decrypt it");
    if (encrypted || (first instanceof AuthError && first.code === "NO_KEY")) {
      throw new AuthError("NO_KEY", `the key is encrypted: give its passphrase in secrets { ${dir}-<name> { file = <this file's name>; secret = ... } }`);
    }
    throw first;
  }
  const type = key.asymmetricKeyType;
  if (dir === "rsa" && type !== "rsa" && type !== "rsa-pss") throw new AuthError("UNSUPPORTED", `${describeKey(key)} key in rsa/ (RSA keys only; other types go in private/)`);
  if (dir === "ecdsa" && type !== "ec") throw new AuthError("UNSUPPORTED", `${describeKey(key)} key in ecdsa/ (ECDSA keys only; other types go in private/)`);
  return key;
}

/** Everything in the credential directories under `base`; problems go to `issue`, with the file. */
export function loadCredentials(base: string, passphrases: Passphrases, issue: FileIssue): Credentials {
  const out: Credentials = { certs: [], caCerts: [], privateKeys: [] };
  for (const [dir, into] of [["x509", out.certs], ["x509ca", out.caCerts]] as const) {
    for (const f of files(join(base, dir))) {
      try {
        into.push(certificateFile(readFileSync(f.path)));
      } catch (e) {
        issue(f.path, `cannot load certificate: ${reason(e)}`);
      }
    }
  }
  for (const dir of KEY_DIRS) {
    for (const f of files(join(base, dir))) {
      try {
        out.privateKeys.push(keyFile(dir, readFileSync(f.path), passphrases(dir, f.rel)));
      } catch (e) {
        issue(f.path, `cannot load private key: ${reason(e)}`);
      }
    }
  }
  for (const [dir, what] of Object.entries(UNSUPPORTED_DIRS)) {
    for (const f of files(join(base, dir))) issue(f.path, `not supported by wasm-ipsec: ${what} (${dir}/ must be empty)`);
  }
  return out;
}
