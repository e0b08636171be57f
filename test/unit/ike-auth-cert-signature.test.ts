// RFC 7427 signature authentication (src/ike/auth/signature.ts). Oracles: the AlgorithmIdentifier hex
// published in RFC 7427 Appendix A and RFC 8410/8420; the signatureAlgorithm fields openssl wrote into
// the fixture certificates (test/fixtures/pki/expected.json); node:crypto sign/verify called directly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { constants, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import {
  SCHEMES, SUPPORTED_HASH_ALGORITHMS, createAuth, verifyAuth, selectSchemes, parseAlgorithmIdentifier, decodeDigitalSignature,
  type SignatureScheme,
} from "../../src/ike/auth/signature.js";
import { loadPrivateKey } from "../../src/ike/auth/keys.js";
import { AuthError } from "../../src/ike/auth/errors.js";
import { AuthMethod, HashAlgorithm } from "../../src/ike/wire/index.js";
import { expected, fixture } from "./ike-auth-cert-fixtures.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const { SHA1, SHA2_256, SHA2_384, SHA2_512, IDENTITY } = HashAlgorithm;
const ALL = [SHA2_256, SHA2_384, SHA2_512, IDENTITY];

// RFC 7427 Appendix A blobs (A.1, A.3, A.4.3), transcribed from the copy of that appendix in libreswan's
// include/ietf_constants.h; A.4.1's case (RSASSA-PSS with empty parameters) encoded here by hand.
const RFC7427 = {
  sha256WithRSAEncryption: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00",   // A.1.2
  sha384WithRSAEncryption: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0c 05 00",   // A.1.3
  sha512WithRSAEncryption: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0d 05 00",   // A.1.4
  ecdsaWithSha256: "30 0a 06 08 2a 86 48 ce 3d 04 03 02",                     // A.3.2
  ecdsaWithSha384: "30 0a 06 08 2a 86 48 ce 3d 04 03 03",                     // A.3.3
  ecdsaWithSha512: "30 0a 06 08 2a 86 48 ce 3d 04 03 04",                     // A.3.4
  rsassaPssEmpty: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0a 30 00",             // cf. A.4.1 (all defaults: SHA-1)
  rsassaPssSha256:                                                          // A.4.3
    "30 41 06 09 2a 86 48 86 f7 0d 01 01 0a 30 34 a0 0f 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00" +
    "a1 1c 30 1a 06 09 2a 86 48 86 f7 0d 01 01 08 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 a2 03 02 01 20",
  // RFC 8410 §3 id-Ed25519 with absent parameters, the AlgorithmIdentifier RFC 8420 §2 uses.
  ed25519: "30 05 06 03 2b 65 70",
};

const key = (file: string, pass?: string) => loadPrivateKey(fixture(file), pass);
const moon = key("moon.key.pem");                          // P-384
const dave = key("dave.key.der");                          // P-256
const eve = key("eve.key.pem");                            // P-521
const sun = key("sun.key.pem");                            // Ed25519
const carol = key("carol.key.pem");                        // RSA 2048
const pub = (k: KeyObject) => createPublicKey(k);
const octets = randomBytes(300);
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;

function nodeOptions(k: KeyObject, s: SignatureScheme) {
  if (s.key === "ecdsa") return { key: k, dsaEncoding: "der" as const };
  if (s.saltLength !== undefined) return { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: s.saltLength };
  if (s.key === "rsa") return { key: k, padding: constants.RSA_PKCS1_PADDING };
  return k;
}

/** RFC 7427 §3 framing done here, independently of encodeDigitalSignature(). */
const frame = (algId: Buffer, sig: Buffer) => Buffer.concat([Buffer.from([algId.length]), algId, sig]);

