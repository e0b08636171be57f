// Certificate authentication (RFC 7427 signatures, RFC 8420 Ed25519) of our IKEv2 engine against strongSwan 5.9
// (charon, kernel-libipsec), both roles, on a PKI that openssl makes for each run; a certificate from a CA the other
// side does not trust, either way; a make-before-break reauthentication; and NAT keepalives across a real NAT
// (nftables masquerade). The proof is charon's own view: `swanctl --list-sas` shows the IKE_SA ESTABLISHED with the
// expected identities and the CHILD_SA INSTALLED with our SPIs, charon's log names the signature scheme it verified
// and the keys it derived, which equal ours, and ESP that charon sends decrypts in our data plane. Keepalives are
// seen on the wire by dumpcap and decoded by tshark. Needs root and `bash scripts/install-test-deps.sh`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  Capture, CHARON, Charon, connect, createNetns, decode, makeNatRouter, makeRunDir, setupHarness, sleep, waitUntil,
  type ConfSection, type IkeSa as CharonIke, type ChildSa as CharonChild, type Netns,
} from "./harness/index.js";
import { Peer, type ListReply } from "./peer/peer-process.js";
import type { ChildInfo, IkeInfo, PeerConnJson } from "./peer/ike-peer.js";

setupHarness(["ip", "mount", "ping", CHARON, "swanctl", "openssl", "nft", "dumpcap", "tshark"]);

// charon is moon, we are sun. Direct link 192.0.2.0/25; for the NAT case, sun2 sits in 198.51.100.128/25 behind a
// router that masquerades it as 192.0.2.254 towards moon's second address.
const MOON = { outer: "192.0.2.1", natSide: "192.0.2.129", inner: "198.51.100.1", fqdn: "moon.example" };
const SUN = { outer: "192.0.2.2", inner: "203.0.113.1", fqdn: "sun.example" };
const NAT = { outside: "192.0.2.254", inside: "198.51.100.129", sun: "198.51.100.130" };
const IKE = "aes256gcm16-prfsha384-ecp384", ESP = "aes256gcm16";
const DN = (cn: string) => `C=CH, O=wasm-ipsec interop, CN=${cn}`;

let moon: Netns, sun: Netns, router: Netns, sun2: Netns, charon: Charon, moonNatIface: string;
let pki: Pki;

// ------------------------------------------------------------------ the PKI (openssl CLI)

type KeyKind = "ecdsa-p256" | "ecdsa-p384" | "ed25519" | "rsa";

interface Pki { ca: string; rogueCa: string; cert(name: string): string; key(name: string): string }

const KEYGEN: Record<KeyKind, string[]> = {
  "ecdsa-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  "ecdsa-p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
  ed25519: ["-algorithm", "ED25519"],
  rsa: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
};

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

/**
 * An ECDSA P-384 root CA (and an unrelated "rogue" one, also P-384), and end-entity certificates signed by
 * them (ecdsa-with-SHA384), each with its DN and a subjectAltName dNSName, keyUsage digitalSignature.
 * Keys are PKCS#8 PEM (openssl genpkey) for us; what charon loads is placed by makeCharonCreds().
 */
