// Interoperability of our IKEv2 engine with strongSwan 5.9 (charon, kernel-libipsec) across a veth pair between two
// network namespaces: charon in one, our engine (test/e2e/peer/ike-peer.ts, on real UDP sockets) in the other, each
// side initiating and responding. The proof for every step is charon's own view: `swanctl --list-sas` shows the
// IKE_SA ESTABLISHED and the CHILD_SA INSTALLED with our SPIs mirrored, the ESP keys charon logged equal the keys
// we installed, the IKE keys it logged equal our key log, and ESP that charon sends decrypts in our data plane.
// Needs root and `bash scripts/install-test-deps.sh`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CHARON, Charon, connect, createNetns, pskTunnel, setupHarness, sleep, waitUntil, wiresharkIkeAlgorithms,
  type ChildSa as CharonChild, type ConfSection, type IkeSa as CharonIke, type Netns,
} from "./harness/index.js";
import type { ChildInfo, IkeInfo, PeerConfigJson } from "./peer/ike-peer.js";
import { Peer, type ListReply } from "./peer/peer-process.js";

setupHarness(["ip", "mount", "ping", CHARON, "swanctl"]);

const SW = { outer: "192.0.2.1", outer6: "fd00:2::1", inner: "198.51.100.1", id: "charon.test" };
const WE = { outer: "192.0.2.2", outer6: "fd00:2::2", inner: "203.0.113.1", id: "wasm.test" };
const PSK = "interop test pre-shared key";

/** A proposal pair and what charon must report for it (names and sizes from RFC 7296 §3.3.2 / RFC 5282 / RFC 4106). */
interface Suite {
  ike: string;
  esp: string;
  charonIke: [encr: string, keysize: number, integ: string | undefined, prf: string, dh: string];
  espKeyBits: number;
  /** SK_e and SK_a lengths in bytes (AES-GCM: key + 4-byte salt, no SK_a). */
  skE: number;
  skA: number;
}

const SUITE_CBC: Suite = {
  ike: "aes128-sha256-x25519", esp: "aes128gcm16",
  charonIke: ["AES_CBC", 128, "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256", "CURVE_25519"], espKeyBits: 128, skE: 16, skA: 32,
};
const SUITE_GCM: Suite = {
  ike: "aes256gcm16-prfsha384-ecp384", esp: "aes256gcm16",
  charonIke: ["AES_GCM_16", 256, undefined, "PRF_HMAC_SHA2_384", "ECP_384"], espKeyBits: 256, skE: 36, skA: 0,
};

let sw: Netns, we: Netns, charon: Charon;

before(async () => {
  sw = createNetns("sw");
  we = createNetns("we");
  connect({ ns: sw, addrs: [`${SW.outer}/24`, `${SW.outer6}/64`] }, { ns: we, addrs: [`${WE.outer}/24`, `${WE.outer6}/64`] });
  // charon routes the tunnel via ipsec0 with a source inside its local selector: that address must exist.
  sw.addLoopbackAddress(SW.inner);
  // The inbound SA replaced by a rekey lingers for delete_rekeyed_delay (default 5 s; 0 = until it expires): 1 s
  // keeps "the old SA is gone" quick to see.
  charon = await Charon.start(sw, { charon: { delete_rekeyed_delay: 1 } });
});

// ------------------------------------------------------------------ configurations

interface Scenario {
  suite: Suite;
  v6?: boolean;
  /** Extra keys for charon's connection (e.g. dpd_delay). */
  charonConn?: ConfSection;
  /** Our DPD interval in seconds (0: we never probe) and retransmission timers. */
  ourDpd?: number;
  timers?: PeerConfigJson["timers"];
}

const outer = (s: Scenario, side: typeof SW) => (s.v6 ? side.outer6 : side.outer);