function assertAuthError(fn: () => unknown, code: string, message: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AuthError, `not an AuthError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test("AlgorithmIdentifiers are RFC 7427 Appendix A's and RFC 8420's bytes, and what openssl writes into certificates", () => {
  assert.deepEqual(SCHEMES.RSA_EMSA_PKCS1_SHA2_256.algorithmIdentifier, hex(RFC7427.sha256WithRSAEncryption));
  assert.deepEqual(SCHEMES.RSA_EMSA_PKCS1_SHA2_384.algorithmIdentifier, hex(RFC7427.sha384WithRSAEncryption));
  assert.deepEqual(SCHEMES.RSA_EMSA_PKCS1_SHA2_512.algorithmIdentifier, hex(RFC7427.sha512WithRSAEncryption));
  assert.deepEqual(SCHEMES.ECDSA_WITH_SHA256_DER.algorithmIdentifier, hex(RFC7427.ecdsaWithSha256));
  assert.deepEqual(SCHEMES.ECDSA_WITH_SHA384_DER.algorithmIdentifier, hex(RFC7427.ecdsaWithSha384));
  assert.deepEqual(SCHEMES.ECDSA_WITH_SHA512_DER.algorithmIdentifier, hex(RFC7427.ecdsaWithSha512));
  assert.deepEqual(SCHEMES.RSA_EMSA_PSS_SHA2_256.algorithmIdentifier, hex(RFC7427.rsassaPssSha256));
  assert.deepEqual(SCHEMES.ED25519.algorithmIdentifier, hex(RFC7427.ed25519));
  // openssl's encodings of the same algorithms (fixture certificates signed with them), which also
  // cover PSS with SHA-384/512, for which the RFC prints no example.
  const sa = expected.signatureAlgorithm;
  assert.deepEqual(SCHEMES.ECDSA_WITH_SHA256_DER.algorithmIdentifier, hex(sa.root));
  assert.deepEqual(SCHEMES.ECDSA_WITH_SHA384_DER.algorithmIdentifier, hex(sa.im));
  assert.deepEqual(SCHEMES.ECDSA_WITH_SHA512_DER.algorithmIdentifier, hex(sa.eve));
  assert.deepEqual(SCHEMES.RSA_EMSA_PSS_SHA2_256.algorithmIdentifier, hex(sa.moon));
  assert.deepEqual(SCHEMES.RSA_EMSA_PSS_SHA2_384.algorithmIdentifier, hex(sa.sun));
  assert.deepEqual(SCHEMES.RSA_EMSA_PSS_SHA2_512.algorithmIdentifier, hex(sa.carol));
  assert.deepEqual(SCHEMES.RSA_EMSA_PKCS1_SHA2_256.algorithmIdentifier, hex(sa.dave));
  assert.deepEqual(SCHEMES.ED25519.algorithmIdentifier, hex(sa.other));
  // Each parses back to its scheme, PSS with salt = hash length (RFC 7427 §A.4.3).
  for (const s of Object.values(SCHEMES)) {
    const p = parseAlgorithmIdentifier(s.algorithmIdentifier);
    assert.equal(p.name, s.name);
    assert.equal(p.saltLength, s.saltLength);
  }
  assert.deepEqual(Object.values(SCHEMES).filter((s) => s.saltLength !== undefined).map((s) => s.saltLength), [32, 48, 64]);
  assert.deepEqual(SUPPORTED_HASH_ALGORITHMS, [SHA2_256, SHA2_384, SHA2_512, IDENTITY]);
});

test("sign with every scheme: the AUTH data is length | RFC AlgorithmIdentifier | signature that node:crypto verifies", () => {
  const cases: Array<[KeyObject, readonly number[], SignatureScheme, string | undefined]> = [
    [dave, ALL, SCHEMES.ECDSA_WITH_SHA256_DER, RFC7427.ecdsaWithSha256],
    [dave, [SHA2_384], SCHEMES.ECDSA_WITH_SHA384_DER, RFC7427.ecdsaWithSha384],
    [dave, [SHA2_512], SCHEMES.ECDSA_WITH_SHA512_DER, RFC7427.ecdsaWithSha512],
    [moon, ALL, SCHEMES.ECDSA_WITH_SHA384_DER, RFC7427.ecdsaWithSha384],
    [eve, ALL, SCHEMES.ECDSA_WITH_SHA512_DER, RFC7427.ecdsaWithSha512],
    [sun, ALL, SCHEMES.ED25519, RFC7427.ed25519],
    [carol, ALL, SCHEMES.RSA_EMSA_PSS_SHA2_256, RFC7427.rsassaPssSha256],
    [carol, [SHA2_384], SCHEMES.RSA_EMSA_PSS_SHA2_384, expected.signatureAlgorithm.sun],
    [carol, [SHA2_512], SCHEMES.RSA_EMSA_PSS_SHA2_512, expected.signatureAlgorithm.carol],
  ];
  for (const [k, hashes, s, algHex] of cases) {
    const a = createAuth(k, hashes, octets);
    assert.equal(a.method, AuthMethod.DIGITAL_SIGNATURE);
    assert.equal(a.scheme, s.saltLength ? `${s.name}_SALT_${s.saltLength}` : s.name);
    const alg = hex(algHex!);
    assert.equal(a.data[0], alg.length);
    assert.deepEqual(a.data.subarray(1, 1 + alg.length), alg);
    const sig = a.data.subarray(1 + alg.length);
    assert.ok(verify(s.digest, octets, nodeOptions(pub(k), s), sig), `node rejects our ${s.name}`);
    if (s.key === "ecdsa") assert.equal(sig[0], 0x30, "ECDSA signature value is a DER SEQUENCE (RFC 7427 §3)");
    if (s.saltLength) {
      // PSS salt length really is the hash length: node fails a verify that expects another one.
      assert.ok(!verify(s.digest, octets, { key: pub(k), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: s.saltLength - 1 }, sig));
    }
    assert.ok(verifyAuth(a.method, a.data, pub(k), octets).ok);
    assert.ok(!verifyAuth(a.method, a.data, pub(k), Buffer.concat([octets, Buffer.from([0])])).ok);
  }
  const pkcs1 = createAuth(carol, ALL, octets, { rsaPadding: "pkcs1" });
  assert.deepEqual(pkcs1.data.subarray(0, 16), Buffer.concat([Buffer.from([15]), hex(RFC7427.sha256WithRSAEncryption)]));
  assert.ok(verify("sha256", octets, { key: pub(carol), padding: constants.RSA_PKCS1_PADDING }, pkcs1.data.subarray(16)));
});

test("verify signatures made by node:crypto, framed with the RFC's AlgorithmIdentifiers; a flipped bit fails", () => {
  const cases: Array<[KeyObject, SignatureScheme, string]> = [
    [dave, SCHEMES.ECDSA_WITH_SHA256_DER, RFC7427.ecdsaWithSha256],
    [moon, SCHEMES.ECDSA_WITH_SHA512_DER, RFC7427.ecdsaWithSha512],
    [eve, SCHEMES.ECDSA_WITH_SHA384_DER, RFC7427.ecdsaWithSha384],
    [sun, SCHEMES.ED25519, RFC7427.ed25519],
    [carol, SCHEMES.RSA_EMSA_PSS_SHA2_256, RFC7427.rsassaPssSha256],
    [carol, SCHEMES.RSA_EMSA_PKCS1_SHA2_384, RFC7427.sha384WithRSAEncryption],
    [carol, SCHEMES.RSA_EMSA_PKCS1_SHA2_512, RFC7427.sha512WithRSAEncryption],
  ];
  for (const [k, s, alg] of cases) {
    const sig = sign(s.digest, octets, nodeOptions(k, s));
    const data = frame(hex(alg), sig);
    assert.deepEqual(verifyAuth(AuthMethod.DIGITAL_SIGNATURE, data, pub(k), octets), { ok: true, scheme: s.saltLength ? `${s.name}_SALT_${s.saltLength}` : s.name });
    const bad = Buffer.from(data);
    bad[bad.length - 5] ^= 0x01;
    assert.equal(verifyAuth(AuthMethod.DIGITAL_SIGNATURE, bad, pub(k), octets).ok, false);
    // another key of the same type does not verify it
    const other = s.key === "ed25519" ? generateKeyPairSync("ed25519").publicKey
      : s.key === "ecdsa" ? generateKeyPairSync("ec", { namedCurve: k.asymmetricKeyDetails!.namedCurve! }).publicKey : otherRsa;
    assert.equal(verifyAuth(AuthMethod.DIGITAL_SIGNATURE, data, other, octets).ok, false);
  }
});

test("classic methods without SIGNATURE_HASH_ALGORITHMS: RFC 4754 ECDSA (raw r|s) 9/10/11 and RSA (1), both ways", () => {
  for (const [k, method, digest, len, name] of [[dave, 9, "sha256", 64, "ECDSA-256"], [moon, 10, "sha384", 96, "ECDSA-384"],
    [eve, 11, "sha512", 132, "ECDSA-521"]] as const) {
    const a = createAuth(k, undefined, octets);
    assert.equal(a.method, method);
    assert.equal(a.data.length, len);
    assert.ok(verify(digest, octets, { key: pub(k), dsaEncoding: "ieee-p1363" }, a.data));
    const theirs = sign(digest, octets, { key: k, dsaEncoding: "ieee-p1363" });
    assert.deepEqual(verifyAuth(method, theirs, pub(k), octets), { ok: true, scheme: `${name} signature` });
    theirs[3] ^= 0x80;
    assert.equal(verifyAuth(method, theirs, pub(k), octets).ok, false);
  }
  const rsa = createAuth(carol, undefined, octets);
  assert.equal(rsa.method, AuthMethod.RSA_SIG);
  assert.ok(verify("sha1", octets, { key: pub(carol), padding: constants.RSA_PKCS1_PADDING }, rsa.data));
  assert.ok(verifyAuth(AuthMethod.RSA_SIG, rsa.data, pub(carol), octets).ok);
  // The method fixes curve and hash: a P-256 key cannot have made a method 10 signature.
  assertAuthError(() => verifyAuth(10, sign("sha384", octets, { key: dave, dsaEncoding: "ieee-p1363" }), pub(dave), octets),
    "SIGNATURE", /ECDSA-384 signature \(method 10\) but its certificate holds an ECDSA P-256 key/);
  assertAuthError(() => verifyAuth(9, Buffer.alloc(64), pub(carol), octets), "SIGNATURE", /RSA 2048 key/);
  assertAuthError(() => createAuth(sun, undefined, octets), "UNSUPPORTED", /Ed25519 keys need RFC 7427 signature authentication/);
  assertAuthError(() => verifyAuth(AuthMethod.PSK, Buffer.alloc(32), pub(dave), octets), "UNSUPPORTED", /method 2 is not a signature method/);
});

test("RFC 7427 §4 negotiation follows strongSwan: hash grows with the key, only hashes the peer announced", () => {
  const names = (k: KeyObject, h: readonly number[], p?: "pss" | "pkcs1") => selectSchemes(k, h, p).map((s) => s.name);
  assert.deepEqual(names(dave, ALL), ["ECDSA_WITH_SHA256_DER", "ECDSA_WITH_SHA384_DER", "ECDSA_WITH_SHA512_DER"]);
  assert.deepEqual(names(moon, ALL), ["ECDSA_WITH_SHA384_DER", "ECDSA_WITH_SHA512_DER"]);
  assert.deepEqual(names(moon, [SHA2_256]), []); // strongSwan does not sign with SHA-256 on P-384 either
  assert.deepEqual(names(eve, ALL), ["ECDSA_WITH_SHA512_DER"]);
  assert.deepEqual(names(sun, ALL), ["ED25519"]);
  assert.deepEqual(names(sun, [SHA2_256, SHA2_384, SHA2_512]), []);
  assert.deepEqual(names(carol, ALL), ["RSA_EMSA_PSS_SHA2_256", "RSA_EMSA_PSS_SHA2_384", "RSA_EMSA_PSS_SHA2_512"]);
  assert.deepEqual(names(carol, ALL, "pkcs1"), ["RSA_EMSA_PKCS1_SHA2_256", "RSA_EMSA_PKCS1_SHA2_384", "RSA_EMSA_PKCS1_SHA2_512"]);
  assert.deepEqual(names(carol, [SHA2_512, SHA1]), ["RSA_EMSA_PSS_SHA2_512"]);
  const big = generateKeyPairSync("rsa", { modulusLength: 3104 }).privateKey;
  assert.deepEqual(names(big, ALL), ["RSA_EMSA_PSS_SHA2_384", "RSA_EMSA_PSS_SHA2_512"]);
  const pssKey = generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).privateKey;
  assert.deepEqual(names(pssKey, ALL, "pkcs1"), ["RSA_EMSA_PSS_SHA2_256", "RSA_EMSA_PSS_SHA2_384", "RSA_EMSA_PSS_SHA2_512"]);
  const a = createAuth(pssKey, ALL, octets);
  assert.ok(verifyAuth(a.method, a.data, pub(pssKey), octets).ok);
  assertAuthError(() => createAuth(moon, [SHA1, SHA2_256], octets), "NO_COMMON_HASH",
    /no common hash algorithm found to create signature with ECDSA P-384 key \(peer announced SHA1, SHA2_256\)/);
  assertAuthError(() => createAuth(dave, [], octets), "NO_COMMON_HASH", /peer announced none/);
});

/** Minimal DER builder for hand-made AlgorithmIdentifiers (test scaffolding, not the code under test). */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  assert.ok(body.length < 128);
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}
const OID_PSS = hex("06092a864886f70d01010a"), OID_MGF1 = hex("06092a864886f70d010108");
const SHA256_ALG = hex("300d06096086480165030402010500"), SHA1_ALG = hex("300906052b0e03021a0500");
const int = (n: number) => der(0x02, Buffer.from([n]));
const pssAlg = (...params: Buffer[]) => der(0x30, OID_PSS, der(0x30, ...params));

test("received RSASSA-PSS parameters: salt from the parameters, explicit trailer accepted, other MGF/hash/trailer refused", () => {
  const sig = (salt: number) => sign("sha256", octets, { key: carol, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt });
  // Default salt (20, field absent) as other implementations may send it.
  const salt20 = pssAlg(der(0xa0, SHA256_ALG), der(0xa1, der(0x30, OID_MGF1, SHA256_ALG)));
  assert.deepEqual(verifyAuth(14, frame(salt20, sig(20)), pub(carol), octets), { ok: true, scheme: "RSA_EMSA_PSS_SHA2_256_SALT_20" });
  assert.equal(verifyAuth(14, frame(salt20, sig(32)), pub(carol), octets).ok, false);
  // strongSwan with rsa_pss_trailerfield=yes adds trailerField 1.
  const trailer = pssAlg(der(0xa0, SHA256_ALG), der(0xa1, der(0x30, OID_MGF1, SHA256_ALG)), der(0xa2, int(32)), der(0xa3, int(1)));
  assert.ok(verifyAuth(14, frame(trailer, sig(32)), pub(carol), octets).ok);
  const zeroSalt = pssAlg(der(0xa0, SHA256_ALG), der(0xa1, der(0x30, OID_MGF1, SHA256_ALG)), der(0xa2, int(0)));
  assert.ok(verifyAuth(14, frame(zeroSalt, sig(0)), pub(carol), octets).ok);
  assertAuthError(() => verifyAuth(14, frame(hex(RFC7427.rsassaPssEmpty), sig(20)), pub(carol), octets), "UNSUPPORTED", /PSS with SHA-1/);
  const mgfSha1 = pssAlg(der(0xa0, SHA256_ALG), der(0xa1, der(0x30, OID_MGF1, SHA1_ALG)), der(0xa2, int(32)));
  assertAuthError(() => verifyAuth(14, frame(mgfSha1, sig(32)), pub(carol), octets), "UNSUPPORTED", /sha256 and MGF1-sha1/);
  const trailer2 = pssAlg(der(0xa0, SHA256_ALG), der(0xa1, der(0x30, OID_MGF1, SHA256_ALG)), der(0xa2, int(32)), der(0xa3, int(2)));
  assertAuthError(() => verifyAuth(14, frame(trailer2, sig(32)), pub(carol), octets), "UNSUPPORTED", /trailerField/);
  assertAuthError(() => verifyAuth(14, frame(der(0x30, OID_PSS), sig(32)), pub(carol), octets), "MALFORMED", /without RSASSA-PSS-params/);
  const outOfOrder = pssAlg(der(0xa1, der(0x30, OID_MGF1, SHA256_ALG)), der(0xa0, SHA256_ALG));
  assertAuthError(() => verifyAuth(14, frame(outOfOrder, sig(32)), pub(carol), octets), "MALFORMED", /unexpected trailing elements/);
});

test("malformed or unsupported RFC 7427 AUTH data gets a precise error", () => {
  const s = sign("sha256", octets, { key: dave, dsaEncoding: "der" });
  const ecdsa = hex(RFC7427.ecdsaWithSha256);
  assertAuthError(() => decodeDigitalSignature(Buffer.alloc(0)), "MALFORMED", /empty/);
  assertAuthError(() => decodeDigitalSignature(Buffer.concat([Buffer.from([13]), ecdsa])), "MALFORMED", /length 13 exceeds the 12 bytes/);
  assertAuthError(() => decodeDigitalSignature(frame(ecdsa, Buffer.alloc(0))), "MALFORMED", /without a signature value/);
  // The length octet must cover the AlgorithmIdentifier exactly.
  assertAuthError(() => verifyAuth(14, Buffer.concat([Buffer.from([13]), ecdsa, s]), pub(dave), octets), "MALFORMED", /trailing bytes/);
  assertAuthError(() => verifyAuth(14, Buffer.concat([Buffer.from([11]), ecdsa, s]), pub(dave), octets), "MALFORMED", /overruns/);
  assertAuthError(() => verifyAuth(14, frame(hex("300d06092a864886f70d0101050500"), s), pub(dave), octets), "UNSUPPORTED",
    /sha1WithRSAEncryption \(1\.2\.840\.113549\.1\.1\.5\) is not supported/);
  assertAuthError(() => verifyAuth(14, frame(hex("3006060400010203"), s), pub(dave), octets), "UNSUPPORTED", /0\.0\.1\.2\.3 is not supported/);
  // NULL parameters for ECDSA are tolerated (strongSwan does), anything else is not.
  assert.ok(verifyAuth(14, frame(hex("300c06082a8648ce3d0403020500"), s), pub(dave), octets).ok);
  assertAuthError(() => verifyAuth(14, frame(hex("300d06082a8648ce3d040302020100"), s), pub(dave), octets), "MALFORMED", /unexpected parameters/);
  // Indefinite length (BER) is not DER.
  assertAuthError(() => verifyAuth(14, frame(hex("308006082a8648ce3d0403020000"), s), pub(dave), octets), "MALFORMED", /indefinite/);
  // A scheme that does not fit the certified key.
  assertAuthError(() => verifyAuth(14, frame(ecdsa, s), pub(carol), octets), "SIGNATURE",
    /signed with ECDSA_WITH_SHA256_DER but its certificate holds an RSA 2048 key/);
  // A signature that is not DER does not verify (no exception).
  assert.equal(verifyAuth(14, frame(ecdsa, Buffer.from("not a signature")), pub(dave), octets).ok, false);
});
