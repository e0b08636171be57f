// Self-test of the e2e harness: two strongSwan charons (kernel-libipsec, userspace ESP in UDP) in two network
// namespaces joined by a veth pair build a PSK tunnel between host addresses on lo; tshark decodes the captured IKE
// and ESP with the keys read from the charon logs, and cleanup is shown to leave nothing behind, also after a crash.
// Needs root and `bash scripts/install-test-deps.sh`.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import {
  Capture, Charon, cleanup, connect, createNetns, decode, espSaLinesFor, ikev2DecryptionLineFor, makeNatRouter, markedProcesses,
  pidAlive, pskTunnel, removeStale, run, RUN_PREFIX, setupHarness, type ChildSa, type IkeSa, type Netns,
} from "./harness/index.js";

setupHarness();

const LEFT = { outer: "192.0.2.1", outer6: "fd00:2::1", inner: "198.51.100.1", id: "left" };
const RIGHT = { outer: "192.0.2.2", outer6: "fd00:2::2", inner: "203.0.113.1", id: "right" };
const PSK = "harness self-test pre-shared key";
const PINGS = 3;
/** An ICMP echo with ping's default 56 data bytes is an 84-byte IPv4 packet; libipsec counts inner bytes. */
const PING_BYTES = 84;

let left: Netns, right: Netns, leftIface: string, rightIface: string;
let cl: Charon, cr: Charon, capture: Capture;

before(async () => {
  left = createNetns("left");
  right = createNetns("right");
  ({ aIface: leftIface, bIface: rightIface } = connect(
    { ns: left, addrs: [`${LEFT.outer}/24`, `${LEFT.outer6}/64`] },
    { ns: right, addrs: [`${RIGHT.outer}/24`, `${RIGHT.outer6}/64`] }));
  left.addLoopbackAddress(LEFT.inner);
  right.addLoopbackAddress(RIGHT.inner);
  [cl, cr] = await Promise.all([Charon.start(left), Charon.start(right)]);
  const spec = (me: typeof LEFT, peer: typeof LEFT) => pskTunnel({
    localAddr: me.outer, remoteAddr: peer.outer, localId: me.id, remoteId: peer.id, psk: PSK,
    localTs: `${me.inner}/32`, remoteTs: `${peer.inner}/32`,
    ikeProposals: "aes128-sha256-x25519", espProposals: "aes128gcm16",
  });
  await cl.load(spec(LEFT, RIGHT));
  await cr.load(spec(RIGHT, LEFT));
});

function only<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, `expected exactly one ${what}, got ${JSON.stringify(items, (k, v) => (k === "raw" ? undefined : v))}`);
  return items[0];
}

function tunnel(sas: IkeSa[]): { ike: IkeSa; child: ChildSa } {
  const ike = only(sas, "IKE_SA");
  return { ike, child: only(ike.children, "CHILD_SA") };
}

test("netns: the veth pair carries IPv4 and IPv6, the inner addresses have no route yet, the root namespace is untouched", () => {
  left.exec(["ping", "-c", "1", "-W", "2", RIGHT.outer]);
  left.exec(["ping", "-6", "-c", "1", "-W", "2", RIGHT.outer6]);
  const direct = left.ip(["route", "get", RIGHT.inner, "from", LEFT.inner], { check: false });
  assert.match(direct.stderr, /unreachable/, "the far inner address must only be reachable through the tunnel");
  const rootLinks = run(["ip", "-o", "link", "show"]).stdout;
  for (const iface of [leftIface, rightIface]) assert.ok(!rootLinks.includes(` ${iface}@`), `${iface} leaked into the root namespace`);
});