async function startScenario(s: Scenario): Promise<Peer> {
  assert.deepEqual(await charon.listSas(), [], "charon has SAs left over from the previous scenario");
  await charon.load(pskTunnel({
    localAddr: outer(s, SW), remoteAddr: outer(s, WE), localId: SW.id, remoteId: WE.id, psk: PSK,
    localTs: `${SW.inner}/32`, remoteTs: `${WE.inner}/32`, ikeProposals: s.suite.ike, espProposals: s.suite.esp,
    conn: s.charonConn,
  }));
  return Peer.start(we, {
    addresses: [WE.outer, WE.outer6],
    timers: s.timers,
    connections: [{
      name: "ours", localAddrs: [outer(s, WE)], remoteAddrs: [outer(s, SW)], proposals: s.suite.ike,
      localId: WE.id, remoteId: SW.id, dpdDelay: s.ourDpd ?? 0,
      children: [{ name: "net", localTs: [`${WE.inner}/32`], remoteTs: [`${SW.inner}/32`], espProposals: s.suite.esp }],
    }],
    secrets: [{ ids: [WE.id, SW.id], secret: PSK }],
  }, () => charon.diagnostics(15));
}

// ------------------------------------------------------------------ the proof

interface Tunnel { ours: IkeInfo; child: ChildInfo; theirs: CharonIke; theirChild: CharonChild }

const settled = (l: ListReply, sas: CharonIke[]) => l.sas.length === 1 && l.sas[0].state === "established"
  && l.sas[0].children.length === 1 && l.sas[0].children[0].state === "installed"
  && sas.length === 1 && sas[0].state === "ESTABLISHED" && sas[0].initiatorSpi === l.sas[0].spiI
  && sas[0].children.length === 1 && sas[0].children[0].state === "INSTALLED"
  && sas[0].children[0].spiIn === l.sas[0].children[0].spiOut;

/**
 * Waits until both sides show exactly one IKE SA with exactly one CHILD_SA (so SAs replaced by a rekey are gone on
 * both), then checks that they agree on everything charon reports, and that the keys charon derived (from its log)
 * equal the ones we installed and logged.
 */
