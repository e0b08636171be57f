// X.509 certificates for IKEv2: loading (PEM/DER), CERT and CERTREQ payloads (RFC 7296 §3.6, §3.7),
// identity checks against subject and subjectAltNames, and trust-chain verification up to configured
// anchors, following strongSwan (credential_manager.c verify_trust_chain(), x509_cert.c issued_by()
// and has_subject(), constraints_validator.c). node:crypto parses the certificate and verifies its
// signature; the DER walk here extracts what node does not expose (raw names, extensions, pathLen).
import { X509Certificate, createHash, type KeyObject } from "node:crypto";
import { CertEncoding, IdType, PayloadType, type CertPayload, type CertReqPayload } from "../wire/index.js";
import { formatIdentity, type Identity } from "../identity.js";
import { AuthError } from "./errors.js";
import { DerSeq, Tag, children, ctx, expectTag, readBitString, readBoolean, readOid, readSingle, readSmallUint, readTime } from "./der.js";
import { dnEquals, formatDn } from "./dn.js";

export interface Certificate {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
  /** DER Names, and their text form as strongSwan prints them. */
  readonly subject: Buffer;
  readonly issuer: Buffer;
  readonly subjectText: string;
  readonly issuerText: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** basicConstraints cA (strongSwan's X509_CA flag: only CA certificates may issue others). */
  readonly ca: boolean;
  readonly pathLen?: number;
  /** No keyUsage, or one with digitalSignature or nonRepudiation (RFC 4945 §5.1.3.2, strongSwan's X509_IKE_COMPLIANT). */
  readonly ikeCompliant: boolean;
  /** subjectAltNames usable as IKE identities: dNSName, rfc822Name, iPAddress. */
  readonly altNames: Identity[];
  readonly subjectKeyId?: Buffer;
  readonly authorityKeyId?: Buffer;
}

const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  crlDistributionPoints: "2.5.29.31",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
} as const;
/** Extensions understood well enough to accept them when marked critical (RFC 5280 §4.2). */
const KNOWN_CRITICAL = new Set<string>([OID.basicConstraints, OID.keyUsage, OID.subjectAltName, OID.extKeyUsage]);

/** strongSwan's limit on intermediate certificates (MAX_TRUST_PATH_LEN). */
export const MAX_PATH_LEN = 7;

const sha1 = (b: Uint8Array): Buffer => createHash("sha1").update(b).digest();

function parseAltNames(value: Buffer, what: string): Identity[] {
  const out: Identity[] = [];
  for (const gn of children(readSingle(value, what, Tag.SEQUENCE), what)) {
    if (gn.tag === ctx(1, false)) out.push({ type: IdType.ID_RFC822_ADDR, data: Buffer.from(gn.content) });
    else if (gn.tag === ctx(2, false)) out.push({ type: IdType.ID_FQDN, data: Buffer.from(gn.content) });
    else if (gn.tag === ctx(7, false)) {
      // 8 or 32 bytes are address+mask pairs (name constraints), not addresses
      if (gn.content.length === 4) out.push({ type: IdType.ID_IPV4_ADDR, data: Buffer.from(gn.content) });
      else if (gn.content.length === 16) out.push({ type: IdType.ID_IPV6_ADDR, data: Buffer.from(gn.content) });
    }
  }
  return out;
}

