// Certificate authentication between two of our engines (tasks/ike-auth.ts with auth/pubkey.ts), on the
// openssl-made PKI of test/fixtures/pki: CERTREQ/CERT exchange, RFC 7427 schemes, DN identities,
// failures reported on the side that detects them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IkePair, conn } from "../helpers/ike-pair.js";
import { loadPrivateKey } from "../../src/ike/auth/keys.js";
import { decodeMessage, openEncrypted, PayloadType } from "../../src/ike/wire/index.js";
import type { ConnectionConfig } from "../../src/ike/config.js";
import { NOW, cert, fixture } from "./ike-auth-cert-fixtures.js";

const [root, im, moon, sun, other] = ["root", "im", "moon", "sun", "other"].map(cert);
const moonKey = loadPrivateKey(fixture("moon.key.pem")), sunKey = loadPrivateKey(fixture("sun.key.pem"));

function pair(a: Partial<ConnectionConfig>, b: Partial<ConnectionConfig>, anchorsB = [root], now = NOW) {
  const p = new IkePair(
    conn("moon-sun", "192.0.2.1", "192.0.2.2", {
      local: { auth: "pubkey", id: "moon.strongswan.org", certs: [moon, im] }, remote: { auth: "pubkey", id: "sun.strongswan.org" }, ...a,
    }),
    conn("sun-moon", "192.0.2.2", "192.0.2.1", {
      local: { auth: "pubkey", id: "sun.strongswan.org", certs: [sun, im] }, remote: { auth: "pubkey", id: "moon.strongswan.org" }, ...b,
    }));
  Object.assign(p.a.engine, { privateKeys: [moonKey], caCerts: [root], wallClock: () => now });
  Object.assign(p.b.engine, { privateKeys: [sunKey], caCerts: anchorsB, wallClock: () => now });
  return p;
}

const logs = (p: IkePair) => ({ a: p.a.log.join("\n"), b: p.b.log.join("\n") });

/** Payload types of each message (inner ones for encrypted messages), with its direction. */
function payloadTypes(p: IkePair): string[] {
  const [sa] = p.a.engine.sas(), [sb] = p.b.engine.sas();
  return p.sent.map((w) => {
    const m = decodeMessage(w.data);
    const sk = m.payloads.some((x) => x.type === PayloadType.SK);
    const inner = sk ? openEncrypted(m, (w.dir === "a→b" ? sb : sa).decrypter).payloads : m.payloads;
    return `${w.dir} ${inner.map((x) => x.type).join(",")}`;
  });
}

test("ECDSA P-384 (with intermediate) against Ed25519 certificates: CERTREQ asks, CERT answers, RFC 7427 signatures verify", () => {
  const p = pair({ fragmentation: false }, { fragmentation: false }); // to see the payloads (the other tests fragment)
  p.a.engine.initiate("moon-sun");
  p.run();
  const [sa] = p.a.engine.sas(), [sb] = p.b.engine.sas();
  assert.equal(sa?.state, "established", logs(p).a);
  assert.equal(sb?.state, "established", logs(p).b);
  assert.match(logs(p).a, /authentication of 'moon.strongswan.org' \(myself\) with ECDSA_WITH_SHA384_DER/);
  assert.match(logs(p).b, /authentication of 'moon.strongswan.org' with ECDSA_WITH_SHA384_DER successful \(certificate 'C=CH, O=strongSwan Test, CN=moon.strongswan.org', trusted CA 'C=CH, O=strongSwan Test, CN=strongSwan Test Root CA'\)/);
  assert.match(logs(p).a, /authentication of 'sun.strongswan.org' with ED25519 successful/);
  assert.deepEqual(sa.peerHashes, [2, 3, 4, 5]);
  const types = payloadTypes(p);
  // IKE_SA_INIT response carries a CERTREQ (38); IKE_AUTH request: IDi, CERT, CERT, CERTREQ, IDr, AUTH, ...; response: IDr, CERT, CERT, AUTH, ...
  assert.match(types[1], /^b→a 33,34,40,41,41,41,38$/);
  assert.match(types[2], /^a→b 35,37,37,38,36,39,41,33,44,45$/);
  assert.match(types[3], /^b→a 36,37,37,39,33,44,45$/);
  assert.equal([...sa.children.values()][0]?.state, "installed");
});

test("DN identities: subject DN sent by default, matched against a wildcard DN", () => {
  const p = pair({ local: { auth: "pubkey", id: "%any", certs: [moon, im] }, remote: { auth: "pubkey", id: "C=CH, O=strongSwan Test, CN=sun.strongswan.org" } },
    { local: { auth: "pubkey", id: "C=CH, O=strongSwan Test, CN=sun.strongswan.org", certs: [sun, im] }, remote: { auth: "pubkey", id: "C=CH, O=strongSwan Test, CN=*" } });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(p.a.engine.sas()[0]?.state, "established", logs(p).a + logs(p).b);
  assert.match(logs(p).b, /authentication of 'C=CH, O=strongSwan Test, CN=moon.strongswan.org' with ECDSA_WITH_SHA384_DER successful/);
  assert.match(logs(p).a, /IKE_SA moon-sun\[\d+\] established between 192.0.2.1\[C=CH, O=strongSwan Test, CN=moon.strongswan.org\]\.\.\.192.0.2.2\[C=CH, O=strongSwan Test, CN=sun.strongswan.org\]/);
});

test("untrusted, expired and misnamed certificates fail where they are checked, with the reason in the log", () => {
  let p = pair({}, {}, [other]);
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(p.a.engine.sas().length + p.b.engine.sas().length, 0);
  assert.match(logs(p).b, /authentication of 'moon.strongswan.org' failed: no trusted path to a CA for 'C=CH, O=strongSwan Test, CN=moon.strongswan.org'/);
  assert.match(logs(p).a, /AUTHENTICATION_FAILED\): check the certificates and trust anchors/);

  p = pair({}, {}, [root], new Date("2043-01-01T00:00:00Z"));
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.match(logs(p).b, /certificate for 'C=CH, O=strongSwan Test, CN=moon.strongswan.org' expired on 2042-01-01T00:00:00Z/);

  p = pair({ remote: { auth: "pubkey", id: "%any" } }, { local: { auth: "pubkey", id: "192.0.2.9", certs: [sun, im] } });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.match(logs(p).b, /authentication of '192.0.2.9' \(myself\) failed: identity '192.0.2.9' not in certificate subject or subjectAltNames/);

  // Without a CERTREQ and with send_cert=ifasked, the responder's certificate never comes.
  p = pair({ sendCertreq: false }, {});
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.match(logs(p).a, /authentication of 'sun.strongswan.org' failed: no certificate received for 'sun.strongswan.org'/);
  p = pair({}, { sendCert: "never" });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.match(logs(p).a, /no certificate received/);
});

test("mixed: certificate one way, pre-shared key the other", () => {
  const p = pair({ remote: { auth: "psk", id: "sun.strongswan.org" } }, { local: { auth: "psk", id: "sun.strongswan.org" } });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(p.a.engine.sas()[0]?.state, "established", logs(p).a + logs(p).b);
  assert.match(logs(p).b, /with ECDSA_WITH_SHA384_DER successful/);
  assert.match(logs(p).a, /authentication of 'sun.strongswan.org' with pre-shared key successful/);
});