async function agree(peer: Peer, s: Scenario): Promise<Tunnel> {
  let l: ListReply | undefined, sas: CharonIke[] = [];
  await waitUntil("both sides to settle", 10_000, async () => {
    [l, sas] = await Promise.all([peer.list(), charon.listSas()]);
    return settled(l, sas) ? true : undefined;
  }, 100).catch(() => undefined); // the assertions below say what differs
  const dump = () => `ours: ${JSON.stringify(l?.sas)}\ncharon: ${JSON.stringify(sas, (k, v) => (k === "raw" ? undefined : v))}\n${peer.logTail()}`;
  assert.equal(l?.sas.length, 1, `we should have exactly one IKE SA\n${dump()}`);
  assert.equal(sas.length, 1, `charon should have exactly one IKE_SA\n${dump()}`);
  const ours = l!.sas[0], theirs = sas[0];
  assert.equal(ours.state, "established", dump());
  assert.equal(theirs.state, "ESTABLISHED", dump());
  assert.equal(ours.children.length, 1, `we should have exactly one CHILD_SA\n${dump()}`);
  assert.equal(theirs.children.length, 1, `charon should have exactly one CHILD_SA\n${dump()}`);
  const child = ours.children[0], theirChild = theirs.children[0];

  // IKE SA: same SPIs, opposite roles, charon's algorithm names for what was proposed, NAT-T ports.
  assert.deepEqual([theirs.initiatorSpi, theirs.responderSpi], [ours.spiI, ours.spiR]);
  assert.equal(theirs.initiator, !ours.initiator);
  assert.deepEqual([theirs.localHost, theirs.remoteHost, theirs.localId, theirs.remoteId], [outer(s, SW), outer(s, WE), SW.id, WE.id]);
  assert.deepEqual([theirs.localPort, theirs.remotePort], [4500, 4500]);
  assert.deepEqual([ours.local, ours.remote], [`${outer(s, WE)}[4500]`, `${outer(s, SW)}[4500]`]);
  assert.deepEqual([theirs.encrAlg, theirs.encrKeysize, theirs.integAlg, theirs.prfAlg, theirs.dhGroup], s.suite.charonIke);

  // CHILD_SA: mirrored SPIs, tunnel mode ESP in UDP, AES-GCM-16 without ESN, the configured selectors.
  assert.equal(theirChild.state, "INSTALLED");
  assert.deepEqual([theirChild.spiIn, theirChild.spiOut], [child.spiOut, child.spiIn]);
  assert.deepEqual([theirChild.mode, theirChild.protocol, theirChild.encap, theirChild.esn], ["TUNNEL", "ESP", true, false]);
  assert.deepEqual([theirChild.encrAlg, theirChild.encrKeysize, theirChild.integAlg], ["AES_GCM_16", s.suite.espKeyBits, undefined]);
  assert.deepEqual([theirChild.localTs, theirChild.remoteTs], [[`${SW.inner}/32`], [`${WE.inner}/32`]]);
  assert.deepEqual([child.localTs, child.remoteTs, child.udpEncap], [`${WE.inner}/32`, `${SW.inner}/32`, true]);
  assert.equal(l!.sadb, 2, "our data plane holds exactly the inbound and outbound SA of this child");
  assert.deepEqual([l!.socket.sendErrors, l!.socket.unattached], [0, 0]);

  // ESP keys: charon's inbound key is our outbound key and vice versa (key ‖ 4-byte salt, RFC 4106 §8.1).
  const ck = charon.childKeys().filter((k) => k.spiIn === theirChild.spiIn && k.spiOut === theirChild.spiOut);
  assert.equal(ck.length, 1, `charon's log should hold the keys of CHILD_SA ${theirChild.spiIn}/${theirChild.spiOut} once`);
  assert.equal(ck[0].childId, theirChild.uniqueId);
  assert.deepEqual([ck[0].encrIn.toString("hex"), ck[0].encrOut.toString("hex")], [child.keyOut, child.keyIn]);
  assert.equal(ck[0].encrIn.length, s.suite.espKeyBits / 8 + 4);
  assert.notEqual(child.keyIn, child.keyOut);

  // IKE keys: what charon logged for this IKE_SA equals our key log record for these SPIs.
  const ik = charon.ikeKeys().filter((k) => k.ikeId === theirs.uniqueId);
  assert.equal(ik.length, 1, `charon's log should hold the keys of IKE_SA ${theirs.uniqueId} once`);
  const kl = peer.ikeKeyLog().filter((k) => k.spiI === ours.spiI && k.spiR === ours.spiR);
  assert.equal(kl.length, 1, `our key log should hold the keys of IKE SA ${ours.spiI}_i ${ours.spiR}_r once`);
  const h = (b: Buffer) => b.toString("hex");
  assert.deepEqual([kl[0].skEi, kl[0].skEr, kl[0].skAi, kl[0].skAr], [h(ik[0].skEi), h(ik[0].skEr), h(ik[0].skAi), h(ik[0].skAr)]);
  assert.deepEqual([ik[0].skEi.length, ik[0].skAi.length], [s.suite.skE, s.suite.skA]);
  // The record names the algorithms as Wireshark does (the harness maps charon's names independently).
  const ws = wiresharkIkeAlgorithms(theirs.encrAlg!, theirs.encrKeysize!, theirs.integAlg);
  assert.deepEqual([kl[0].encr, kl[0].integ], [`"${ws.encryption}"`, `"${ws.integrity}"`]);
  return { ours, child, theirs, theirChild };
}

/** A ping from charon's inner address: charon encrypts it with its outbound SA, our data plane must decrypt it with
 *  the inbound SA we installed (ICV good, inner addresses intact). The ping itself gets no answer: we have no gateway. */
