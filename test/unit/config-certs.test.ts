// Certificate authentication in swanctl.conf: auth = pubkey and its aliases, certs/cacerts resolved in swanctl's
// directories next to the file, private keys found in private/, rsa/, ecdsa/, pkcs8/ (encrypted ones with their
// passphrase from secrets), identities checked against our certificate, and every unsupported case an error
// with its place. The PKI is test/fixtures/pki (openssl-made); node:crypto's X509Certificate and KeyObject are
// the independent view of what each file holds. config-oracle.test.ts checks the same against swanctl itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/settings.js";
import { loadSwanctl, type SwanctlConfig } from "../../src/config/swanctl.js";

const PKI = join(import.meta.dirname, "../../../test/fixtures/pki");
const pki = (f: string) => readFileSync(join(PKI, f));
const der = (f: string) => new X509Certificate(pki(f)).raw;
const spkiOfCert = (f: string) => new X509Certificate(pki(f)).publicKey.export({ type: "spki", format: "der" });
const MOON_DN = "C=CH, O=strongSwan Test, CN=moon.strongswan.org";

/** A swanctl directory: swanctl.conf and credential files placed as { "x509/moon.crt": "moon.crt" } (fixture names). */
function layout(conf: string, files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "wipsec-certs-"));
  for (const [to, from] of Object.entries(files)) {
    mkdirSync(join(dir, to, ".."), { recursive: true });
    if (typeof from === "string") copyFileSync(join(PKI, from), join(dir, to));
    else writeFileSync(join(dir, to), from);
  }
  writeFileSync(join(dir, "swanctl.conf"), conf);
  return dir;
}

