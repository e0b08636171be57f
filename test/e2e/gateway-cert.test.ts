// `wasm-ipsec daemon` with certificates configured as strongSwan's swanctl is: one swanctl.conf template for both
// ends (auth = pubkey, certs = <file in x509/>), credentials in swanctl's directories next to the file (x509/,
// x509ca/, ecdsa/, rsa/), loaded by `--load-all` on each side. Our daemon against charon (kernel-libipsec), ECDSA
// and RSA certificates from a CA openssl makes for the run, each side initiating; the proof is both logs naming
// the signature scheme each verified, `swanctl --list-sas` showing the identities from the certificates, and
// pings through the tunnel. Needs root and `bash scripts/install-test-deps.sh`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CHARON, Charon, connect, createNetns, makeRunDir, mergeConf, pskTunnel, renderConf, setupHarness, waitUntil, type ConfSection, type Netns,
} from "./harness/index.js";
import { Daemon } from "./gw/daemon.js";
import { agreed, ours, strongswan, type TunnelEnd } from "./gw/peers.js";
import { A, B, CHILD, CONN, type Side } from "./gw/setup.js";
import { ping } from "./gw/traffic.js";

setupHarness(["ip", "ping", "mount", CHARON, "swanctl", "openssl"]);

const DN = (cn: string) => `C=CH, O=wasm-ipsec gateway, CN=${cn}`;
const CA_DN = DN("Gateway Test CA");

type Kind = "ecdsa" | "rsa";
const KEYGEN: Record<Kind, string[]> = {
  ecdsa: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  rsa: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
};

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

/** A P-384 CA and, per side and key type, a certificate for the side's FQDN (subjectAltName) and DN. */
function makePki(): { dir: string; file: (n: string) => string } {
  const dir = makeRunDir("gw-pki");
  const file = (n: string) => join(dir, n);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", file("ca.key")]);
  openssl(["req", "-x509", "-new", "-key", file("ca.key"), "-subj", "/C=CH/O=wasm-ipsec gateway/CN=Gateway Test CA", "-days", "2", "-sha384",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
    "-out", file("ca.crt")]);
  for (const s of [A, B]) {
    for (const kind of ["ecdsa", "rsa"] as const) {
      const n = `${s.label}-${kind}`;
      openssl(["genpkey", ...KEYGEN[kind], "-out", file(`${n}.key`)]);
      openssl(["req", "-x509", "-new", "-key", file(`${n}.key`), "-CA", file("ca.crt"), "-CAkey", file("ca.key"),
        "-subj", `/C=CH/O=wasm-ipsec gateway/CN=${s.id}`, "-days", "2", "-sha256",
        "-addext", "basicConstraints=CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
        "-addext", `subjectAltName=DNS:${s.id}`, "-addext", "subjectKeyIdentifier=hash", "-addext", "authorityKeyIdentifier=keyid",
        "-out", file(`${n}.crt`)]);
    }
  }
  return { dir, file };
}

let pki: ReturnType<typeof makePki>;

/** swanctl's layout in `dir`: x509ca/ca.crt, x509/<side>-<kind>.crt, and the key where swanctl reads that type:
 *  ecdsa/ (SEC1 "EC PRIVATE KEY"), rsa/ (PKCS#1 "RSA PRIVATE KEY"). */
function placeCreds(dir: string, side: Side, kind: Kind): void {
  const n = `${side.label}-${kind}`;
  for (const d of ["x509", "x509ca", "ecdsa", "rsa"]) rmSync(join(dir, d), { recursive: true, force: true }); // the previous scenario's
  for (const d of ["x509", "x509ca", kind]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "x509ca", "ca.crt"), openssl(["x509", "-in", pki.file("ca.crt")]));
  writeFileSync(join(dir, "x509", `${n}.crt`), openssl(["x509", "-in", pki.file(`${n}.crt`)]));
  writeFileSync(join(dir, kind, `${n}.pem`), openssl([kind === "ecdsa" ? "ec" : "rsa", ...(kind === "rsa" ? ["-traditional"] : []), "-in", pki.file(`${n}.key`)]));
}