test("charon: initiating gives ESTABLISHED IKE_SA and INSTALLED CHILD_SA on both sides with mirrored SPIs", { timeout: 30_000 }, async () => {
  capture = await Capture.start(left, leftIface);
  await cl.initiate("child");
  const l = tunnel(await cl.listSas());
  const r = await cr.waitForSas("the responder's CHILD_SA", (sas) =>
    sas[0]?.children[0]?.state === "INSTALLED" ? tunnel(sas) : undefined);

  for (const [side, me, peer] of [[l, LEFT, RIGHT], [r, RIGHT, LEFT]] as const) {
    assert.equal(side.ike.name, "tunnel");
    assert.equal(side.ike.state, "ESTABLISHED");
    assert.deepEqual([side.ike.localHost, side.ike.remoteHost, side.ike.localId, side.ike.remoteId],
      [me.outer, peer.outer, me.id, peer.id]);
    // libipsec makes charon pretend a NAT exists: IKE floats to 4500 and ESP is UDP-encapsulated.
    assert.deepEqual([side.ike.localPort, side.ike.remotePort], [4500, 4500]);
    assert.deepEqual([side.ike.encrAlg, side.ike.encrKeysize, side.ike.integAlg, side.ike.prfAlg, side.ike.dhGroup],
      ["AES_CBC", 128, "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256", "CURVE_25519"]);
    assert.equal(side.child.name, "child");
    assert.equal(side.child.state, "INSTALLED");
    assert.deepEqual([side.child.mode, side.child.protocol, side.child.encap], ["TUNNEL", "ESP", true]);
    assert.deepEqual([side.child.encrAlg, side.child.encrKeysize, side.child.integAlg, side.child.esn],
      ["AES_GCM_16", 128, undefined, false]);
    assert.deepEqual([side.child.localTs, side.child.remoteTs], [[`${me.inner}/32`], [`${peer.inner}/32`]]);
    assert.match(side.child.spiIn, /^[0-9a-f]{8}$/);
  }
  assert.equal(l.ike.initiator, true);
  assert.equal(r.ike.initiator, false);
  assert.deepEqual([l.ike.initiatorSpi, l.ike.responderSpi], [r.ike.initiatorSpi, r.ike.responderSpi]);
  assert.notEqual(l.ike.initiatorSpi, l.ike.responderSpi);
  assert.equal(l.child.spiOut, r.child.spiIn);
  assert.equal(l.child.spiIn, r.child.spiOut);
  assert.notEqual(l.child.spiIn, l.child.spiOut);
});

test("traffic: pings between the inner addresses cross the tunnel and are counted by both CHILD_SAs", { timeout: 30_000 }, async () => {
  // charon installs the route in table 220 via libipsec's TUN device, with the local inner address as source.
  assert.match(left.ip(["route", "get", RIGHT.inner, "from", LEFT.inner]).stdout, /dev ipsec0 table 220/);
  const r = await left.execAsync(["ping", "-c", String(PINGS), "-i", "0.2", "-W", "2", "-I", LEFT.inner, RIGHT.inner]);
  assert.match(r.stdout, new RegExp(`${PINGS} packets transmitted, ${PINGS} received`));
  for (const c of [cl, cr]) {
    const { child } = tunnel(await c.listSas());
    assert.deepEqual([child.packetsOut, child.packetsIn, child.bytesOut, child.bytesIn],
      [PINGS, PINGS, PINGS * PING_BYTES, PINGS * PING_BYTES], `counters of ${c.ns.name}`);
  }
});

test("keys: both logs hold the same IKE keys and mirrored ESP keys, bound to the listed SPIs", async () => {
  const l = tunnel(await cl.listSas()), r = tunnel(await cr.listSas());
  const kl = only(cl.childKeys(), "CHILD_SA key set in the left log");
  const kr = only(cr.childKeys(), "CHILD_SA key set in the right log");
  assert.deepEqual([kl.initiator, kr.initiator], [true, false]);
  assert.deepEqual([kl.childId, kl.spiIn, kl.spiOut], [l.child.uniqueId, l.child.spiIn, l.child.spiOut]);
  assert.deepEqual([kr.childId, kr.spiIn, kr.spiOut], [r.child.uniqueId, r.child.spiIn, r.child.spiOut]);
  // AES-128-GCM: 16-byte key + 4-byte salt (RFC 4106 §8.1), no separate integrity key.
  for (const k of [kl.encrIn, kl.encrOut]) assert.equal(k.length, 20);
  assert.deepEqual([kl.integIn.length, kl.integOut.length], [0, 0]);
  assert.deepEqual(kl.encrOut, kr.encrIn);
  assert.deepEqual(kl.encrIn, kr.encrOut);
  assert.notDeepEqual(kl.encrIn, kl.encrOut);

  const il = only(cl.ikeKeys(), "IKE key set in the left log");
  const ir = only(cr.ikeKeys(), "IKE key set in the right log");
  assert.deepEqual([il.ikeId, ir.ikeId], [l.ike.uniqueId, r.ike.uniqueId]);
  assert.deepEqual(il, { ...ir, ikeId: il.ikeId });
  // AES-CBC-128 with HMAC-SHA2-256-128 and PRF-HMAC-SHA2-256 (RFC 7296 §2.14, RFC 4868 §2.1.1).
  assert.deepEqual([il.skD, il.skAi, il.skAr, il.skEi, il.skEr, il.skPi, il.skPr].map((k) => k.length),
    [32, 32, 32, 16, 16, 32, 32]);
});

