// Certificates, keys and the peer authentication flow (src/ike/auth/certs.ts, keys.ts, pubkey.ts) on the
// openssl-made PKI of test/fixtures/pki. Oracles: node's X509Certificate and KeyObject views of the same
// files, openssl's SHA-1 SPKI hashes (expected.json), and node:crypto verify for AUTH signatures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash, createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import {
  loadCertificates, parseCertificate, certPayload, certReqPayload, caKeyId, certsFromPayloads, certHasIdentity, requireIdentity,
  verifyChain, type Certificate,
} from "../../src/ike/auth/certs.js";
import { loadPrivateKey, spkiOf, describeKey } from "../../src/ike/auth/keys.js";
import { localCredentials, certPayloads, buildPubkeyAuth, verifyPubkeyAuth } from "../../src/ike/auth/pubkey.js";
import { parseDn } from "../../src/ike/auth/dn.js";
import { AuthError } from "../../src/ike/auth/errors.js";
import { signedOctets } from "../../src/ike/auth/psk.js";
import { PRF_HMAC_SHA2_256 } from "../../src/ike/crypto/prf.js";
import { parseIdentity } from "../../src/ike/identity.js";
import { CertEncoding, HashAlgorithm, IdType, PayloadType, type CertPayload } from "../../src/ike/wire/index.js";
import { NOW, cert, expected, fixture } from "./ike-auth-cert-fixtures.js";

const [root, im, moon, sun, carol, dave, eve, other, stranger, fake, imposter, notca, victim, im2, deep, noku, lonely] =
  ["root", "im", "moon", "sun", "carol", "dave", "eve", "other", "stranger", "fake", "imposter", "notca", "victim", "im2", "deep",
    "noku", "lonely"].map(cert);
const at = (iso: string) => new Date(iso);
const subjects = (chain: Certificate[]) => chain.map((c) => c.subjectText.replace(/^.*CN=/, ""));

function assertAuthError(fn: () => unknown, code: string, message: RegExp | string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AuthError, `not an AuthError: ${e}`);
    assert.equal(e.code, code, e.message);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** node's subjectAltName text for our parsed entries ("DNS:x", "IP Address:1.2.3.4", "email:x"). */
