// Certificate (public key) authentication for IKE_AUTH, one call per direction, in the order of
// strongSwan's pubkey_authenticator.c: our side picks identity, key and scheme and builds CERT + AUTH;
// the peer's side checks the identity against its certificate, the certificate's path to a trust
// anchor, RFC 4945 keyUsage, and finally the AUTH signature over the same octets PSK uses.
import { type KeyObject } from "node:crypto";
import { IdType, PayloadType, type AuthPayload, type CertPayload } from "../wire/index.js";
import { parseIdentity, type Identity } from "../identity.js";
import { AuthError } from "./errors.js";
import { parseDn, dnEquals } from "./dn.js";
import { spkiOf } from "./keys.js";
import { certPayload, certsFromPayloads, describeIdentity, requireIdentity, verifyChain, type Certificate } from "./certs.js";
import { createAuth, verifyAuth } from "./signature.js";

export interface LocalCredentials {
  /** Our end-entity certificate, and intermediate CA certificates to send with it. */
  cert: Certificate;
  intermediates: Certificate[];
  key: KeyObject;
  /** The IDi/IDr we send: the configured identity, or the certificate's subject DN. */
  id: Identity;
}

/**
 * Our credentials from configuration: `certs` = end entity first, then intermediates; the private key
 * is whichever of `keys` holds the certificate's public key; `configuredId` ("%any" or empty = the
 * subject DN) must be the subject or a subjectAltName of the certificate.
 */
export function localCredentials(certs: readonly Certificate[], keys: readonly KeyObject[], configuredId?: string): LocalCredentials {
  const [cert, ...intermediates] = certs;
  if (!cert) throw new AuthError("NO_KEY", "no certificate configured for public key authentication");
  const key = keys.find((k) => spkiOf(k).equals(cert.spki));
  if (!key) throw new AuthError("NO_KEY", `no private key found for '${cert.subjectText}'`);
  let id: Identity;
  if (!configuredId || configuredId === "%any") {
    id = { type: IdType.ID_DER_ASN1_DN, data: cert.subject };
  } else if (configuredId.includes("=")) {
    const dn = parseDn(configuredId);
    if (!dnEquals(dn, cert.subject)) {
      throw new AuthError("IDENTITY", `identity '${configuredId}' is not the subject of certificate '${cert.subjectText}'`);
    }
    id = { type: IdType.ID_DER_ASN1_DN, data: cert.subject }; // the certificate's encoding, which peers compare
  } else {
    id = parseIdentity(configuredId);
    requireIdentity(cert, id);
  }
  return { cert, intermediates, key, id };
}

/** CERT payloads for our certificate and its intermediates (RFC 7296 §3.6: the signing one first). */
export function certPayloads(cred: LocalCredentials): CertPayload[] {
  return [cred.cert, ...cred.intermediates].map(certPayload);
}

/** Our AUTH payload over `octets` (psk.ts signedOctets() with our message, the peer's nonce, our ID). */
export function buildPubkeyAuth(cred: LocalCredentials, peerHashes: readonly number[] | undefined, octets: Uint8Array,
                                rsaPadding?: "pss" | "pkcs1"): { payload: AuthPayload; scheme: string } {
  const a = createAuth(cred.key, peerHashes, octets, { rsaPadding });
  return { payload: { type: PayloadType.AUTH, method: a.method, data: a.data }, scheme: a.scheme };
}

export interface PeerVerification {
  cert: Certificate;
  /** [end entity, intermediates..., anchor] */
  chain: Certificate[];
  scheme: string;
}

/**
 * Authenticate the peer: `certs` are its CERT payloads (the first holds the AUTH key, the rest may be
 * intermediates), `id` its IDi/IDr, `octets` psk.ts signedOctets() over its message, our nonce and its
 * ID, `now` wall-clock time for validity periods. Throws an AuthError saying what failed.
 */
export function verifyPubkeyAuth(o: { auth: AuthPayload; certs: readonly CertPayload[]; id: Identity; anchors: readonly Certificate[];
                                      octets: Uint8Array; now: Date }): PeerVerification {
  const { certs: [cert, ...more] } = certsFromPayloads(o.certs);
  if (!cert) throw new AuthError("UNTRUSTED", `no certificate received for '${describeIdentity(o.id)}' (no X.509 CERT payload)`);
  requireIdentity(cert, o.id);
  const chain = verifyChain(cert, more, o.anchors, o.now);
  if (!cert.ikeCompliant) {
    throw new AuthError("CONSTRAINT", `certificate '${cert.subjectText}' has neither the digitalSignature nor the nonRepudiation keyUsage flag`);
  }
  const { ok, scheme } = verifyAuth(o.auth.method, o.auth.data, cert.publicKey, o.octets);
  if (!ok) throw new AuthError("SIGNATURE", `signature by '${cert.subjectText}' (${scheme}) does not verify`);
  return { cert, chain, scheme };
}