test("tshark: the captured IKE and ESP-in-UDP decrypt with the logged keys and every ICV is good", { timeout: 30_000 }, async () => {
  const path = await capture.stop();
  const { ike, child } = tunnel(await cl.listSas());
  const espSas = espSaLinesFor(ike, child, only(cl.childKeys(), "CHILD_SA key set"));
  const ikeSas = [ikev2DecryptionLineFor(ike, only(cl.ikeKeys(), "IKE key set"))];

  const ikePackets = await decode(path, { ikeSas, filter: "isakmp", fields: ["isakmp.exchangetype", "ip.src",
    "udp.srcport", "udp.dstport", "isakmp.ispi", "isakmp.id.data.fqdn"] });
  assert.deepEqual(ikePackets.map((p) => [p["isakmp.exchangetype"][0], p["ip.src"][0], p["udp.srcport"][0], p["udp.dstport"][0]]), [
    ["34", LEFT.outer, "500", "500"], ["34", RIGHT.outer, "500", "500"], // IKE_SA_INIT
    ["35", LEFT.outer, "4500", "4500"], ["35", RIGHT.outer, "4500", "4500"], // IKE_AUTH, floated to NAT-T
  ]);
  for (const p of ikePackets) assert.deepEqual(p["isakmp.ispi"], [ike.initiatorSpi]);
  // IDs are only visible inside the SK payload: decrypted with the logged keys (IDi and IDr from the initiator).
  assert.deepEqual([ikePackets[2]["isakmp.id.data.fqdn"], ikePackets[3]["isakmp.id.data.fqdn"]],
    [[LEFT.id, RIGHT.id], [RIGHT.id]]);
  assert.equal((await decode(path, { ikeSas, filter: "isakmp.ikev2.integrity_checksum", fields: ["frame.number"] })).length, 0);

  const fields = ["esp.spi", "esp.sequence", "esp.icv_good", "esp.icv_bad", "udp.srcport", "udp.dstport", "ip.src",
    "ip.dst", "icmp.type"];
  const esp = await decode(path, { espSas, filter: "esp", fields });
  const expected = [];
  for (let seq = 1; seq <= PINGS; seq++) {
    expected.push([`0x${child.spiOut}`, String(seq), "1", "0", "4500", "4500", LEFT.outer, LEFT.inner, RIGHT.inner, "8"]);
    expected.push([`0x${child.spiIn}`, String(seq), "1", "0", "4500", "4500", RIGHT.outer, RIGHT.inner, LEFT.inner, "0"]);
  }
  assert.deepEqual(esp.map((p) => [p["esp.spi"][0], p["esp.sequence"][0], p["esp.icv_good"]?.[0], p["esp.icv_bad"]?.[0],
    p["udp.srcport"][0], p["udp.dstport"][0], p["ip.src"][0], p["ip.src"][1], p["ip.dst"][1], p["icmp.type"]?.[0]]), expected);

  // Control: with one key bit changed tshark must neither vouch for the ICV nor produce the inner packet (so
  // "good" above is a real check). Depending on the garbage it decrypts to, it reports icv_bad or no verdict,
  // and may even dissect the garbage as some packet (once an "ICMP type 249"): what it must not show is the
  // real inner packet, whose addresses random bytes match with a chance of 2^-64.
  const keys = only(cl.childKeys(), "CHILD_SA key set");
  const wrong = Buffer.from(keys.encrOut);
  wrong[0] ^= 1;
  const bad = await decode(path, { espSas: espSaLinesFor(ike, child, { ...keys, encrOut: wrong }),
    filter: `esp.spi == 0x${child.spiOut}`, fields: ["esp.icv_good", "esp.icv_bad", "ip.src", "ip.dst"] });
  assert.equal(bad.length, PINGS);
  for (const p of bad) {
    assert.notDeepEqual(p["esp.icv_good"], ["1"]);
    assert.equal(p["ip.src"][0], LEFT.outer);
    assert.notDeepEqual([p["ip.src"][1], p["ip.dst"][1]], [LEFT.inner, RIGHT.inner]);
  }
});