function makePki(): Pki {
  const dir = makeRunDir("pki");
  const path = (n: string) => join(dir, n);
  const genkey = (name: string, kind: KeyKind) => openssl(["genpkey", ...KEYGEN[kind], "-out", path(`${name}.key`)]);
  const ca = (name: string, cn: string) => {
    genkey(name, "ecdsa-p384");
    openssl(["req", "-x509", "-new", "-key", path(`${name}.key`), "-subj", `/C=CH/O=wasm-ipsec interop/CN=${cn}`, "-days", "2", "-sha384",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-addext", "subjectKeyIdentifier=hash", "-out", path(`${name}.crt`)]);
  };
  ca("ca", "Interop Root CA");
  ca("rogue", "Rogue CA");
  const ee = (name: string, kind: KeyKind, fqdn: string, issuer = "ca") => {
    genkey(name, kind);
    // OpenSSL 3 `req -x509 -CA`: a certificate for this key, issued by `issuer`.
    openssl(["req", "-x509", "-new", "-key", path(`${name}.key`), "-CA", path(`${issuer}.crt`), "-CAkey", path(`${issuer}.key`),
      "-subj", `/C=CH/O=wasm-ipsec interop/CN=${fqdn}`, "-days", "2", "-sha384",
      "-addext", "basicConstraints=CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
      "-addext", `subjectAltName=DNS:${fqdn}`, "-addext", "subjectKeyIdentifier=hash", "-addext", "authorityKeyIdentifier=keyid",
      "-out", path(`${name}.crt`)]);
  };
  ee("moon-ecdsa", "ecdsa-p256", MOON.fqdn);
  ee("sun-ecdsa", "ecdsa-p384", SUN.fqdn);
  ee("moon-ed25519", "ed25519", MOON.fqdn);
  ee("sun-ed25519", "ed25519", SUN.fqdn);
  ee("moon-rsa", "rsa", MOON.fqdn);
  ee("sun-rsa", "rsa", SUN.fqdn);
  ee("sun-rogue", "ecdsa-p256", SUN.fqdn, "rogue");
  return { ca: path("ca.crt"), rogueCa: path("rogue.crt"), cert: (n) => path(`${n}.crt`), key: (n) => path(`${n}.key`) };
}

/**
 * charon's credentials in swanctl's layout next to its swanctl.conf (swanctl --load-all --file takes the directory of
 * the file as its base): x509/ (its certificates), x509ca/ (trust anchors: our CA only), and private keys by type as
 * swanctl 5.9 reads them: ecdsa/ (SEC1 "EC PRIVATE KEY"), rsa/ (PKCS#1), private/ (any type, PKCS#8: Ed25519).
 */
function makeCharonCreds(dir: string): void {
  const sub = (d: string) => { mkdirSync(join(dir, d), { recursive: true }); return join(dir, d); };
  copyFileSync(pki.ca, join(sub("x509ca"), "ca.crt"));
  for (const n of ["moon-ecdsa", "moon-ed25519", "moon-rsa"]) copyFileSync(pki.cert(n), join(sub("x509"), `${n}.crt`));
  writeFileSync(join(sub("ecdsa"), "moon-ecdsa.pem"), openssl(["ec", "-in", pki.key("moon-ecdsa")]));
  writeFileSync(join(sub("rsa"), "moon-rsa.pem"), openssl(["rsa", "-traditional", "-in", pki.key("moon-rsa")]));
  copyFileSync(pki.key("moon-ed25519"), join(sub("private"), "moon-ed25519.pem"));
}

before(async () => {
  moon = createNetns("moon");
  sun = createNetns("sun");
  router = createNetns("nat");
  sun2 = createNetns("sunnat");
  connect({ ns: moon, addrs: [`${MOON.outer}/25`] }, { ns: sun, addrs: [`${SUN.outer}/25`] });
  const outside = connect({ ns: moon, addrs: [`${MOON.natSide}/25`] }, { ns: router, addrs: [`${NAT.outside}/25`] });
  connect({ ns: router, addrs: [`${NAT.inside}/25`] }, { ns: sun2, addrs: [`${NAT.sun}/25`] });
  sun2.addRoute("default", NAT.inside);
  makeNatRouter(router, outside.bIface);
  moonNatIface = outside.aIface;
  moon.addLoopbackAddress(MOON.inner);
  pki = makePki();
  // rsa_pss: charon signs with RSASSA-PSS rather than PKCS#1 v1.5 (RFC 7427 allows both; we verify either).
  charon = await Charon.start(moon, { charon: { rsa_pss: true } });
  makeCharonCreds(charon.dir);
});

// ------------------------------------------------------------------ configurations

interface Scenario {
  /** moon-<kind> and sun-<kind> certificates (sun-rogue: ours from the rogue CA). */
  charonCert: string;
  ourCert: string;
  /** Identities as configured on each side (FQDN or DN). */
  charonId: string;
  ourId: string;
  /** We trust only the rogue CA (default: the interop CA). */
  trustRogue?: boolean;
  /** Our connection extras (keepalive, reauthTime...). */
  ours?: Partial<PeerConnJson>;
  /** Through the NAT: our engine in sun2, charon on its second address. */
  nat?: boolean;
}

const charonAddr = (s: Scenario) => (s.nat ? MOON.natSide : MOON.outer);
const ourAddr = (s: Scenario) => (s.nat ? NAT.sun : SUN.outer);

function certTunnel(s: Scenario): ConfSection {
  return {
    connections: {
      tunnel: {
        version: 2, local_addrs: charonAddr(s), remote_addrs: s.nat ? "%any" : SUN.outer, proposals: IKE, mobike: false,
        local: { auth: "pubkey", certs: `${s.charonCert}.crt`, id: s.charonId },
        remote: { auth: "pubkey", id: s.ourId },
        children: { child: { local_ts: `${MOON.inner}/32`, remote_ts: `${SUN.inner}/32`, esp_proposals: ESP, mode: "tunnel" } },
      },
    },
  };
}

async function startScenario(s: Scenario): Promise<Peer> {
  assert.deepEqual(await charon.listSas(), [], "charon has SAs left over from the previous scenario");
  await charon.load(certTunnel(s));
  return Peer.start(s.nat ? sun2 : sun, {
    addresses: [ourAddr(s)],
    connections: [{
      name: "ours", localAddrs: [ourAddr(s)], remoteAddrs: [charonAddr(s)], proposals: IKE, localId: s.ourId, remoteId: s.charonId,
      auth: "pubkey", certs: [pki.cert(s.ourCert)], ...s.ours,
      children: [{ name: "net", localTs: [`${SUN.inner}/32`], remoteTs: [`${MOON.inner}/32`], espProposals: ESP }],
    }],
    privateKeys: [pki.key(s.ourCert)],
    caCerts: [s.trustRogue ? pki.rogueCa : pki.ca],
  }, () => charon.diagnostics(15));
}

// ------------------------------------------------------------------ the proof

interface Tunnel { ours: IkeInfo; child: ChildInfo; theirs: CharonIke; theirChild: CharonChild }

/** charon's log lines for one IKE_SA (ike_name = yes prefixes them with <tunnel|id>). */
const charonLines = (ikeId: number) => charon.log().split("\n").filter((l) => l.includes(`<tunnel|${ikeId}>`));

/**
 * Waits until both sides show exactly one IKE SA with one CHILD_SA, then checks what charon reports (identities as
 * configured, SPIs, mirrored child SPIs) and that the IKE and ESP keys charon logged equal ours.
 */
async function agree(peer: Peer, s: Scenario, display: { charon: string; ours: string }): Promise<Tunnel> {
  let l: ListReply | undefined, sas: CharonIke[] = [];
  await waitUntil("both sides to settle", 10_000, async () => {
    [l, sas] = await Promise.all([peer.list(), charon.listSas()]);
    const settled = l.sas.length === 1 && l.sas[0].state === "established" && l.sas[0].children.length === 1 && sas.length === 1
      && sas[0].state === "ESTABLISHED" && sas[0].initiatorSpi === l.sas[0].spiI && sas[0].children.length === 1
      && sas[0].children[0].state === "INSTALLED" && sas[0].children[0].spiIn === l.sas[0].children[0].spiOut;
    return settled ? true : undefined;
  }, 100).catch(() => undefined); // the assertions below say what differs
  const dump = () => `ours: ${JSON.stringify(l?.sas)}\ncharon: ${JSON.stringify(sas, (k, v) => (k === "raw" ? undefined : v))}\n${peer.logTail()}`;
  assert.equal(l?.sas.length, 1, dump());
  assert.equal(sas.length, 1, dump());
  const ours = l!.sas[0], theirs = sas[0];
  assert.deepEqual([ours.state, theirs.state, ours.children.length, theirs.children.length], ["established", "ESTABLISHED", 1, 1], dump());
  const child = ours.children[0], theirChild = theirs.children[0];
  assert.deepEqual([theirs.initiatorSpi, theirs.responderSpi], [ours.spiI, ours.spiR]);
  assert.equal(theirs.initiator, !ours.initiator);
  assert.deepEqual([theirs.localId, theirs.remoteId], [display.charon, display.ours], "charon's view of both identities");
  assert.deepEqual([ours.localId, ours.remoteId], [display.ours, display.charon]);
  assert.deepEqual([theirs.localHost, theirs.localPort], [charonAddr(s), 4500]);
  assert.equal(theirChild.state, "INSTALLED");
  assert.deepEqual([theirChild.spiIn, theirChild.spiOut], [child.spiOut, child.spiIn]);
  assert.deepEqual([theirChild.localTs, theirChild.remoteTs], [[`${MOON.inner}/32`], [`${SUN.inner}/32`]]);
  assert.equal(l!.sadb, 2, "our data plane holds exactly the inbound and outbound SA of this child");
  // ESP keys: charon's inbound key is our outbound key and vice versa.
  const ck = charon.childKeys().filter((k) => k.spiIn === theirChild.spiIn && k.spiOut === theirChild.spiOut);
  assert.equal(ck.length, 1);
  assert.deepEqual([ck[0].encrIn.toString("hex"), ck[0].encrOut.toString("hex")], [child.keyOut, child.keyIn]);
  // IKE keys: charon's log for this IKE_SA against our key log.
  const ik = charon.ikeKeys().filter((k) => k.ikeId === theirs.uniqueId);
  const kl = peer.ikeKeyLog().filter((k) => k.spiI === ours.spiI && k.spiR === ours.spiR);
  assert.deepEqual([ik.length, kl.length], [1, 1]);
  assert.deepEqual([kl[0].skEi, kl[0].skEr], [ik[0].skEi.toString("hex"), ik[0].skEr.toString("hex")]);
  return { ours, child, theirs, theirChild };
}

/** Both sides say which signature scheme verified the other's AUTH, naming the certificate. */
function authenticated(peer: Peer, t: Tunnel, charonVerified: string, weVerified: string, charonCert: string): void {
  const theirLog = charonLines(t.theirs.uniqueId).join("\n");
  assert.ok(theirLog.includes(`authentication of '${t.theirs.remoteId}' with ${charonVerified} successful`),
    `charon should have verified our ${charonVerified} signature:\n${theirLog.split("\n").filter((x) => /authentication|cert/i.test(x)).join("\n")}`);
  const ourLog = peer.log().split("\n").filter((x) => x.includes(`<ours|${t.ours.uniqueId}>`)).join("\n");
  assert.ok(ourLog.includes(`authentication of '${t.ours.remoteId}' with ${weVerified} successful (certificate '${charonCert}', ` +
    `trusted CA '${DN("Interop Root CA")}')`), `we should have verified charon's ${weVerified} signature:\n${ourLog}`);
}

/** A ping from charon's inner address: charon encrypts it, our data plane must decrypt it with the inbound SA. */
async function espFromCharon(peer: Peer, t: Tunnel): Promise<void> {
  const since = peer.mark();
  await moon.execAsync(["ping", "-c", "1", "-W", "1", "-I", MOON.inner, SUN.inner], { check: false });
  const esp = await peer.waitEvent("ESP from charon", (e) => (e.event === "esp" ? e : undefined), since, 3000);
  assert.deepEqual(esp, { event: "esp", spi: t.child.spiIn, ok: true, status: "ok", inner: { src: MOON.inner, dst: SUN.inner, proto: 1 } });
}

const ikeUp = (peer: Peer, since: number) => peer.waitEvent("a new IKE SA", (e) => (e.event === "ike-up" ? (e.sa as IkeInfo) : undefined), since);
const ikeDown = (peer: Peer, since: number, spiI: string) => peer.waitEvent(`IKE SA ${spiI} to go`,
  (e) => (e.event === "ike-down" && e.spiI === spiI ? (e.reason as string) : undefined), since);

async function weInitiate(peer: Peer): Promise<void> {
  const since = peer.mark();
  await peer.cmd("initiate", { conn: "ours" });
  await peer.waitEvent("a CHILD_SA", (e) => (e.event === "child-up" ? true : undefined), since);
}

/** Runs `body` against our peer for scenario `s`; whatever happens, the peer stops and charon is left without SAs. */
async function withScenario(s: Scenario, body: (peer: Peer) => Promise<void>): Promise<void> {
  const peer = await startScenario(s);
  try {
    await body(peer);
  } finally {
    await peer.stop();
    await clearCharon();
  }
}

/** Drops what charon still holds (after a failed test) without waiting for a peer that is gone. */
async function clearCharon(): Promise<void> {
  for (const sa of await charon.listSas()) await charon.swanctl(["--terminate", "--ike-id", String(sa.uniqueId), "--force"], { check: false });
}

async function charonDeletes(peer: Peer, t: Tunnel): Promise<void> {
  const since = peer.mark();
  await charon.terminate({ ike: "tunnel" });
  assert.equal(await ikeDown(peer, since, t.ours.spiI), "deleted by peer");
  assert.deepEqual(await charon.listSas(), []);
}

// ------------------------------------------------------------------ scenarios

describe("ECDSA certificates (moon P-256, sun P-384, CA P-384), FQDN identities, we initiate", () => {
  const s: Scenario = { charonCert: "moon-ecdsa", ourCert: "sun-ecdsa", charonId: MOON.fqdn, ourId: SUN.fqdn, ours: { keepalive: 1 } };
  let peer: Peer, t: Tunnel;
  before(async () => { peer = await startScenario(s); });
  after(async () => { await peer?.stop(); await clearCharon(); });

  test("IKE_AUTH with CERTREQ/CERT: charon verifies ECDSA_WITH_SHA384_DER, we ECDSA_WITH_SHA256_DER; keys agree; ESP decrypts", { timeout: 30_000 }, async () => {
    await weInitiate(peer);
    t = await agree(peer, s, { charon: MOON.fqdn, ours: SUN.fqdn });
    assert.equal(t.ours.initiator, true);
    authenticated(peer, t, "ECDSA_WITH_SHA384_DER", "ECDSA_WITH_SHA256_DER", DN(MOON.fqdn));
    await espFromCharon(peer, t);
  });

  test("no keepalives without a real NAT: forced UDP encapsulation only fakes one (as charon's encap = yes)", { timeout: 30_000 }, async () => {
    await sleep(2500); // our keepalive interval is 1 s here
    const l = await peer.list();
    assert.deepEqual(l.sas[0].nat, { local: true, remote: true, fake: true });
    assert.equal(l.socket.keepalivesSent, 0);
    assert.equal(t.theirs.raw["nat-local"], undefined, "charon is not behind a NAT either");
  });

  test("reauthentication, make-before-break: a new IKE_SA with new certificates checks and the CHILD_SA recreated, then the old one deleted", { timeout: 30_000 }, async () => {
    const since = peer.mark(), logStart = charon.log().length;
    await peer.cmd("reauth");
    const fresh = await ikeUp(peer, since);
    assert.equal(await ikeDown(peer, since, t.ours.spiI), "deleted");
    const n = await agree(peer, s, { charon: MOON.fqdn, ours: SUN.fqdn });
    assert.deepEqual([n.ours.spiI, n.ours.spiR], [fresh.spiI, fresh.spiR]);
    assert.notEqual(n.ours.spiI, t.ours.spiI);
    assert.notEqual(n.child.spiIn, t.child.spiIn);
    assert.notEqual(n.theirs.uniqueId, t.theirs.uniqueId);
    authenticated(peer, n, "ECDSA_WITH_SHA384_DER", "ECDSA_WITH_SHA256_DER", DN(MOON.fqdn));
    const log = charon.log().slice(logStart);
    // No INITIAL_CONTACT in the new IKE_AUTH: charon would destroy the old IKE_SA at once (even with unique = no).
    assert.doesNotMatch(log, /INITIAL_CONTACT|destroying duplicate IKE_SA/);
    assert.match(log, new RegExp(`<tunnel\\|${t.theirs.uniqueId}> received DELETE for IKE_SA tunnel\\[${t.theirs.uniqueId}\\]`));
    // charon's CHILD_SA of the new IKE_SA came up before the old IKE_SA went.
    const up = log.indexOf(`<tunnel|${n.theirs.uniqueId}> CHILD_SA child{${n.theirChild.uniqueId}} established`);
    const gone = log.indexOf(`received DELETE for IKE_SA tunnel[${t.theirs.uniqueId}]`);
    assert.ok(up >= 0 && up < gone, "make before break");
    await espFromCharon(peer, n);
    t = n;
  });

  test("charon DELETEs the IKE_SA", { timeout: 30_000 }, async () => {
    await charonDeletes(peer, t);
  });
});

describe("ECDSA certificates, DN identities, charon initiates", () => {
  const s: Scenario = { charonCert: "moon-ecdsa", ourCert: "sun-ecdsa", charonId: DN(MOON.fqdn), ourId: DN(SUN.fqdn) };

  test("charon sends its certificate on our CERTREQ; both verify subject DNs; keys agree; ESP decrypts", { timeout: 30_000 }, async () => {
    await withScenario(s, async (peer) => {
      await charon.initiate("child");
      const t = await agree(peer, s, { charon: DN(MOON.fqdn), ours: DN(SUN.fqdn) });
      assert.equal(t.ours.initiator, false);
      authenticated(peer, t, "ECDSA_WITH_SHA384_DER", "ECDSA_WITH_SHA256_DER", DN(MOON.fqdn));
      await espFromCharon(peer, t);
      await charonDeletes(peer, t);
    });
  });
});

describe("other key types", () => {
  test("Ed25519 certificates (RFC 8420), we initiate", { timeout: 30_000 }, async () => {
    const s: Scenario = { charonCert: "moon-ed25519", ourCert: "sun-ed25519", charonId: MOON.fqdn, ourId: SUN.fqdn };
    await withScenario(s, async (peer) => {
      await weInitiate(peer);
      const t = await agree(peer, s, { charon: MOON.fqdn, ours: SUN.fqdn });
      authenticated(peer, t, "ED25519", "ED25519", DN(MOON.fqdn));
      await espFromCharon(peer, t);
      await charonDeletes(peer, t);
    });
  });

  test("RSA 2048 certificates with RSASSA-PSS both ways (charon rsa_pss = yes), charon initiates", { timeout: 30_000 }, async () => {
    const s: Scenario = { charonCert: "moon-rsa", ourCert: "sun-rsa", charonId: MOON.fqdn, ourId: SUN.fqdn };
    await withScenario(s, async (peer) => {
      await charon.initiate("child");
      const t = await agree(peer, s, { charon: MOON.fqdn, ours: SUN.fqdn });
      authenticated(peer, t, "RSA_EMSA_PSS_SHA2_256_SALT_32", "RSA_EMSA_PSS_SHA2_256_SALT_32", DN(MOON.fqdn));
      await espFromCharon(peer, t);
      await charonDeletes(peer, t);
    });
  });
});

describe("untrusted certificates", () => {
  test("ours from a CA charon does not trust: charon refuses with AUTHENTICATION_FAILED and logs why", { timeout: 30_000 }, async () => {
    const s: Scenario = { charonCert: "moon-ecdsa", ourCert: "sun-rogue", charonId: MOON.fqdn, ourId: SUN.fqdn };
    await withScenario(s, async (peer) => {
      const since = peer.mark(), logStart = charon.log().length;
      await peer.cmd("initiate", { conn: "ours" });
      const why = await peer.waitEvent("the IKE SA to fail", (e) => (e.event === "ike-down" ? (e.reason as string) : undefined), since);
      assert.equal(why, "the peer rejected our authentication (AUTHENTICATION_FAILED): check the certificates and trust anchors and both identities");
      const log = charon.log().slice(logStart);
      // charon finds no path from our certificate to its CA, names the issuer, and refuses.
      assert.ok(log.includes(`no issuer certificate found for "${DN(SUN.fqdn)}"`), log);
      assert.ok(log.includes(`  issuer is "${DN("Rogue CA")}"`));
      assert.match(log, /generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]/);
      await charon.waitForSas("charon to drop the IKE_SA", (sas) => (sas.length === 0 ? true : undefined));
      assert.deepEqual((await peer.list()).sas, []);
    });
  });

  test("charon's from a CA we do not trust: we refuse with AUTHENTICATION_FAILED and say why", { timeout: 30_000 }, async () => {
    const s: Scenario = { charonCert: "moon-ecdsa", ourCert: "sun-ecdsa", charonId: MOON.fqdn, ourId: SUN.fqdn, trustRogue: true };
    await withScenario(s, async (peer) => {
      const logStart = charon.log().length;
      const r = await charon.swanctl(["--initiate", "--child", "child", "--timeout", "10"], { check: false, timeoutMs: 15_000 });
      assert.notEqual(r.code, 0, "swanctl reports the failed initiation");
      assert.match(charon.log().slice(logStart), /received AUTHENTICATION_FAILED notify error/);
      assert.match(peer.log(), new RegExp(`authentication of '${MOON.fqdn}' failed: no trusted path to a CA for '${DN(MOON.fqdn)}': ` +
        `no issuer certificate found for '${DN(MOON.fqdn)}' \\(issuer '${DN("Interop Root CA")}'\\)`));
      await charon.waitForSas("charon to drop the IKE_SA", (sas) => (sas.length === 0 ? true : undefined));
      assert.deepEqual((await peer.list()).sas, []);
    });
  });
});

describe("behind a NAT (nftables masquerade)", () => {
  test("we detect the NAT and send 0xFF keepalives from 4500 each idle interval; charon's ESP still reaches us", { timeout: 30_000 }, async (tc) => {
    const s: Scenario = { charonCert: "moon-ecdsa", ourCert: "sun-ecdsa", charonId: MOON.fqdn, ourId: SUN.fqdn, nat: true, ours: { keepalive: 1 } };
    await withScenario(s, async (peer) => {
      const cap = await Capture.start(moon, moonNatIface, { filter: "udp port 4500" });
      let path: string;
      let t: Tunnel, sent: number, before: number;
      try {
        await weInitiate(peer);
        t = await agree(peer, s, { charon: MOON.fqdn, ours: SUN.fqdn });
        assert.deepEqual(t.ours.nat, { local: true, remote: true, fake: false }, "behind a real NAT (charon only fakes one)");
        assert.deepEqual([t.theirs.remoteHost, t.theirs.raw["nat-remote"]], [NAT.outside, "yes"], "charon sees us behind the NAT");
        before = (await peer.list()).socket.keepalivesSent;
        await sleep(3500); // idle: a keepalive about every second
        sent = (await peer.list()).socket.keepalivesSent - before;
        await espFromCharon(peer, t);
      } finally {
        path = await cap.stop();
      }
      const kas = await decode(path, { filter: "udpencap.nat_keepalive", fields: ["ip.src", "udp.srcport", "ip.dst", "udp.dstport", "udp.length"] });
      tc.diagnostic(`keepalives: ${sent} sent in 3.5 s idle (interval 1 s), ${kas.length} captured at charon in the whole test`);
      assert.ok(sent >= 2, `keepalives sent: ${sent}`);
      assert.ok(kas.length >= sent, `charon's side saw ${kas.length} keepalives, we sent ${sent} (+ ${before} before)`);
      for (const k of kas) {
        // RFC 3948 §2.3: one octet 0xFF (UDP length 9), from the NAT's mapping of our port 4500 to charon's 4500.
        assert.deepEqual([k["ip.src"], k["udp.srcport"], k["ip.dst"], k["udp.dstport"], k["udp.length"]],
          [[NAT.outside], [String(t.theirs.remotePort)], [MOON.natSide], ["4500"], ["9"]]);
      }
      await charonDeletes(peer, t);
    });
  });
});