async function espFromCharon(peer: Peer, t: Tunnel): Promise<void> {
  const since = peer.mark();
  await sw.execAsync(["ping", "-c", "1", "-W", "1", "-I", SW.inner, WE.inner], { check: false });
  const esp = await peer.waitEvent("ESP from charon", (e) => (e.event === "esp" ? e : undefined), since, 3000);
  assert.deepEqual(esp, { event: "esp", spi: t.child.spiIn, ok: true, status: "ok", inner: { src: SW.inner, dst: WE.inner, proto: 1 } });
}

const childUp = (peer: Peer, since: number) => peer.waitEvent("a new CHILD_SA",
  (e) => (e.event === "child-up" ? (e.child as ChildInfo) : undefined), since);
const childDown = (peer: Peer, since: number, spiIn: string) => peer.waitEvent(`CHILD_SA ${spiIn} to go`,
  (e) => (e.event === "child-down" && (e.child as ChildInfo).spiIn === spiIn ? (e.reason as string) : undefined), since);
const ikeUp = (peer: Peer, since: number) => peer.waitEvent("a new IKE SA", (e) => (e.event === "ike-up" ? (e.sa as IkeInfo) : undefined), since);
const ikeDown = (peer: Peer, since: number, spiI: string) => peer.waitEvent(`IKE SA ${spiI} to go`,
  (e) => (e.event === "ike-down" && e.spiI === spiI ? (e.reason as string) : undefined), since);

/** A CHILD_SA rekey started by `who`: new SPIs and keys agree, the old SA is gone on both sides. */
async function rekeyChild(peer: Peer, s: Scenario, t: Tunnel, who: "we" | "charon"): Promise<Tunnel> {
  const since = peer.mark();
  if (who === "we") await peer.cmd("rekey-child");
  else await charon.rekey({ child: "child" });
  const fresh = await childUp(peer, since);
  assert.equal(await childDown(peer, since, t.child.spiIn), who === "we" ? "deleted" : "deleted by peer");
  const n = await agree(peer, s);
  assert.equal(n.child.spiIn, fresh.spiIn);
  assert.notEqual(n.child.spiOut, t.child.spiOut);
  assert.notEqual(n.child.keyIn, t.child.keyIn);
  assert.equal(n.ours.spiI, t.ours.spiI, "a CHILD_SA rekey keeps the IKE SA");
  // The exchange's initiator derives the "initiator" keys (RFC 7296 §2.17): charon must agree who that was.
  const ck = charon.childKeys().find((k) => k.spiIn === n.theirChild.spiIn)!;
  assert.equal(ck.initiator, who === "charon");
  return n;
}

/** An IKE SA rekey started by `who`: new SPIs and keys agree, the CHILD_SA moved over, the old IKE SA is gone. */
async function rekeyIke(peer: Peer, s: Scenario, t: Tunnel, who: "we" | "charon"): Promise<Tunnel> {
  const since = peer.mark();
  if (who === "we") await peer.cmd("rekey-ike");
  else await charon.rekey({ ike: "tunnel" });
  const fresh = await ikeUp(peer, since);
  assert.equal(await ikeDown(peer, since, t.ours.spiI), who === "we" ? "deleted" : "deleted by peer");
  const n = await agree(peer, s);
  assert.deepEqual([n.ours.spiI, n.ours.spiR], [fresh.spiI, fresh.spiR]);
  assert.notEqual(n.ours.spiI, t.ours.spiI);
  assert.notEqual(n.ours.spiR, t.ours.spiR);
  assert.notEqual(n.theirs.uniqueId, t.theirs.uniqueId);
  assert.equal(n.ours.initiator, who === "we", "whoever rekeys is the new IKE SA's initiator (RFC 7296 §2.18)");
  assert.deepEqual([n.child.spiIn, n.child.spiOut, n.child.keyIn], [t.child.spiIn, t.child.spiOut, t.child.keyIn],
    "the CHILD_SA moves to the new IKE SA unchanged");
  return n;
}

// ------------------------------------------------------------------ scenarios