test("rekey: a responder-initiated CHILD_SA rekey and an IKE_SA rekey give new mirrored keys, found in the logs", { timeout: 30_000 }, async () => {
  const oldChild = tunnel(await cl.listSas()).child;
  await cr.rekey({ child: "child" }); // the responder initiates, so the key roles flip
  // The old inbound SA lingers (charon.delete_rekeyed_delay); wait for the new one to carry traffic both ways.
  const settled = (sas: IkeSa[]) => {
    const fresh = sas[0]?.children.find((c) => c.uniqueId !== oldChild.uniqueId && c.state === "INSTALLED");
    const old = sas[0]?.children.find((c) => c.uniqueId === oldChild.uniqueId);
    return fresh && old?.state !== "INSTALLED" ? fresh : undefined;
  };
  const [nl, nr] = await Promise.all([cl.waitForSas("the new CHILD_SA", settled), cr.waitForSas("the new CHILD_SA", settled)]);
  assert.equal(nl.spiOut, nr.spiIn);
  assert.equal(nl.spiIn, nr.spiOut);
  await left.execAsync(["ping", "-c", "1", "-W", "2", "-I", LEFT.inner, RIGHT.inner]);
  for (const [c, uid] of [[cl, nl.uniqueId], [cr, nr.uniqueId]] as const) {
    const now = (await c.listSas())[0].children.find((x) => x.uniqueId === uid);
    assert.deepEqual([now?.packetsOut, now?.packetsIn], [1, 1], `the new CHILD_SA of ${c.ns.name} carries the ping`);
  }
  const [kl0, kl] = cl.childKeys(), [kr0, kr] = cr.childKeys();
  assert.deepEqual([kl.initiator, kr.initiator], [false, true]);
  assert.deepEqual([kl.childId, kl.spiIn, kl.spiOut, kr.childId, kr.spiIn, kr.spiOut],
    [nl.uniqueId, nl.spiIn, nl.spiOut, nr.uniqueId, nr.spiIn, nr.spiOut]);
  assert.deepEqual([kl.encrOut, kl.encrIn], [kr.encrIn, kr.encrOut]);
  assert.notDeepEqual(kl.encrOut, kl0.encrOut);
  assert.notDeepEqual(kr.encrOut, kr0.encrOut);

  const oldIke = only(await cl.listSas(), "IKE_SA");
  await cl.rekey({ ike: "tunnel" });
  const rekeyed = (sas: IkeSa[]) => (sas.length === 1 && sas[0].uniqueId !== oldIke.uniqueId
    && sas[0].state === "ESTABLISHED" ? sas[0] : undefined);
  const [il, ir] = await Promise.all([cl.waitForSas("the new IKE_SA", rekeyed), cr.waitForSas("the new IKE_SA", rekeyed)]);
  assert.deepEqual([il.initiatorSpi, il.responderSpi], [ir.initiatorSpi, ir.responderSpi]);
  assert.notEqual(il.initiatorSpi, oldIke.initiatorSpi);
  // The initiator logs the new keys in the old IKE_SA's context, the responder in the new one's.
  const [ikl0, ikl] = cl.ikeKeys(), [ikr0, ikr] = cr.ikeKeys();
  assert.deepEqual([ikl.ikeId, ikr.ikeId], [il.uniqueId, ir.uniqueId]);
  assert.deepEqual(ikl, { ...ikr, ikeId: ikl.ikeId });
  assert.notDeepEqual(ikl.skD, ikl0.skD);
  assert.deepEqual(ikl0, { ...ikr0, ikeId: ikl0.ikeId });
});