/** The one template both ends load: certificates named as files in x509/, identities FQDN or DN. */
function certConf(local: Side, remote: Side, kind: Kind, ids: "fqdn" | "dn"): ConfSection {
  const id = (s: Side) => (ids === "fqdn" ? s.id : DN(s.id));
  return {
    connections: {
      [CONN]: {
        version: 2, local_addrs: local.outer, remote_addrs: remote.outer, proposals: "aes128-sha256-x25519", mobike: false,
        reauth_time: "1h",
        local: { auth: "pubkey", certs: `${local.label}-${kind}.crt`, id: id(local) },
        remote: { auth: "pubkey", id: id(remote) },
        children: { [CHILD]: { local_ts: local.net, remote_ts: remote.net, esp_proposals: "aes128gcm16", mode: "tunnel" } },
      },
    },
  };
}

let a: Netns, b: Netns, da: Daemon, charon: Charon;

before(async () => {
  pki = makePki();
  a = createNetns("certa");
  b = createNetns("certb");
  connect({ ns: a, iface: "wan", addrs: [`${A.outer}/24`] }, { ns: b, iface: "wan", addrs: [`${B.outer}/24`] });
  for (const [ns, s] of [[a, A], [b, B]] as const) {
    ns.addLoopbackAddress(s.inner);
    ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1"); // no router solicitations into the TUN devices
  }
  // The daemon starts with a pre-shared key (its IKE socket binds the connection's address at start); each
  // scenario places credentials and a swanctl.conf in its directory and has it reload them (`wasm-ipsec
  // --load-all`), as an operator moving to certificates would.
  const psk = pskTunnel({ name: CONN, childName: CHILD, localAddr: A.outer, remoteAddr: B.outer, localId: A.id, remoteId: B.id,
    psk: "replaced by certificates", localTs: A.net, remoteTs: B.net });
  [da, charon] = await Promise.all([Daemon.start(a, "certa", mergeConf(psk, { "wasm-ipsec": { tun: { name: "wipc%d" } } })), Charon.start(b)]);
});

after(async () => { await Promise.all([da?.stop(), charon?.stop()]); });

async function load(kind: Kind, ids: "fqdn" | "dn"): Promise<void> {
  placeCreds(da.dir, A, kind);
  placeCreds(charon.dir, B, kind);
  writeFileSync(join(da.dir, "swanctl.conf"), renderConf(mergeConf(certConf(A, B, kind, ids), { "wasm-ipsec": { tun: { name: "wipc%d" } } })));
  const out = (await da.cli(["--load-all"])).stdout;
  assert.match(out, /loaded 1 connection\(s\), 0 secret\(s\), 2 certificate\(s\) and 1 private key\(s\)/, out);
  await charon.load(certConf(B, A, kind, ids));
}

async function settled(x: TunnelEnd, y: TunnelEnd): Promise<void> {
  await waitUntil("both ends to agree on the tunnel", 15_000, async () => (await agreed(x, y)) ?? undefined, 100)
    .catch((e: Error) => { throw new Error(`${e.message}\n${x.diagnostics()}\n${y.diagnostics()}`); });
}

/** Up, both logs name the scheme each verified, identities as configured, pings both ways, down. */
async function scenario(by: "ours" | "charon", kind: Kind, ids: "fqdn" | "dn", scheme: string): Promise<void> {
  const [me, sw] = [ours(da), strongswan(charon)];
  const logStart = charon.log().length, ourStart = da.log().length;
  await (by === "ours" ? me : sw).initiate();
  await settled(me, sw);
  const id = (s: Side) => (ids === "fqdn" ? s.id : DN(s.id));
  const [mine] = await da.listSas(), [theirs] = await charon.listSas();
  assert.deepEqual([mine.localId, mine.remoteId], [id(A), id(B)]);
  assert.deepEqual([theirs.localId, theirs.remoteId], [id(B), id(A)], "charon's view of both identities");
  assert.equal(mine.initiator, by === "ours");
  const theirLog = charon.log().slice(logStart), ourLog = da.log().slice(ourStart);
  assert.ok(theirLog.includes(`authentication of '${id(A)}' with ${scheme} successful`),
    `charon verified our ${scheme} signature:\n${theirLog.split("\n").filter((l) => /authentication|cert/i.test(l)).join("\n")}`);
  assert.ok(ourLog.includes(`authentication of '${id(B)}' with ${scheme} successful (certificate '${DN(B.id)}', trusted CA '${CA_DN}')`),
    `we verified charon's ${scheme} signature:\n${ourLog}`);
  await ping(a, A.inner, B.inner);
  await ping(b, B.inner, A.inner);
  await me.terminate();
  await waitUntil("no SAs left", 10_000, async () => ((await me.count()) + (await sw.count()) === 0 ? true : undefined), 100);
}