function nodeAltName(a: { type: number; data: Buffer }): string {
  if (a.type === IdType.ID_FQDN) return `DNS:${a.data}`;
  if (a.type === IdType.ID_RFC822_ADDR) return `email:${a.data}`;
  if (a.type === IdType.ID_IPV4_ADDR) return `IP Address:${[...a.data].join(".")}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(a.data.readUInt16BE(i).toString(16).toUpperCase());
  return `IP Address:${groups.join(":")}`;
}

test("certificate fields agree with node's X509Certificate for every fixture", () => {
  for (const c of [root, im, moon, sun, carol, dave, eve, other, stranger, fake, imposter, notca, victim, im2, deep, noku, lonely]) {
    assert.equal(c.notBefore.getTime(), Date.parse(c.x509.validFrom), c.subjectText);
    assert.equal(c.notAfter.getTime(), Date.parse(c.x509.validTo));
    assert.equal(c.ca, c.x509.ca);
    assert.deepEqual(c.der, c.x509.raw);
    assert.deepEqual(c.spki, c.x509.publicKey.export({ type: "spki", format: "der" }));
    assert.equal(c.altNames.map(nodeAltName).join(", "), c.x509.subjectAltName ?? "");
  }
  assert.equal(im.pathLen, 0);
  assert.equal(root.pathLen, undefined);
  assert.equal(moon.notBefore.toISOString(), "2024-06-01T00:00:00.000Z");
  // RFC 4945 keyUsage: digitalSignature (moon), nonRepudiation (carol), none at all (dave) are fine.
  assert.deepEqual([moon, carol, dave, noku].map((c) => c.ikeCompliant), [true, true, true, false]);
  // openssl's subjectKeyIdentifier=hash is RFC 5280 §4.2.1.2 method 1: SHA-1 of the EC point 04|x|y.
  const jwk = moon.publicKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  assert.deepEqual(moon.subjectKeyId, createHash("sha1").update(point).digest());
});

test("loading: PEM bundles and DER; garbage and unknown critical extensions are refused", () => {
  const bundle = loadCertificates(Buffer.concat([fixture("im.crt"), fixture("root.crt")]));
  assert.deepEqual(bundle.map((c) => c.subjectText), [im.subjectText, root.subjectText]);
  assert.equal(loadCertificates(moon.der)[0].subjectText, moon.subjectText);
  assertAuthError(() => loadCertificates(Buffer.from("hello")), "MALFORMED", /not an X.509 certificate/);
  assertAuthError(() => loadCertificates("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "MALFORMED", /no 'BEGIN CERTIFICATE'/);
  assertAuthError(() => cert("crit"), "UNSUPPORTED", /'C=CH, O=strongSwan Test, CN=crit.strongswan.org' has critical extension 1\.3\.6\.1\.4\.1\.36906\.99/);
  // node (d2i_X509) accepts bytes after the certificate; the DER walk does not.
  const trailing = Buffer.concat([moon.der, Buffer.from([0])]);
  assert.ok(new X509Certificate(trailing));
  assertAuthError(() => parseCertificate(trailing), "MALFORMED", "certificate: 1 trailing bytes after DER value");
});

test("private keys in PEM and DER, PKCS#8, SEC1, PKCS#1 and encrypted PKCS#8, each matching its certificate", () => {
  const cases: Array<[string, Certificate, string, string?]> = [
    ["moon.key.pem", moon, "ECDSA P-384"],              // SEC1 "EC PRIVATE KEY"
    ["sun.key.pem", sun, "Ed25519"],                    // PKCS#8
    ["carol.key.pem", carol, "RSA 2048"],               // PKCS#1 "RSA PRIVATE KEY"
    ["carol.key.der", carol, "RSA 2048"],               // PKCS#1 DER
    ["dave.key.der", dave, "ECDSA P-256"],              // PKCS#8 DER
    ["dave.key.enc.pem", dave, "ECDSA P-256", "dave's secret"],
    ["eve.key.pem", eve, "ECDSA P-521"],
  ];
  for (const [file, c, desc, pass] of cases) {
    const k = loadPrivateKey(fixture(file), pass);
    assert.equal(describeKey(k), desc);
    assert.deepEqual(spkiOf(k), c.spki, file);
  }
  assertAuthError(() => loadPrivateKey(fixture("dave.key.enc.pem")), "NO_KEY", /encrypted and no passphrase/);
  assertAuthError(() => loadPrivateKey(fixture("dave.key.enc.pem"), "wrong"), "MALFORMED", /cannot load PEM private key/);
  assertAuthError(() => loadPrivateKey(Buffer.from("garbage")), "MALFORMED", /not a private key/);
  const x448 = generateKeyPairSync("x448").privateKey.export({ type: "pkcs8", format: "pem" });
  assertAuthError(() => loadPrivateKey(x448), "UNSUPPORTED", /x448 key is not supported/);
  const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey.export({ type: "pkcs8", format: "der" });
  assertAuthError(() => loadPrivateKey(k1), "UNSUPPORTED", /curve secp256k1/);
});

test("CERT payload: X.509 Signature (4) with the DER certificate; CERTREQ: SHA-1 of each anchor's SubjectPublicKeyInfo", () => {
  assert.deepEqual(certPayload(moon), { type: PayloadType.CERT, encoding: 4, data: moon.x509.raw });
  // openssl's hashes (make.sh: x509 -pubkey | pkey -pubin -outform DER | dgst -sha1)
  assert.equal(caKeyId(root).toString("hex"), expected.spkiSha1.root);
  assert.equal(caKeyId(other).toString("hex"), expected.spkiSha1.other);
  const req = certReqPayload([root, im]);
  assert.equal(req.type, PayloadType.CERTREQ);
  assert.equal(req.encoding, CertEncoding.X509_SIGNATURE);
  assert.equal(req.data.toString("hex"), expected.spkiSha1.root + expected.spkiSha1.im);
  // and node's view of the same key
  assert.deepEqual(caKeyId(im), createHash("sha1").update(im.x509.publicKey.export({ type: "spki", format: "der" })).digest());
});

test("chains: via a received intermediate to the root, directly to the root, to an intermediate anchor, to a pinned certificate", () => {
  assert.deepEqual(subjects(verifyChain(moon, [im], [root], NOW)), ["moon.strongswan.org", "strongSwan Test Intermediate CA", "strongSwan Test Root CA"]);
  assert.deepEqual(subjects(verifyChain(sun, [eve, im, stranger], [other, root], NOW)), ["sun.strongswan.org", "strongSwan Test Intermediate CA", "strongSwan Test Root CA"]);
  assert.deepEqual(subjects(verifyChain(eve, [], [root], NOW)), ["eve.strongswan.org", "strongSwan Test Root CA"]);
  assert.deepEqual(subjects(verifyChain(carol, [], [im], NOW)), ["carol", "strongSwan Test Intermediate CA"]);
  assert.deepEqual(subjects(verifyChain(stranger, [], [other], NOW)), ["stranger.strongswan.org", "Other Root CA"]); // Ed25519 CA
  assert.deepEqual(subjects(verifyChain(lonely, [], [lonely], NOW)), ["lonely.strongswan.org"]);
  // Two anchors with the root's name: the one whose key verifies is used.
  assert.deepEqual(subjects(verifyChain(imposter, [], [root, fake], NOW)), ["imposter.strongswan.org", "strongSwan Test Root CA"]);
  assert.deepEqual(verifyChain(imposter, [], [root, fake], NOW)[1].der, fake.der);
});

test("chain failures say what failed", () => {
  const MOON = "C=CH, O=strongSwan Test, CN=moon.strongswan.org";
  const IM = "C=CH, O=strongSwan Test, OU=Intermediate, CN=strongSwan Test Intermediate CA";
  const ROOT = "C=CH, O=strongSwan Test, CN=strongSwan Test Root CA";
  assertAuthError(() => verifyChain(moon, [], [root], NOW), "UNTRUSTED",
    `no trusted path to a CA for '${MOON}': no issuer certificate found for '${MOON}' (issuer '${IM}')`);
  assertAuthError(() => verifyChain(moon, [im], [other], NOW), "UNTRUSTED",
    `no trusted path to a CA for '${MOON}': no issuer certificate found for '${IM}' (issuer '${ROOT}')`);
  assertAuthError(() => verifyChain(stranger, [], [root], NOW), "UNTRUSTED", /no trusted path to a CA for '.*stranger.strongswan.org'/);
  assertAuthError(() => verifyChain(lonely, [], [root], NOW), "UNTRUSTED", /self-signed certificate '.*lonely.strongswan.org' is not trusted/);
  // Same issuer name as the trusted root, other key (and no authorityKeyIdentifier to tell them apart).
  assertAuthError(() => verifyChain(imposter, [], [root], NOW), "SIGNATURE",
    `signature of 'C=CH, O=strongSwan Test, CN=imposter.strongswan.org' by '${ROOT}' does not verify`);
  // A tampered certificate: one bit of the serial number flipped.
  const der = Buffer.from(moon.der);
  const serialAt = der.indexOf(Buffer.from([0x02, 0x02, 0x10]), 4) + 3; // INTEGER 0x10xx
  der[serialAt] ^= 0x01;
  const tampered = parseCertificate(der);
  assertAuthError(() => verifyChain(tampered, [im], [root], NOW), "SIGNATURE", `signature of '${MOON}' by '${IM}' does not verify`);
  // Validity, with the clock as a parameter: end entity, then an issuer.
  assertAuthError(() => verifyChain(moon, [im], [root], at("2024-05-31T23:59:59Z")), "NOT_YET_VALID",
    `certificate for '${MOON}' is not valid before 2024-06-01T00:00:00Z`);
  assertAuthError(() => verifyChain(moon, [im], [root], at("2042-01-01T00:00:01Z")), "EXPIRED", `certificate for '${MOON}' expired on 2042-01-01T00:00:00Z`);
  assertAuthError(() => verifyChain(moon, [im], [root], at("2041-01-01T00:00:00Z")), "EXPIRED", `certificate for '${IM}' expired on 2040-01-01T00:00:00Z`);
  assert.equal(verifyChain(moon, [im], [root], at("2040-01-01T00:00:00Z")).length, 3, "notAfter itself is still valid");
  assertAuthError(() => verifyChain(lonely, [], [lonely], at("2045-01-01T00:00:00Z")), "EXPIRED", /lonely/);
  // basicConstraints: an end entity cannot issue; pathLenConstraint 0 allows no CA below.
  assertAuthError(() => verifyChain(victim, [notca, im], [root], NOW), "CONSTRAINT",
    "issuer 'C=CH, O=strongSwan Test, CN=notca.strongswan.org' of 'C=CH, O=strongSwan Test, CN=victim.strongswan.org' is not a CA (basicConstraints)");
  assertAuthError(() => verifyChain(deep, [im2, im], [root], NOW), "CONSTRAINT", `path length of 1 below '${IM}' violates its pathLenConstraint of 0`);
  assert.equal(verifyChain(deep, [im2], [im2], NOW).length, 2, "pathLen of an issuer above the anchor does not matter");
  // strongSwan's MAX_TRUST_PATH_LEN: 7 intermediates between end entity and anchor, not 8.
  const [long, ...cas] = loadCertificates(fixture("long.pem"));
  assert.equal(verifyChain(long, cas, [cas[7]], NOW).length, 9);
  assertAuthError(() => verifyChain(long, cas, [cas[8]], NOW), "UNTRUSTED", /maximum path length of 7 exceeded/);
});

test("identities: subject DN, subjectAltNames (case-insensitive names, exact addresses), key IDs; CN is not an FQDN", () => {
  const dn = (s: string) => ({ type: IdType.ID_DER_ASN1_DN, data: parseDn(s) });
  const yes = [
    parseIdentity("moon.strongswan.org"), parseIdentity("MOON.StrongSwan.org"), parseIdentity("192.0.2.1"), parseIdentity("fd00::1"),
    parseIdentity("moon@strongswan.org"), { type: IdType.ID_DER_ASN1_DN, data: moon.subject },
    dn("C=CH, O=strongSwan Test, CN=moon.strongswan.org"), dn("C=ch, O=strongSwan Test, CN=moon.strongswan.org"),
    { type: IdType.ID_KEY_ID, data: moon.subjectKeyId! }, { type: IdType.ID_KEY_ID, data: caKeyId(moon) },
  ];
  for (const id of yes) assert.ok(certHasIdentity(moon, id), JSON.stringify(id));
  const no = [
    parseIdentity("sun.strongswan.org"), parseIdentity("192.0.2.2"), parseIdentity("fd00::2"), parseIdentity("strongswan.org"),
    dn("C=CH, O=strongSwan Test, CN=MOON.strongswan.org"), dn("C=CH, CN=moon.strongswan.org"),
    { type: IdType.ID_DER_ASN1_DN, data: Buffer.from("3003", "hex") }, { type: IdType.ID_KEY_ID, data: caKeyId(sun) },
    { type: IdType.ID_NULL, data: Buffer.alloc(0) },
  ];
  for (const id of no) assert.ok(!certHasIdentity(moon, id), JSON.stringify(id));
  assert.ok(!certHasIdentity(carol, parseIdentity("carol")), "strongSwan matches FQDNs against subjectAltNames only");
  assertAuthError(() => requireIdentity(moon, parseIdentity("sun.strongswan.org")), "IDENTITY",
    "identity 'sun.strongswan.org' not in certificate subject or subjectAltNames (subject 'C=CH, O=strongSwan Test, CN=moon.strongswan.org', " +
    "subjectAltNames: DNS:moon.strongswan.org, IP:192.0.2.1, IP:fd00:0:0:0:0:0:0:1, email:moon@strongswan.org)");
  assertAuthError(() => requireIdentity(moon, dn("CN=sun")), "IDENTITY", /^identity 'CN=sun' not in certificate subject/);
  assertAuthError(() => requireIdentity(dave, parseIdentity("dave@strongswan.org")), "IDENTITY", /subjectAltNames: DNS:dave.strongswan.org\)$/);
});

// ------------------------------------------------------------------ the IKE_AUTH flow (pubkey.ts)

const prf = PRF_HMAC_SHA2_256;
const skP = randomBytes(32), message = randomBytes(400), nonce = randomBytes(32);
const keys = ["moon.key.pem", "sun.key.pem", "carol.key.pem", "dave.key.der", "eve.key.pem"].map((f) => loadPrivateKey(fixture(f)));
const ALL = [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY];

test("local credentials: key found by public key, identity defaults to the subject DN, configured ones must be in the certificate", () => {
  const c = localCredentials([moon, im], keys);
  assert.deepEqual(spkiOf(c.key), moon.spki);
  assert.deepEqual(c.id, { type: IdType.ID_DER_ASN1_DN, data: moon.subject });
  assert.deepEqual(c.intermediates, [im]);
  assert.deepEqual(certPayloads(c).map((p) => p.data), [moon.der, im.der]);
  assert.deepEqual(localCredentials([moon], keys, "moon.strongswan.org").id, parseIdentity("moon.strongswan.org"));
  assert.deepEqual(localCredentials([moon], keys, "%any").id.data, moon.subject);
  // A configured DN is sent in the certificate's encoding (UTF8String), whatever the config text becomes.
  assert.deepEqual(localCredentials([moon], keys, "C=CH, O=strongSwan Test, CN=moon.strongswan.org").id.data, moon.subject);
  assertAuthError(() => localCredentials([moon], keys, "C=CH, CN=moon.strongswan.org"), "IDENTITY", /is not the subject of certificate/);
  assertAuthError(() => localCredentials([moon], keys, "sun.strongswan.org"), "IDENTITY", /not in certificate subject or subjectAltNames/);
  assertAuthError(() => localCredentials([noku], keys), "NO_KEY", "no private key found for 'C=CH, O=strongSwan Test, CN=noku.strongswan.org'");
  assertAuthError(() => localCredentials([], keys), "NO_KEY", /no certificate configured/);
});

test("AUTH built by one side verifies on the other over signedOctets(), for each key type; the checks run in strongSwan's order", () => {
  for (const [ee, hashes, scheme] of [[moon, ALL, "ECDSA_WITH_SHA384_DER"], [sun, ALL, "ED25519"], [carol, ALL, "RSA_EMSA_PSS_SHA2_256_SALT_32"],
    [dave, undefined, "ECDSA-256 signature"], [eve, [HashAlgorithm.SHA2_512], "ECDSA_WITH_SHA512_DER"]] as const) {
    const cred = localCredentials([ee, im], keys);
    const octets = signedOctets(prf, message, nonce, skP, cred.id);
    const { payload, scheme: used } = buildPubkeyAuth(cred, hashes, octets);
    assert.equal(used, scheme);
    const v = verifyPubkeyAuth({ auth: payload, certs: certPayloads(cred), id: cred.id, anchors: [root], octets, now: NOW });
    assert.equal(v.scheme, scheme);
    assert.equal(v.chain.length, ee === eve ? 2 : 3);
    // RFC 7296 §2.15: message | nonce | prf(SK_p, IDType | RESERVED | ID data), here with node's HMAC.
    const idPrime = Buffer.concat([Buffer.from([cred.id.type, 0, 0, 0]), cred.id.data]);
    assert.deepEqual(octets, Buffer.concat([message, nonce, createHmac("sha256", skP).update(idPrime).digest()]));
    if (ee === sun) assert.ok(verify(null, octets, createPublicKey(keys[1]), payload.data.subarray(1 + payload.data[0])));
  }
  const cred = localCredentials([moon, im], keys, "moon.strongswan.org");
  const octets = signedOctets(prf, message, nonce, skP, cred.id);
  const auth = buildPubkeyAuth(cred, ALL, octets).payload;
  const good = { auth, certs: certPayloads(cred), id: cred.id, anchors: [root], octets, now: NOW };
  assert.equal(verifyPubkeyAuth(good).cert.subjectText, moon.subjectText);
  // Unknown CERT encodings are skipped; the first X.509 one is the end entity.
  const pgp: CertPayload = { type: PayloadType.CERT, encoding: CertEncoding.PGP, data: Buffer.from("x") };
  assert.ok(verifyPubkeyAuth({ ...good, certs: [pgp, ...good.certs] }));
  assert.deepEqual(certsFromPayloads([pgp, certPayload(moon)]).skipped, [CertEncoding.PGP]);
  // Signed over other octets (e.g. a different nonce): the signature check names the signer and scheme.
  assertAuthError(() => verifyPubkeyAuth({ ...good, octets: signedOctets(prf, message, randomBytes(32), skP, cred.id) }), "SIGNATURE",
    "signature by 'C=CH, O=strongSwan Test, CN=moon.strongswan.org' (ECDSA_WITH_SHA384_DER) does not verify");
  // Identity, then trust, then keyUsage, then the signature.
  assertAuthError(() => verifyPubkeyAuth({ ...good, id: parseIdentity("sun.strongswan.org") }), "IDENTITY", /identity 'sun.strongswan.org' not in certificate/);
  assertAuthError(() => verifyPubkeyAuth({ ...good, anchors: [other] }), "UNTRUSTED", /no trusted path to a CA/);
  assertAuthError(() => verifyPubkeyAuth({ ...good, now: at("2043-01-01T00:00:00Z") }), "EXPIRED", /expired on 2042-01-01/);
  assertAuthError(() => verifyPubkeyAuth({ ...good, certs: [] }), "UNTRUSTED", "no certificate received for 'moon.strongswan.org' (no X.509 CERT payload)");
  assertAuthError(() => verifyPubkeyAuth({ ...good, certs: [{ ...good.certs[0], data: Buffer.from("junk") }] }), "MALFORMED", /invalid certificate in CERT payload/);
  // A certificate without digitalSignature/nonRepudiation is refused even with a valid signature (RFC 4945 §5.1.3.2).
  const nokuKey = loadPrivateKey(fixture("noku.key.pem"));
  const nc = localCredentials([noku, im], [nokuKey]);
  const no = signedOctets(prf, message, nonce, skP, nc.id);
  assertAuthError(() => verifyPubkeyAuth({ auth: buildPubkeyAuth(nc, ALL, no).payload, certs: certPayloads(nc), id: nc.id, anchors: [root],
    octets: no, now: NOW }), "CONSTRAINT", /neither the digitalSignature nor the nonRepudiation keyUsage/);
  // Someone else's valid certificate with our AUTH: the key does not match the signature.
  const sunCred = localCredentials([sun], keys, "sun.strongswan.org");
  assertAuthError(() => verifyPubkeyAuth({ ...good, id: sunCred.id, certs: [certPayload(sun), certPayload(im)] }), "SIGNATURE",
    /ECDSA_WITH_SHA384_DER but its certificate holds an Ed25519 key/);
});