test("terminate and stop: both sides drop the SAs, charon exits cleanly on SIGTERM", { timeout: 30_000 }, async () => {
  await cl.terminate({ ike: "tunnel" });
  assert.deepEqual(await cl.listSas(), []);
  await cr.waitForSas("the responder to delete its IKE_SA", (sas) => (sas.length === 0 ? true : undefined));
  await Promise.all([cl.stop(), cr.stop()]);
  for (const c of [cl, cr]) assert.deepEqual(c.process.exitStatus, { code: 0, signal: null });
});

test("nat router: the server has no route back to the client, so only masquerading lets a ping through", () => {
  const client = createNetns("natclient"), router = createNetns("nat"), server = createNetns("natserver");
  connect({ ns: client, addrs: ["192.0.2.10/24"] }, { ns: router, addrs: ["192.0.2.254/24"] });
  const { aIface: outside } = connect({ ns: router, addrs: ["203.0.113.254/24"] }, { ns: server, addrs: ["203.0.113.10/24"] });
  client.addRoute("default", "192.0.2.254");
  router.sysctl("net.ipv4.ip_forward", "1");
  const ping = () => client.exec(["ping", "-c", "1", "-W", "0.5", "203.0.113.10"], { check: false }).code;
  assert.notEqual(ping(), 0, "forwarding alone must not be enough");
  makeNatRouter(router, outside);
  assert.equal(ping(), 0);
});

test("cleanup: no namespace, process or directory of this run is left", { timeout: 30_000 }, async () => {
  const extra = createNetns("extra");
  const c = await Charon.start(extra);
  const cap = await Capture.start(extra, "lo", { filter: "udp" });
  assert.ok(c.process.isRunning());
  cleanup();
  const ours = run(["ip", "netns", "list"]).stdout.split("\n").filter((l) => l.startsWith(RUN_PREFIX));
  assert.deepEqual(ours, []);
  assert.deepEqual(markedProcesses().filter((p) => p.owner === process.pid), []);
  assert.equal(pidAlive(c.process.pid), false);
  for (const d of [c.dir, cl.dir, cr.dir, cap.path]) assert.equal(existsSync(d), false, `${d} still exists`);
});

/** Runs a harness user in a child node process that prints its namespace's name; `stay` keeps it alive. */
async function childRun(stay: boolean): Promise<{ pid: number; ns: string; exited: Promise<unknown>; kill: () => void }> {
  const harness = new URL("./harness/index.js", import.meta.url).href;
  const code = `import { createNetns, makeRunDir } from ${JSON.stringify(harness)};
    const ns = createNetns("orphan");
    ns.spawn(["sleep", "300"], { logFile: makeRunDir("orphan") + "/out" });
    console.log(ns.name);
    ${stay ? "setInterval(() => {}, 1000);" : ""}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((r) => child.once("exit", r));
  const ns = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.once("exit", (c) => reject(new Error(`child exited (${c}) before creating its namespace`)));
  });
  return { pid: child.pid!, ns, exited, kill: () => child.kill("SIGKILL") };
}

const namespaceExists = (name: string) => run(["ip", "netns", "list"]).stdout.split("\n").some((l) => l.split(" ")[0] === name);

test("crash safety: a run that exits without cleanup() leaves nothing; a killed run's leftovers are removed by the next", { timeout: 30_000 }, async () => {
  const exiting = await childRun(false);
  await exiting.exited;
  assert.equal(namespaceExists(exiting.ns), false, "the process 'exit' hook should have removed the namespace");
  assert.deepEqual(markedProcesses().filter((p) => p.owner === exiting.pid), []);

  const killed = await childRun(true);
  killed.kill();
  await killed.exited;
  assert.equal(namespaceExists(killed.ns), true, "SIGKILL skips every hook, so the namespace is still there");
  const orphans = markedProcesses().filter((p) => p.owner === killed.pid);
  assert.equal(orphans.length, 1);
  assert.match(orphans[0].cmdline, /^sleep 300/);
  const removed = removeStale();
  assert.ok(removed.includes(`netns ${killed.ns}`), JSON.stringify(removed));
  assert.equal(namespaceExists(killed.ns), false);
  assert.equal(pidAlive(orphans[0].pid), false);
  assert.deepEqual(markedProcesses().filter((p) => p.owner === killed.pid), []);
});