describe("ECDSA P-256 certificates, FQDN identities (subjectAltName dNSName)", () => {
  before(() => load("ecdsa", "fqdn"));

  test("we initiate: charon verifies ECDSA_WITH_SHA256_DER, so do we; pings both ways", async () => {
    await scenario("ours", "ecdsa", "fqdn", "ECDSA_WITH_SHA256_DER");
  });

  test("charon initiates", async () => {
    await scenario("charon", "ecdsa", "fqdn", "ECDSA_WITH_SHA256_DER");
  });

  test("--list-conns names our certificate; --list-sas shows when the IKE SA reauthenticates (reauth_time 1h)", async () => {
    const conns = (await da.cli(["--list-conns"])).stdout;
    assert.match(conns, new RegExp(`  local public key authentication:\\n    id: ${A.id}\\n    certs: ${DN(A.id)}\\n`), conns);
    assert.match(conns, new RegExp(`  remote public key authentication:\\n    id: ${B.id}\\n`), conns);
    await ours(da).initiate();
    await settled(ours(da), strongswan(charon));
    const text = (await da.cli(["--list-sas"])).stdout;
    // reauth_time 1h less up to rand_time (default over_time, 10% of it) of jitter: between 54 and 60 minutes from
    // now; the hard lifetime (--json only, as swanctl prints none) over_time (6 minutes) after that, as strongSwan's.
    const m = /\n {2}established \d+s ago, reauth in (\d+)m \d+s\n/.exec(text);
    assert.ok(m && Number(m[1]) >= 53 && Number(m[1]) <= 59, text);
    const [s] = await da.listSas();
    assert.ok(s.reauthInSeconds! > 53 * 60 && s.reauthInSeconds! <= 3600, String(s.reauthInSeconds));
    assert.ok(Math.abs(s.expiresInSeconds! - s.reauthInSeconds! - 360) < 1, `expires ${s.expiresInSeconds} reauth ${s.reauthInSeconds}`);
    await ours(da).terminate();
    await waitUntil("no SAs left", 10_000, async () => ((await ours(da).count()) === 0 ? true : undefined), 100);
  });
});

describe("RSA 2048 certificates, DN identities (the certificates' subjects)", () => {
  before(() => load("rsa", "dn"));

  // charon signs with PKCS#1 v1.5 unless charon.rsa_pss is set; we sign with RSASSA-PSS (RFC 7427).
  test("we initiate: charon verifies our RSASSA-PSS signature, we its PKCS#1 v1.5 one; pings both ways", async () => {
    const [me, sw] = [ours(da), strongswan(charon)];
    const logStart = charon.log().length, ourStart = da.log().length;
    await me.initiate();
    await settled(me, sw);
    assert.match(charon.log().slice(logStart), new RegExp(`authentication of '${DN(A.id)}' with RSA_EMSA_PSS_SHA2_256_SALT_32 successful`));
    assert.match(da.log().slice(ourStart), new RegExp(`authentication of '${DN(B.id)}' with RSA_EMSA_PKCS1_SHA2_256 successful`));
    await ping(a, A.inner, B.inner);
    await ping(b, B.inner, A.inner);
    await me.terminate();
    await waitUntil("no SAs left", 10_000, async () => ((await me.count()) + (await sw.count()) === 0 ? true : undefined), 100);
  });

  test("charon initiates", async () => {
    const [me, sw] = [ours(da), strongswan(charon)];
    const ourStart = da.log().length;
    await sw.initiate();
    await settled(me, sw);
    assert.equal((await da.listSas())[0].initiator, false);
    assert.match(da.log().slice(ourStart), new RegExp(`authentication of '${DN(B.id)}' with RSA_EMSA_PKCS1_SHA2_256 successful \\(certificate '${DN(B.id)}', trusted CA '${CA_DN}'\\)`));
    await ping(a, A.inner, B.inner);
    await ping(b, B.inner, A.inner);
    await sw.terminate();
    await waitUntil("no SAs left", 10_000, async () => ((await me.count()) + (await sw.count()) === 0 ? true : undefined), 100);
  });
});