describe("we initiate: aes128-sha256-x25519 / aes128gcm16 over IPv4", () => {
  const s: Scenario = { suite: SUITE_CBC };
  let peer: Peer, t: Tunnel;
  before(async () => { peer = await startScenario(s); });
  after(async () => { await peer?.stop(); });

  test("IKE_SA_INIT + IKE_AUTH: charon lists our SPIs, keys agree, charon's ESP decrypts in our data plane", { timeout: 30_000 }, async () => {
    const since = peer.mark();
    await peer.cmd("initiate", { conn: "ours" });
    await childUp(peer, since);
    t = await agree(peer, s);
    assert.equal(t.ours.initiator, true);
    await espFromCharon(peer, t);
  });

  test("our port 4500 socket sorts what arrives: NAT keepalive, ESP (to the hook), IKE behind the Non-ESP marker", { timeout: 30_000 }, async () => {
    const before = await peer.list();
    const since = peer.mark();
    // RFC 3948 §2.2/§2.3: 0xFF alone is a keepalive; a non-zero first word is an ESP SPI; four zero bytes mark IKE
    // (here an IKE header too short to parse, which the engine must count as dropped and never answer).
    const send = `const s = require("node:dgram").createSocket("udp4");
      const d = [Buffer.from([0xff]), Buffer.concat([Buffer.from("1234567800000001", "hex"), Buffer.alloc(56, 7)]), Buffer.alloc(12)];
      s.bind(0, ${JSON.stringify(SW.outer)}, async () => {
        for (const x of d) await new Promise((r) => s.send(x, 4500, ${JSON.stringify(WE.outer)}, r));
        s.close();
      });`;
    await sw.execAsync([process.execPath, "-e", send]);
    const esp = await peer.waitEvent("ESP with an unknown SPI", (e) => (e.event === "esp" ? e : undefined), since);
    assert.deepEqual(esp, { event: "esp", spi: "12345678", ok: false, status: "unknown_spi" });
    const after = await waitUntil("the socket to count three datagrams", 5000, async () => {
      const l = await peer.list();
      return l.socket.received === before.socket.received + 3 ? l : undefined;
    });
    const delta = (k: keyof ListReply["socket"]) => after.socket[k] - before.socket[k];
    assert.deepEqual([delta("keepalives"), delta("esp"), delta("ike"), delta("sent")], [1, 1, 1, 0]);
    assert.equal(after.engine.received - before.engine.received, 1);
    const dropped = (l: ListReply) => Object.values(l.engine.dropped).reduce((a, b) => a + b, 0);
    assert.equal(dropped(after) - dropped(before), 1);
    assert.equal(after.sas[0].spiI, t.ours.spiI, "the IKE SA is unaffected");
  });

  test("CHILD_SA rekey started by us, then by charon", { timeout: 30_000 }, async () => {
    t = await rekeyChild(peer, s, t, "we");
    await espFromCharon(peer, t);
    t = await rekeyChild(peer, s, t, "charon");
  });

  test("IKE_SA rekey started by us, then by charon; a CHILD_SA rekey on the new IKE SA", { timeout: 30_000 }, async () => {
    t = await rekeyIke(peer, s, t, "we");
    t = await rekeyIke(peer, s, t, "charon");
    t = await rekeyChild(peer, s, t, "we");
  });

  test("DELETE of the CHILD_SA by charon; we create a new one (CREATE_CHILD_SA) and DELETE it; we DELETE the IKE_SA", { timeout: 30_000 }, async () => {
    let since = peer.mark();
    await charon.terminate({ child: "child" });
    assert.equal(await childDown(peer, since, t.child.spiIn), "deleted by peer");
    assert.deepEqual((await charon.listSas())[0].children, []);
    let l = await peer.list();
    assert.deepEqual([l.sas.length, l.sas[0].children.length, l.sadb], [1, 0, 0]);

    since = peer.mark();
    await peer.cmd("initiate", { conn: "ours", child: "net" });
    const fresh = await childUp(peer, since);
    const n = await agree(peer, s);
    assert.equal(n.child.spiIn, fresh.spiIn);
    assert.equal(n.ours.spiI, t.ours.spiI, "the new CHILD_SA lives on the same IKE SA");
    await espFromCharon(peer, n);

    since = peer.mark();
    await peer.cmd("terminate-child");
    assert.equal(await childDown(peer, since, n.child.spiIn), "deleted");
    await charon.waitForSas("charon to delete the CHILD_SA", (sas) => (sas.length === 1 && sas[0].children.length === 0 ? true : undefined));
    assert.equal((await peer.list()).sadb, 0);

    since = peer.mark();
    await peer.cmd("terminate-ike");
    assert.equal(await ikeDown(peer, since, n.ours.spiI), "deleted");
    await charon.waitForSas("charon to delete the IKE_SA", (sas) => (sas.length === 0 ? true : undefined));
    l = await peer.list();
    assert.deepEqual([l.sas.length, l.sadb], [0, 0]);
  });
});