function load(conf: string, files: Record<string, string | Buffer> = {}): { cfg?: SwanctlConfig; issues: string[]; dir: string } {
  const dir = layout(conf, files);
  try {
    return { cfg: loadSwanctl(join(dir, "swanctl.conf")), issues: [], dir };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { issues: e.message.split("\n").map((l) => l.replaceAll(dir, "DIR")), dir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MOON_FILES = { "x509/moon.crt": "moon.crt", "x509ca/root.crt": "root.crt", "x509ca/im.crt": "im.crt", "ecdsa/moon.pem": "moon.key.pem" };

const conn = (local: string, remote = "auth = pubkey", extra = "") =>
  `connections {\n gw {\n  local {\n   ${local}\n  }\n  remote {\n   ${remote}\n  }\n  ${extra}\n }\n}\n`;

test("local certs from x509/, key from ecdsa/ by its public key, intermediates from x509ca/ sent along (not the root)", () => {
  const { cfg, issues } = load(conn("auth = pubkey\n   certs = moon.crt\n   id = moon.strongswan.org",
    `auth = pubkey\n   id = "C=CH, O=strongSwan Test, CN=sun.strongswan.org"`), MOON_FILES);
  assert.deepEqual(issues, []);
  const c = cfg!.connections[0];
  assert.equal(c.local.auth, "pubkey");
  assert.equal(c.local.id, "moon.strongswan.org");
  assert.deepEqual(c.local.certs!.map((x) => x.der), [der("moon.crt"), der("im.crt")]);
  assert.deepEqual(c.remote, { auth: "pubkey", id: "C=CH, O=strongSwan Test, CN=sun.strongswan.org" });
  assert.deepEqual(cfg!.caCerts.map((x) => x.der).sort(Buffer.compare), [der("root.crt"), der("im.crt")].sort(Buffer.compare));
  assert.deepEqual(cfg!.certs.map((x) => x.der), [der("moon.crt")]);
  assert.equal(cfg!.privateKeys.length, 1);
  assert.deepEqual(createPublicKey(cfg!.privateKeys[0]).export({ type: "spki", format: "der" }), spkiOfCert("moon.crt"));
  assert.deepEqual([c.sendCert, c.sendCertreq], ["ifasked", true]);
});

test("without certs: the certificate in x509/ holding our identity and whose key we have; auth defaults to pubkey", () => {
  for (const id of ["moon.strongswan.org", "192.0.2.1", "moon@strongswan.org", `"${MOON_DN}"`]) {
    const { cfg, issues } = load(conn(`id = ${id}`), { ...MOON_FILES, "x509/sun.crt": "sun.crt" });
    assert.deepEqual(issues, [], id);
    assert.deepEqual(cfg!.connections[0].local.certs!.map((x) => x.der), [der("moon.crt"), der("im.crt")], id);
  }
  // sun.crt is there, but not its key.
  assert.deepEqual(load(conn("id = sun.strongswan.org"), { ...MOON_FILES, "x509/sun.crt": "sun.crt" }).issues, [
    "DIR/swanctl.conf:3:3: connections.gw.local: public key authentication (the default without auth = psk) needs our certificate: "
    + "add certs = <file in DIR/x509> (none there for 'sun.strongswan.org' with its private key)",
  ]);
});

test("the local identity must be in the certificate; the certificate needs its private key", () => {
  assert.deepEqual(load(conn("certs = moon.crt\n   id = sun.strongswan.org"), MOON_FILES).issues, [
    "DIR/swanctl.conf:5:4: connections.gw.local: identity 'sun.strongswan.org' not in certificate subject or subjectAltNames "
    + `(subject '${MOON_DN}', subjectAltNames: DNS:moon.strongswan.org, IP:192.0.2.1, IP:fd00:0:0:0:0:0:0:1, email:moon@strongswan.org)`,
  ]);
  const { "ecdsa/moon.pem": _, ...noKey } = MOON_FILES;
  assert.deepEqual(load(conn("certs = moon.crt"), noKey).issues, [
    `DIR/swanctl.conf:4:4: connections.gw.local: no private key found for '${MOON_DN}' in private/, rsa/, ecdsa/, pkcs8/ of DIR`,
  ]);
});

test("every key directory: PKCS#1 in rsa/, SEC1 in ecdsa/, DER in pkcs8/, Ed25519 in private/, encrypted PKCS#8 with its secret", () => {
  const files = {
    "rsa/carol.pem": "carol.key.pem", "ecdsa/moon.pem": "moon.key.pem", "pkcs8/dave.der": "dave.key.der",
    "private/sun.pem": "sun.key.pem", "private/dave.enc.pem": "dave.key.enc.pem",
  };
  const secrets = `secrets {\n private-dave {\n  file = dave.enc.pem\n  secret = "dave's secret"\n }\n}\n`;
  const { cfg, issues } = load(secrets, files);
  assert.deepEqual(issues, []);
  const spki = (k: import("node:crypto").KeyObject) => createPublicKey(k).export({ type: "spki", format: "der" }).toString("hex");
  const want = ["carol.crt", "moon.crt", "dave.crt", "sun.crt", "dave.crt"].map((c) => spkiOfCert(c).toString("hex"));
  assert.deepEqual(cfg!.privateKeys.map(spki).sort(), want.sort());
  // The decrypted key is dave's (independently: openssl made dave.key.der from the same key).
  const dave = createPrivateKey({ key: pki("dave.key.der"), format: "der", type: "sec1" }); // openssl pkey wrote SEC1
  assert.ok(cfg!.privateKeys.filter((k) => spki(k) === spki(dave)).length === 2);
});

test("keys that cannot be used: encrypted without (or with a wrong) passphrase, wrong type for the directory, a secret for no file", () => {
  assert.deepEqual(load("", { "private/dave.enc.pem": "dave.key.enc.pem" }).issues, [
    "DIR/private/dave.enc.pem: cannot load private key: the key is encrypted: give its passphrase in secrets { private-<name> { file = <this file's name>; secret = ... } }",
  ]);
  assert.deepEqual(load("secrets { private-d { file = dave.enc.pem\n secret = wrong } }", { "private/dave.enc.pem": "dave.key.enc.pem" }).issues, [
    "DIR/private/dave.enc.pem: cannot load private key: the configured secret does not decrypt it",
  ]);
  // A passphrase for rsa/ does not apply to private/ (load_creds.c matches the section's type prefix).
  assert.deepEqual(load("secrets { rsa-d { file = dave.enc.pem\n secret = \"dave's secret\" } }", { "private/dave.enc.pem": "dave.key.enc.pem" }).issues, [
    "DIR/private/dave.enc.pem: cannot load private key: the key is encrypted: give its passphrase in secrets { private-<name> { file = <this file's name>; secret = ... } }",
    "DIR/swanctl.conf:1:19: secrets.rsa-d.file = dave.enc.pem: no such file DIR/rsa/dave.enc.pem",
  ]);
  assert.deepEqual(load("", { "rsa/moon.pem": "moon.key.pem", "ecdsa/carol.pem": "carol.key.pem" }).issues, [
    "DIR/rsa/moon.pem: cannot load private key: ECDSA P-384 key in rsa/ (RSA keys only; other types go in private/)",
    "DIR/ecdsa/carol.pem: cannot load private key: RSA 2048 key in ecdsa/ (ECDSA keys only; other types go in private/)",
  ]);
  assert.deepEqual(load("secrets { pkcs8-x { secret = s } }").issues, ["DIR/swanctl.conf:1:11: secrets.pkcs8-x: missing file = <name of the key in pkcs8/>"]);
});

test("certificate files: one per file; directories we cannot use must be empty", () => {
  assert.deepEqual(load("", { "x509ca/chain.pem": "long.pem", "x509crl/ca.crl": Buffer.from("x"), "pubkey/k.pem": Buffer.from("x") }).issues, [
    "DIR/x509ca/chain.pem: cannot load certificate: holds 10 certificates; swanctl loads one per file (split the bundle)",
    "DIR/x509crl/ca.crl: not supported by wasm-ipsec: certificate revocation lists (CRL checking) (x509crl/ must be empty)",
    "DIR/pubkey/k.pem: not supported by wasm-ipsec: raw public keys (pubkey/ must be empty)",
  ]);
  assert.deepEqual(load(conn("certs = nothere.crt"), MOON_FILES).issues, [
    "DIR/swanctl.conf:4:4: connections.gw.local.certs = nothere.crt: cannot read DIR/x509/nothere.crt: no such file",
  ]);
});

test("remote: cacerts restrict the trust anchors, certs pin the peer's certificate; absolute paths and 0x DER work", () => {
  const { cfg } = load(conn("certs = moon.crt", "auth = pubkey\n   cacerts = root.crt"), MOON_FILES);
  assert.deepEqual(cfg!.connections[0].remote.cacerts!.map((x) => x.der), [der("root.crt")]);
  const pinned = load(conn("certs = moon.crt", `certs = ${join(PKI, "sun.crt")}`), MOON_FILES).cfg!.connections[0].remote;
  assert.deepEqual([pinned.auth, pinned.cacerts!.map((x) => x.der)], ["pubkey", [der("sun.crt")]], "no auth key: certs imply pubkey");
  const inline = load(conn(`certs = 0x${der("moon.crt").toString("hex")}`), MOON_FILES).cfg!.connections[0].local.certs!;
  assert.deepEqual(inline[0].der, der("moon.crt"));
  assert.deepEqual(load(conn("certs = moon.crt", "certs = moon.crt\n   cacerts = root.crt"), MOON_FILES).issues, [
    "DIR/swanctl.conf:8:4: connections.gw.remote.cacerts: not supported by wasm-ipsec: cacerts together with a pinned peer certificate (certs)",
  ]);
  assert.deepEqual(load(conn("auth = psk", "auth = psk\n   cacerts = root.crt"), MOON_FILES).issues, [
    "DIR/swanctl.conf:8:4: connections.gw.remote: certs and cacerts need auth = pubkey",
  ]);
});

test("auth aliases of pubkey (vici parse_auth), and what stays unsupported", () => {
  for (const a of ["pubkey", "rsa", "ecdsa", "rsa/pss", "ike:pubkey", "ike:ecdsa"]) {
    const { cfg, issues } = load(conn(`auth = ${a}\n   certs = moon.crt`, `auth = ${a}`), MOON_FILES);
    assert.deepEqual([issues, cfg?.connections[0].local.auth, cfg?.connections[0].remote.auth], [[], "pubkey", "pubkey"], a);
  }
  const problems = load(conn("certs = moon.crt\n   cacerts = im.crt", "auth = ecdsa-sha384\n   revocation = strict\n   pubkeys = k.pem\n   cert_policy = 1.2.3\n   ca_id = x",
    "send_cert = always\n  ocsp = request"), MOON_FILES).issues;
  assert.deepEqual(problems, [
    "DIR/swanctl.conf:5:4: connections.gw.local.cacerts: not supported by wasm-ipsec: CA constraints on our own certificate",
    "DIR/swanctl.conf:8:4: connections.gw.remote.auth = ecdsa-sha384: not supported by wasm-ipsec: signature scheme and key strength constraints (use auth = pubkey)",
    "DIR/swanctl.conf:9:4: connections.gw.remote.revocation = strict: not supported by wasm-ipsec: revocation checking (CRL, OCSP): only relaxed",
    "DIR/swanctl.conf:10:4: connections.gw.remote.pubkeys = k.pem: not supported by wasm-ipsec: raw public keys (use certificates)",
    "DIR/swanctl.conf:11:4: connections.gw.remote.cert_policy = 1.2.3: not supported by wasm-ipsec: certificate policy constraints",
    "DIR/swanctl.conf:12:4: connections.gw.remote.ca_id = x: not supported by wasm-ipsec: CA identity constraints (use cacerts)",
    "DIR/swanctl.conf:15:3: connections.gw.ocsp = request: not supported by wasm-ipsec: OCSP (only reply and never)",
  ]);
  const c = load(conn("certs = moon.crt", "auth = pubkey", "send_cert = always\n  send_certreq = no\n  ocsp = never"), MOON_FILES).cfg!.connections[0];
  assert.deepEqual([c.sendCert, c.sendCertreq], ["always", false]);
});