/** Parse a DER certificate; throws AuthError("MALFORMED") if node or the stricter walk below rejects it. */
export function parseCertificate(der: Buffer): Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (e) {
    throw new AuthError("MALFORMED", `not an X.509 certificate: ${(e as Error).message}`);
  }
  const cert = new DerSeq(readSingle(der, "certificate", Tag.SEQUENCE), "certificate");
  const tbsNode = cert.next(Tag.SEQUENCE, "tbsCertificate");
  const outerAlg = cert.next(Tag.SEQUENCE, "signatureAlgorithm");
  cert.next(Tag.BIT_STRING, "signatureValue");
  cert.end();
  const tbs = new DerSeq(tbsNode, "tbsCertificate");
  const version = tbs.optional(ctx(0, true));
  const v = version ? readSmallUint(readSingle(version.content, "version", Tag.INTEGER), "version") : 0;
  if (v > 2) throw new AuthError("MALFORMED", `certificate version ${v + 1} is unknown`);
  tbs.next(Tag.INTEGER, "serialNumber");
  // X509_verify() compares these too; checked here so the error says what is wrong.
  if (!tbs.next(Tag.SEQUENCE, "signature").raw.equals(outerAlg.raw)) {
    throw new AuthError("MALFORMED", "certificate signature algorithm differs from the one in tbsCertificate");
  }
  const issuer = Buffer.from(tbs.next(Tag.SEQUENCE, "issuer").raw);
  const validity = new DerSeq(tbs.next(Tag.SEQUENCE, "validity"), "validity");
  const notBefore = readTime(validity.any("notBefore"), "notBefore");
  const notAfter = readTime(validity.any("notAfter"), "notAfter");
  validity.end();
  const subject = Buffer.from(tbs.next(Tag.SEQUENCE, "subject").raw);
  const spki = Buffer.from(tbs.next(Tag.SEQUENCE, "subjectPublicKeyInfo").raw);
  tbs.optional(ctx(1, false));
  tbs.optional(ctx(2, false));
  const extsNode = tbs.optional(ctx(3, true));
  tbs.end();

  let ca = false, pathLen: number | undefined, ikeCompliant = true, altNames: Identity[] = [];
  let subjectKeyId: Buffer | undefined, authorityKeyId: Buffer | undefined;
  const seen = new Set<string>();
  if (extsNode) {
    if (v !== 2) throw new AuthError("MALFORMED", "extensions in a certificate that is not version 3");
    for (const ext of children(readSingle(extsNode.content, "extensions", Tag.SEQUENCE), "extensions")) {
      const e = new DerSeq(expectTag(ext, Tag.SEQUENCE, "extension"), "extension");
      const id = readOid(e.next(Tag.OID, "extnID"), "extnID");
      const critNode = e.optional(Tag.BOOLEAN);
      const critical = critNode ? readBoolean(critNode, "critical") : false;
      const value = e.next(Tag.OCTET_STRING, "extnValue").content;
      e.end();
      if (seen.has(id)) throw new AuthError("MALFORMED", `extension ${id} appears twice`);
      seen.add(id);
      const what = `extension ${id}`;
      switch (id) {
        case OID.basicConstraints: {
          const bc = new DerSeq(readSingle(value, what, Tag.SEQUENCE), what);
          const caNode = bc.optional(Tag.BOOLEAN);
          ca = caNode ? readBoolean(caNode, "cA") : false;
          const pl = bc.optional(Tag.INTEGER);
          if (pl && ca) pathLen = readSmallUint(pl, "pathLenConstraint");
          bc.end();
          break;
        }
        case OID.keyUsage: {
          const { bytes } = readBitString(readSingle(value, what), what);
          ikeCompliant = bytes.length > 0 && (bytes[0] & 0xc0) !== 0; // bit 0 digitalSignature, bit 1 nonRepudiation
          break;
        }
        case OID.subjectAltName: altNames = parseAltNames(value, what); break;
        case OID.subjectKeyId: subjectKeyId = Buffer.from(readSingle(value, what, Tag.OCTET_STRING).content); break;
        case OID.authorityKeyId: {
          const keyId = new DerSeq(readSingle(value, what, Tag.SEQUENCE), what).optional(ctx(0, false));
          if (keyId) authorityKeyId = Buffer.from(keyId.content);
          break;
        }
        default:
          if (critical && !KNOWN_CRITICAL.has(id)) {
            throw new AuthError("UNSUPPORTED", `certificate '${formatDn(subject)}' has critical extension ${id}, which we do not support`);
          }
      }
    }
  }
  let publicKey: KeyObject;
  try {
    publicKey = x509.publicKey;
  } catch (e) {
    throw new AuthError("UNSUPPORTED", `public key of certificate '${formatDn(subject)}' is not supported: ${(e as Error).message}`);
  }
  return {
    der: Buffer.from(der), x509, publicKey, spki, subject, issuer,
    subjectText: formatDn(subject), issuerText: formatDn(issuer), notBefore, notAfter,
    ca, pathLen, ikeCompliant, altNames, subjectKeyId, authorityKeyId,
  };
}