describe("charon initiates: aes256gcm16-prfsha384-ecp384 / aes256gcm16 over IPv4", () => {
  const s: Scenario = { suite: SUITE_GCM };
  let peer: Peer, t: Tunnel;
  before(async () => { peer = await startScenario(s); });
  after(async () => { await peer?.stop(); });

  test("IKE_SA_INIT + IKE_AUTH: charon lists our SPIs, keys agree, charon's ESP decrypts in our data plane", { timeout: 30_000 }, async () => {
    await charon.initiate("child");
    t = await agree(peer, s);
    assert.equal(t.ours.initiator, false);
    await espFromCharon(peer, t);
  });

  test("CHILD_SA rekey started by charon, then by us", { timeout: 30_000 }, async () => {
    t = await rekeyChild(peer, s, t, "charon");
    await espFromCharon(peer, t);
    t = await rekeyChild(peer, s, t, "we");
  });

  test("IKE_SA rekey started by charon, then by us; a CHILD_SA rekey on the new IKE SA", { timeout: 30_000 }, async () => {
    t = await rekeyIke(peer, s, t, "charon");
    t = await rekeyIke(peer, s, t, "we");
    t = await rekeyChild(peer, s, t, "charon");
  });

  test("DELETE of the CHILD_SA by us; charon creates a new one (CREATE_CHILD_SA); charon DELETEs the IKE_SA", { timeout: 30_000 }, async () => {
    let since = peer.mark();
    await peer.cmd("terminate-child");
    assert.equal(await childDown(peer, since, t.child.spiIn), "deleted");
    await charon.waitForSas("charon to delete the CHILD_SA", (sas) => (sas.length === 1 && sas[0].children.length === 0 ? true : undefined));

    since = peer.mark();
    await charon.initiate("child");
    const fresh = await childUp(peer, since);
    const n = await agree(peer, s);
    assert.equal(n.child.spiIn, fresh.spiIn);
    assert.equal(n.ours.spiI, t.ours.spiI, "the new CHILD_SA lives on the same IKE SA");
    assert.equal(charon.childKeys().find((k) => k.spiIn === n.theirChild.spiIn)!.initiator, true);

    since = peer.mark();
    await charon.terminate({ ike: "tunnel" });
    assert.equal(await ikeDown(peer, since, n.ours.spiI), "deleted by peer");
    assert.equal(await childDown(peer, since, n.child.spiIn), "deleted by peer");
    assert.deepEqual(await charon.listSas(), []);
    const l = await peer.list();
    assert.deepEqual([l.sas.length, l.sadb], [0, 0]);
  });
});

describe("the other role and proposal pairs", () => {
  test("we initiate aes256gcm16-prfsha384-ecp384 / aes256gcm16 over IPv6", { timeout: 30_000 }, async () => {
    const s: Scenario = { suite: SUITE_GCM, v6: true };
    const peer = await startScenario(s);
    try {
      const since = peer.mark();
      await peer.cmd("initiate", { conn: "ours" });
      await childUp(peer, since);
      const t = await agree(peer, s);
      assert.equal(t.ours.initiator, true);
      await espFromCharon(peer, t);
      await charon.terminate({ ike: "tunnel" });
      assert.equal(await ikeDown(peer, since, t.ours.spiI), "deleted by peer");
    } finally {
      await peer.stop();
    }
  });

  test("charon initiates aes128-sha256-x25519 / aes128gcm16; charon's DPD (dpd_delay 1s) is answered", { timeout: 30_000 }, async () => {
    const s: Scenario = { suite: SUITE_CBC, charonConn: { dpd_delay: "1s" } };
    const peer = await startScenario(s);
    try {
      await charon.initiate("child");
      const t = await agree(peer, s);
      assert.equal(t.ours.initiator, false);
      const before = (await peer.list()).engine.received;
      const logStart = charon.log().length;
      await sleep(3500); // idle: charon probes about once a second
      const dpd = charon.log().slice(logStart);
      // A DPD is an empty INFORMATIONAL request (RFC 7296 §2.4); charon must parse our empty answer to each.
      const ids = (re: RegExp) => [...dpd.matchAll(re)].map((m) => m[1]);
      const sent = ids(/generating INFORMATIONAL request (\d+) \[ \]/g), answered = ids(/parsed INFORMATIONAL response (\d+) \[ \]/g);
      const probes = (dpd.match(/sending DPD request/g) ?? []).length;
      assert.ok(probes >= 2, `charon should have sent DPD requests:\n${dpd}`);
      assert.equal(sent.length, probes);
      assert.deepEqual(answered, sent.slice(0, answered.length));
      assert.ok(answered.length >= sent.length - 1, `every DPD but a last one still in flight is answered:\n${dpd}`);
      assert.doesNotMatch(dpd, /retransmit/);
      assert.ok((await peer.list()).engine.received >= before + answered.length);
      const n = await agree(peer, s);
      assert.deepEqual([n.ours.spiI, n.child.spiIn], [t.ours.spiI, t.child.spiIn], "the same SAs, still up");
      await peer.cmd("terminate-ike");
      await charon.waitForSas("charon to delete the IKE_SA", (sas) => (sas.length === 0 ? true : undefined));
    } finally {
      await peer.stop();
    }
  });

  // Last: it kills charon.
  test("our DPD: probes are answered while charon lives; charon killed (no DELETE) is detected and the SAs removed", { timeout: 30_000 }, async () => {
    // Short retransmissions so the dead peer is declared within seconds: 0.5 s, 0.75 s, then give up after 1.1 s.
    const s: Scenario = { suite: SUITE_CBC, ourDpd: 1, timers: { retransmitTimeout: 0.5, retransmitBase: 1.5, retransmitTries: 2 } };
    const peer = await startScenario(s);
    try {
      const since = peer.mark();
      await peer.cmd("initiate", { conn: "ours" });
      await childUp(peer, since);
      const t = await agree(peer, s);
      const logStart = charon.log().length;
      await sleep(2500);
      const answered = [...charon.log().slice(logStart).matchAll(/generating INFORMATIONAL response \d+ \[ \]/g)].length;
      assert.ok(answered >= 1, "charon answered our liveness checks");
      assert.equal((await peer.list()).sas[0].spiI, t.ours.spiI);

      const down = peer.mark();
      await charon.process.stop("SIGKILL");
      assert.equal(await ikeDown(peer, down, t.ours.spiI), "DPD: peer did not answer liveness checks");
      assert.equal(await childDown(peer, down, t.child.spiIn), "DPD: peer did not answer liveness checks");
      const l = await peer.list();
      assert.deepEqual([l.sas.length, l.sadb], [0, 0]);
    } finally {
      await peer.stop();
    }
  });
});