/** Every certificate in a file: PEM (one or more "CERTIFICATE" blocks) or a single DER certificate. */
export function loadCertificates(data: Buffer | string): Certificate[] {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  if (!buf.includes("-----BEGIN")) return [parseCertificate(buf)];
  const blocks = [...buf.toString("latin1").matchAll(/-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new AuthError("MALFORMED", "no 'BEGIN CERTIFICATE' block in PEM data");
  return blocks.map((m) => {
    const b64 = m[1].replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new AuthError("MALFORMED", "invalid base64 in PEM certificate");
    return parseCertificate(Buffer.from(b64, "base64"));
  });
}

// ------------------------------------------------------------------ payloads

/** CERT payload, "X.509 Certificate - Signature" (4): the DER certificate. */
export function certPayload(cert: Certificate): CertPayload {
  return { type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: cert.der };
}

/** RFC 7296 §3.7: the SHA-1 hash of a CA's SubjectPublicKeyInfo, as listed in CERTREQ payloads. */
export function caKeyId(cert: Certificate): Buffer {
  return sha1(cert.spki);
}

/** CERTREQ naming our trust anchors. */
export function certReqPayload(anchors: readonly Certificate[]): CertReqPayload {
  return { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_SIGNATURE, data: Buffer.concat(anchors.map(caKeyId)) };
}

/** The X.509 certificates among received CERT payloads, in order (the first holds the AUTH key, RFC 7296 §3.6). */
export function certsFromPayloads(payloads: readonly CertPayload[]): { certs: Certificate[]; skipped: number[] } {
  const certs: Certificate[] = [], skipped: number[] = [];
  for (const p of payloads) {
    if (p.encoding !== CertEncoding.X509_SIGNATURE) { skipped.push(p.encoding); continue; }
    try {
      certs.push(parseCertificate(p.data));
    } catch (e) {
      throw new AuthError((e as AuthError).code ?? "MALFORMED", `invalid certificate in CERT payload: ${(e as Error).message}`);
    }
  }
  return { certs, skipped };
}

// ------------------------------------------------------------------ identities

/** For messages: DNs in strongSwan's text form, other identities as identity.ts prints them. */
export function describeIdentity(id: Identity): string {
  if (id.type !== IdType.ID_DER_ASN1_DN) return formatIdentity(id);
  try { return formatDn(id.data); } catch { return `(invalid DN) ${id.data.toString("hex")}`; }
}

function describeAltName(id: Identity): string {
  const kind = id.type === IdType.ID_FQDN ? "DNS" : id.type === IdType.ID_RFC822_ADDR ? "email" : "IP";
  return `${kind}:${formatIdentity(id)}`;
}

/** strongSwan's has_subject(): DN = subject; FQDN, RFC 822 (case-insensitive) and IP = a subjectAltName;
 *  KEY_ID = subjectKeyIdentifier or SHA-1 of the public key (info). */
export function certHasIdentity(cert: Certificate, id: Identity): boolean {
  switch (id.type) {
    case IdType.ID_DER_ASN1_DN:
      try { return dnEquals(cert.subject, id.data); } catch { return false; }
    case IdType.ID_FQDN: case IdType.ID_RFC822_ADDR: {
      const want = id.data.toString("latin1").toLowerCase();
      return cert.altNames.some((a) => a.type === id.type && a.data.toString("latin1").toLowerCase() === want);
    }
    case IdType.ID_IPV4_ADDR: case IdType.ID_IPV6_ADDR:
      return cert.altNames.some((a) => a.type === id.type && a.data.equals(id.data));
    case IdType.ID_KEY_ID: {
      const key = new DerSeq(readSingle(cert.spki, "subjectPublicKeyInfo", Tag.SEQUENCE), "subjectPublicKeyInfo");
      key.next(Tag.SEQUENCE, "algorithm");
      const bits = key.next(Tag.BIT_STRING, "subjectPublicKey").content.subarray(1);
      return [cert.subjectKeyId, sha1(cert.spki), sha1(bits)].some((k) => k?.equals(id.data));
    }
    default:
      return false;
  }
}

export function requireIdentity(cert: Certificate, id: Identity): void {
  if (certHasIdentity(cert, id)) return;
  const alts = cert.altNames.length ? cert.altNames.map(describeAltName).join(", ") : "none";
  throw new AuthError("IDENTITY", `identity '${describeIdentity(id)}' not in certificate subject or subjectAltNames ` +
    `(subject '${cert.subjectText}', subjectAltNames: ${alts})`);
}

// ------------------------------------------------------------------ trust

const isoTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export function checkValidity(cert: Certificate, now: Date): void {
  if (now < cert.notBefore) {
    throw new AuthError("NOT_YET_VALID", `certificate for '${cert.subjectText}' is not valid before ${isoTime(cert.notBefore)}`);
  }
  if (now > cert.notAfter) {
    throw new AuthError("EXPIRED", `certificate for '${cert.subjectText}' expired on ${isoTime(cert.notAfter)}`);
  }
}

/** x509_cert.c issued_by(), without the signature: key identifiers when both exist, else names. */
function namesIssuer(cert: Certificate, issuer: Certificate): boolean {
  if (cert.authorityKeyId && issuer.subjectKeyId) return cert.authorityKeyId.equals(issuer.subjectKeyId);
  try { return dnEquals(cert.issuer, issuer.subject); } catch { return false; }
}

function signedBy(cert: Certificate, issuer: Certificate): boolean {
  try { return cert.x509.verify(issuer.publicKey); } catch { return false; }
}

function isSelfSigned(cert: Certificate): boolean {
  return namesIssuer(cert, cert) && signedBy(cert, cert);
}

/**
 * The path from `endEntity` through `intermediates` (typically from further CERT payloads) to one of
 * `anchors`, each certificate valid at `now`, each issuer a CA whose signature verifies and whose
 * pathLenConstraint holds. An anchor identical to `endEntity` trusts it directly (a pinned peer
 * certificate). Like strongSwan, each step takes the first issuer that passes (anchors first) and never
 * backtracks, so a peer's pile of same-named certificates costs at most one verification each per step.
 * Returns [endEntity, ..., anchor]; throws an AuthError saying what failed.
 */
export function verifyChain(endEntity: Certificate, intermediates: readonly Certificate[], anchors: readonly Certificate[],
                            now: Date): Certificate[] {
  checkValidity(endEntity, now);
  if (anchors.some((a) => a.der.equals(endEntity.der))) return [endEntity];
  const untrusted = (why: string) => new AuthError("UNTRUSTED", `no trusted path to a CA for '${endEntity.subjectText}': ${why}`);
  const path = [endEntity];
  for (;;) {
    const current = path[path.length - 1];
    if (path.length > MAX_PATH_LEN + 1) throw untrusted(`maximum path length of ${MAX_PATH_LEN} exceeded`);
    const fresh = (c: Certificate) => !path.some((p) => p.der.equals(c.der)) && namesIssuer(current, c);
    const candidates = [...anchors.filter(fresh).map((c) => ({ c, anchor: true })),
      ...intermediates.filter(fresh).map((c) => ({ c, anchor: false }))];
    if (candidates.length === 0) {
      if (isSelfSigned(current)) throw untrusted(`self-signed certificate '${current.subjectText}' is not trusted`);
      throw untrusted(`no issuer certificate found for '${current.subjectText}' (issuer '${current.issuerText}')`);
    }
    const below = path.length - 1; // intermediate CAs between a candidate and the end entity
    let firstError: unknown;
    const next = candidates.find(({ c }) => {
      try {
        if (!c.ca) throw new AuthError("CONSTRAINT", `issuer '${c.subjectText}' of '${current.subjectText}' is not a CA (basicConstraints)`);
        if (!signedBy(current, c)) {
          throw new AuthError("SIGNATURE", `signature of '${current.subjectText}' by '${c.subjectText}' does not verify`);
        }
        checkValidity(c, now);
        if (c.pathLen !== undefined && below > c.pathLen) {
          throw new AuthError("CONSTRAINT", `path length of ${below} below '${c.subjectText}' violates its pathLenConstraint of ${c.pathLen}`);
        }
        return true;
      } catch (e) {
        firstError ??= e;
        return false;
      }
    });
    if (!next) throw firstError;
    path.push(next.c);
    if (next.anchor) return path;
  }
}
