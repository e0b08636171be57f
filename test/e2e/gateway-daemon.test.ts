// End-to-end tests of `wasm-ipsec daemon` (needs root, and `bash scripts/install-test-deps.sh`): two daemons,
// and a daemon with strongSwan's charon (kernel-libipsec) as the independent peer, in network namespaces,
// both configured from one swanctl.conf template (gw/setup.ts) and driven as an operator would: our CLI and
// swanctl. Each tunnel carries pings both ways and TCP transfers whose SHA-256 at the far end must match the
// sender's; rekeys run under load, NAT-T goes through an nftables masquerade, DPD notices dead peers, and
// garbage, unknown SPIs, replays and an IKE_SA_INIT flood are counted and survived.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  CHARON, Charon, Capture, decode, mergeConf, setupHarness, waitUntil, type CharonOptions, type ConfSection, type Netns,
} from "./harness/index.js";
import { Daemon, type DaemonStats } from "./gw/daemon.js";
import { agreed, ours, strongswan, type TunnelEnd, type TunnelView } from "./gw/peers.js";
import { A, B, C, D, CHILD, CONN, NAT_PUBLIC, directTopology, natTopology, tunnelConf, type Side } from "./gw/setup.js";
import { assertIntact, iperf, ping, pingUntilAnswered, probe, startTransfer, transfer, type TransferSpec } from "./gw/traffic.js";
import { cookieOf, ikeSaInit } from "./gw/probe.js";
import type { IkeStatus } from "../../src/control/protocol.js";

setupHarness(["ip", "nft", "ping", "mount", CHARON, "swanctl", "dumpcap", "tshark", "iperf3"]);

const MB = 1024 * 1024;
const report = (s: string) => process.stdout.write(`# ${s}\n`);

/** charon: a dead peer is given up after 1 + 1.8 + 3.24 s of retransmissions (strongswan.conf charon.retransmit_*);
 *  the inbound SA a rekey replaced is kept 1 s instead of 5 (it is listed until then: rekeys settle sooner). */
const CHARON_OPTS: CharonOptions = { charon: { retransmit_timeout: 1, retransmit_tries: 2, delete_rekeyed_delay: 1 } };
const CHARON_GIVE_UP_S = 1 + 1.8 + 1.8 ** 2;

// ------------------------------------------------------------------ helpers

/** Inner bytes both ways on our daemon's current Child SA. */
async function childBytes(d: Daemon): Promise<bigint> {
  const c = (await d.listSas())[0]?.children.find((x) => x.state === "installed");
  return c ? BigInt(c.bytesIn) + BigInt(c.bytesOut) : 0n;
}

/** Waits until `bytes` more went through our daemon's current Child SA. */
async function flows(d: Daemon, bytes: number): Promise<void> {
  const start = await childBytes(d);
  await waitUntil(`${bytes} bytes through the Child SA of ${d.label}`, 20_000, async () =>
    ((await childBytes(d)) - start >= BigInt(bytes) ? true : undefined), 100);
}

/** Both ends settled (one IKE SA, one Child SA each) and agreeing, and `differs` holds. */
function settled(x: TunnelEnd, y: TunnelEnd, what: string, differs: (v: TunnelView) => boolean = () => true): Promise<TunnelView> {
  return waitUntil(what, 15_000, async () => {
    const v = await agreed(x, y);
    return v && differs(v) ? v : undefined;
  }, 100).catch((e: Error) => { throw new Error(`${e.message}\n${x.diagnostics()}\n${y.diagnostics()}`); });
}

async function noSas(...ends: TunnelEnd[]): Promise<void> {
  await waitUntil(`no SAs left on ${ends.map((e) => e.name).join(", ")}`, 10_000, async () =>
    ((await Promise.all(ends.map((e) => e.count()))).every((n) => n === 0) ? true : undefined), 100);
}

interface Site { ns: Netns; side: Side }

/** `by` initiates; pings both ways; `bytes` by TCP from the initiator's site to the responder's. Returns the
 *  initiate command's output. */
async function upAndCarry(by: TunnelEnd, other: TunnelEnd, from: Site, to: Site, port: number, bytes = 64 * MB): Promise<string> {
  const out = await by.initiate();
  await settled(by, other, `the tunnel initiated by ${by.name}`);
  await ping(from.ns, from.side.inner, to.side.inner);
  await ping(to.ns, to.side.inner, from.side.inner);
  const t = await transfer({ from: from.ns, src: from.side.inner, to: to.ns, dst: to.side.inner, port, bytes });
  report(`${by.name} -> ${other.name}: ${bytes / MB} MiB TCP at ${t.mbps.toFixed(0)} Mbit/s, SHA-256 matches`);
  return out;
}

type Rekey = [by: TunnelEnd, what: "child" | "ike"];

/**
 * Starts a TCP transfer that runs until told, and rekeys while it runs, each rekey after the previous one settled
 * on both ends and traffic moved on over the new SAs. The transfer must arrive intact, and our daemons must not
 * have dropped a single ESP packet (unknown SPI, replay, ...) nor an IKE message.
 */
async function rekeyUnderLoad(x: TunnelEnd, y: TunnelEnd, daemons: Daemon[], load: Omit<TransferSpec, "bytes">, rekeys: Rekey[]): Promise<void> {
  let view = await settled(x, y, "the tunnel");
  const before = await Promise.all(daemons.map((d) => d.stats()));
  const t = await startTransfer({ ...load, bytes: 0 });
  await flows(daemons[0], 8 * MB);
  for (const [by, what] of rekeys) {
    const old = view;
    await (what === "child" ? by.rekeyChild() : by.rekeyIke());
    view = await settled(x, y, `${by.name}'s ${what} rekey`, (v) => (what === "child" ? v.spiIn !== old.spiIn : v.ike !== old.ike));
    if (what === "child") assert.equal(view.ike, old.ike, "a Child SA rekey keeps the IKE SA");
    else assert.deepEqual([view.spiIn, view.spiOut], [old.spiIn, old.spiOut], "an IKE SA rekey keeps the Child SAs");
    await flows(daemons[0], 8 * MB);
  }
  t.stop();
  const r = await t.result;
  assertIntact(r);
  assert.ok(r.sent.bytes >= (rekeys.length + 1) * 8 * MB);
  report(`${x.name} <-> ${y.name}, ${rekeys.length} rekeys under load: ${(r.sent.bytes / MB).toFixed(0)} MiB at ${r.mbps.toFixed(0)} Mbit/s, SHA-256 matches`);
  const after = await Promise.all(daemons.map((d) => d.stats()));
  daemons.forEach((d, i) => assertNoDrops(d.label, before[i], after[i]));
}

/** Nothing dropped between two snapshots of a daemon's counters. */
function assertNoDrops(label: string, s0: DaemonStats, s1: DaemonStats): void {
  const why = `daemon ${label}: ${JSON.stringify(s0)} -> ${JSON.stringify(s1)}`;
  assert.deepEqual(s1.dataPlane.globalDrops, s0.dataPlane.globalDrops, `no ESP dropped outside an SA (unknown_spi, ...): ${why}`);
  assert.equal(s1.workers.decap.dropped, s0.workers.decap.dropped, `every ESP packet received was decapsulated: ${why}`);
  assert.equal(s1.workers.encap.dropped, s0.workers.encap.dropped, `every packet for the tunnel was encapsulated: ${why}`);
  assert.deepEqual(s1.ike.dropped, s0.ike.dropped, `no IKE message dropped: ${why}`);
}

/** A status without the fields that change with the clock. */
function timeless(sas: IkeStatus[]): unknown {
  return sas.map(({ establishedSecondsAgo: _e, rekeyInSeconds: _r, reauthInSeconds: _a, expiresInSeconds: _h, ...sa }) => ({
    ...sa, children: sa.children.map(({ installedSecondsAgo: _i, rekeyInSeconds: _cr, expiresInSeconds: _x, ...c }) => c),
  }));
}

function only<T>(sas: T[]): T {
  assert.equal(sas.length, 1, JSON.stringify(sas, (k, v) => (k === "raw" ? undefined : v)));
  return sas[0];
}

// ------------------------------------------------------------------ a <-> b without NAT

let a: Netns, b: Netns;
before(() => { ({ a, b } = directTopology()); });

describe("ours <-> ours", () => {
  let da: Daemon, db: Daemon;
  before(async () => {
    [da, db] = await Promise.all([Daemon.start(a, "a", tunnelConf(A, B)), Daemon.start(b, "b", tunnelConf(B, A))]);
  });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("a initiates: ping both ways, 64 MiB TCP a -> b with matching SHA-256", async () => {
    const out = await upAndCarry(ours(da), ours(db), { ns: a, side: A }, { ns: b, side: B }, 5001);
    // The daemon's log while it initiates, then swanctl's summary lines.
    assert.match(out, /^IKE_SA gw\[\d+\] established$/m, out);
    assert.match(out, /^CHILD_SA net\{\d+\} established with SPIs [0-9a-f]{8}_i [0-9a-f]{8}_o$/m, out);
    assert.match(out, /\ninitiate completed successfully\n$/, out);
    const [sa, sb] = [only(await da.listSas()), only(await db.listSas())];
    assert.deepEqual([sa.initiator, sb.initiator], [true, false]);
    // No NAT here, but both force UDP encapsulation by faking one (as strongSwan does for libipsec): each sees the
    // other "behind a NAT", neither itself.
    assert.deepEqual([sa.natLocal, sa.natRemote, sb.natLocal, sb.natRemote], [false, true, false, true]);
    await ours(da).terminate();
    await noSas(ours(da), ours(db));
  });

  test("b initiates: ping both ways, 64 MiB TCP b -> a with matching SHA-256; iperf3 a -> b", async () => {
    await upAndCarry(ours(db), ours(da), { ns: b, side: B }, { ns: a, side: A }, 5002);
    report(`ours <-> ours: iperf3 TCP a -> b ${(await iperf(a, A.inner, b, B.inner)).toFixed(0)} Mbit/s`);
    await ours(db).terminate();
    await noSas(ours(da), ours(db));
  });

  test("rekeys under load: Child SA and IKE SA, each end starting them (our CLI)", async () => {
    await ours(da).initiate();
    await rekeyUnderLoad(ours(da), ours(db), [da, db], { from: a, src: A.inner, to: b, dst: B.inner, port: 5003 },
      [[ours(da), "child"], [ours(db), "child"], [ours(da), "ike"], [ours(db), "ike"]]);
  });

  test("SIGTERM: the daemon deletes its SAs with the peer, removes its routes and its TUN device", async () => {
    await settled(ours(da), ours(db), "the tunnel");
    assert.match(b.ip(["route", "show", "table", "221"]).stdout, /10\.1\.0\.0\/24 dev wipb0/);
    assert.equal(await db.stop(), 0, db.logTail());
    // The peer learns it from a DELETE (no DPD is configured, nothing else would tell it).
    await noSas(ours(da));
    assert.match(db.log(), /deleting IKE_SA gw\[\d+\]/);
    assert.doesNotMatch(b.ip(["route", "show", "table", "all"]).stdout, /wipb0/);
    assert.doesNotMatch(b.ip(["link", "show"]).stdout, /wipb0/);
    assert.ok(!existsSync(db.socket), "the control socket is removed");
  });
});

describe("local_addrs = %any (strongSwan's default): IKE on every address, the route picks the source", () => {
  let da: Daemon, db: Daemon;
  before(async () => {
    const open = { conn: { local_addrs: "%any" } };
    [da, db] = await Promise.all([Daemon.start(a, "a", tunnelConf(A, B, open)), Daemon.start(b, "b", tunnelConf(B, A, open))]);
  });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("a initiates from the address its route to b uses; b answers from the address it was reached at", async () => {
    await ours(da).initiate();
    await settled(ours(da), ours(db), "the tunnel");
    const [sa, sb] = [only(await da.listSas()), only(await db.listSas())];
    assert.deepEqual([sa.localHost, sa.remoteHost, sb.localHost, sb.remoteHost], [A.outer, B.outer, B.outer, A.outer]);
    await ping(a, A.inner, B.inner);
    await ping(b, B.inner, A.inner);
    assert.match(db.log(), new RegExp(`IKE on [^\\n]*\\b${B.outer.replaceAll(".", "\\.")}\\b[^\\n]* port 500`), db.logTail());
    await ours(da).terminate();
    await noSas(ours(da), ours(db));
  });
});

describe("workers = 2: two encap/decap pairs, a two-queue TUN device and two SO_REUSEPORT sockets", () => {
  let da: Daemon, db: Daemon;
  before(async () => {
    // Two encap workers reorder one SA's packets by up to a batch (64): the replay windows must cover that.
    const two = (c: ConfSection) => mergeConf(c, { "wasm-ipsec": { workers: "2" } });
    [da, db] = await Promise.all([
      Daemon.start(a, "a", two(tunnelConf(A, B, { child: { start_action: "trap", replay_window: "256" } }))),
      Daemon.start(b, "b", two(tunnelConf(B, A, { child: { replay_window: "256" } }))),
    ]);
  });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("flows spread over both encap workers; every packet arrives, nothing dropped; a TCP transfer is intact", async () => {
    await ours(da).initiate();
    await settled(ours(da), ours(db), "the tunnel");
    const [a0, b0] = await Promise.all([da.stats(), db.stats()]);
    assert.deepEqual([a0.workers.pairs, b0.workers.pairs], [2, 2]);
    // 64 datagrams from as many source ports: the TUN device hashes each flow to one of its queues.
    a.exec(["bash", "-c", `for i in $(seq 64); do echo x > /dev/udp/${B.inner}/9; done`]);
    await waitUntil("64 datagrams decapsulated by b", 10_000, async () =>
      ((await db.stats()).workers.decap.decapsulated - b0.workers.decap.decapsulated >= 64 ? true : undefined), 100);
    const a1 = await da.stats();
    const perWorker = a1.workers.readByEncap.map((n, i) => n - a0.workers.readByEncap[i]);
    assert.equal(perWorker.reduce((x, y) => x + y), 64, JSON.stringify(perWorker));
    assert.ok(perWorker.every((n) => n > 0), `both encap workers read some flows: ${JSON.stringify(perWorker)}`);
    await ping(a, A.inner, B.inner);
    await ping(b, B.inner, A.inner);
    const t = await transfer({ from: a, src: A.inner, to: b, dst: B.inner, port: 5009, bytes: 16 * MB });
    report(`workers = 2: 16 MiB TCP a -> b at ${t.mbps.toFixed(0)} Mbit/s, SHA-256 matches`);
    const [a2, b2] = await Promise.all([da.stats(), db.stats()]);
    assertNoDrops("a", a0, a2);
    assertNoDrops("b", b0, b2);
    await ours(da).terminate();
    await noSas(ours(da), ours(db));
  });

  test("trap: both encap workers catch the first packets, one negotiation serves them, every queued packet is sent", async () => {
    const [a0, b0] = await Promise.all([da.stats(), db.stats()]);
    a.exec(["bash", "-c", `for i in $(seq 64); do echo x > /dev/udp/${B.inner}/9; done`]);
    await waitUntil("the 64 trapped datagrams decapsulated by b", 15_000, async () =>
      ((await db.stats()).workers.decap.decapsulated - b0.workers.decap.decapsulated >= 64 ? true : undefined), 100);
    const a1 = await da.stats();
    assert.equal(a1.workers.encap.trapResent - a0.workers.encap.trapResent, 64);
    assert.equal(a1.workers.encap.trapDropped, a0.workers.encap.trapDropped);
    assert.ok(a1.workers.encap.acquires - a0.workers.encap.acquires <= 2, "one acquire per encap worker at most");
    assert.equal((await da.listSas()).length, 1, "one IKE SA for all the acquires");
    assert.equal((await db.listSas()).length, 1);
  });
});

describe("ours <-> strongSwan", () => {
  let da: Daemon, charon: Charon;
  const me = () => ours(da), sw = () => strongswan(charon);
  before(async () => {
    [da, charon] = await Promise.all([Daemon.start(a, "a-sw", tunnelConf(A, B)), Charon.start(b, CHARON_OPTS)]);
    await charon.load(tunnelConf(B, A)); // the template, as it is, wasm-ipsec section included
  });
  after(async () => { await Promise.all([da?.stop(), charon?.stop()]); });

  test("we initiate: charon agrees on algorithms and SPIs; ping both ways, 64 MiB TCP a -> b", async () => {
    await upAndCarry(me(), sw(), { ns: a, side: A }, { ns: b, side: B }, 5011);
    const s = only(await da.listSas()), theirs = only(await charon.listSas());
    const algs = s.algorithms.split("/");
    for (const name of [`${theirs.encrAlg}_${theirs.encrKeysize}`, theirs.integAlg, theirs.prfAlg, theirs.dhGroup]) {
      assert.ok(algs.includes(name!), `our ${s.algorithms} names charon's ${name}`);
    }
    const c = s.children[0], tc = theirs.children[0];
    assert.equal(c.encr, `${tc.encrAlg}-${tc.encrKeysize}`);
    assert.equal(tc.encap, true);
    assert.deepEqual([theirs.localHost, theirs.remoteHost, theirs.initiator], [B.outer, A.outer, false]);
    await me().terminate();
    await noSas(me(), sw());
  });

  test("charon initiates: ping both ways, 64 MiB TCP b -> a; iperf3 a -> b", async () => {
    await upAndCarry(sw(), me(), { ns: b, side: B }, { ns: a, side: A }, 5012);
    report(`ours <-> charon: iperf3 TCP a -> b ${(await iperf(a, A.inner, b, B.inner)).toFixed(0)} Mbit/s`);
    assert.equal(only(await da.listSas()).initiator, false);
    await sw().terminate();
    await noSas(me(), sw());
  });

  test("rekeys under load: Child SA and IKE SA, started by our CLI and by swanctl --rekey", async () => {
    await me().initiate();
    await rekeyUnderLoad(me(), sw(), [da], { from: a, src: A.inner, to: b, dst: B.inner, port: 5013 },
      [[me(), "child"], [sw(), "child"], [me(), "ike"], [sw(), "ike"]]);
  });

  test("--list-sas: algorithms, SPIs, counters agreeing with charon's, drops by reason, time to rekey; --json parses", async () => {
    // A fresh Child SA carrying nothing but five pings each way: 84-byte packets (20 IP + 8 ICMP + 56 data).
    const old = await settled(me(), sw(), "the tunnel");
    await me().rekeyChild();
    const v = await settled(me(), sw(), "a fresh Child SA", (x) => x.spiIn !== old.spiIn);
    await ping(a, A.inner, B.inner, 5);
    // A genuine packet of charon's, replayed, and a forged one under our inbound SPI: both reach the SA and fail.
    const cap = await Capture.start(a, "wan", { filter: `udp src port 4500 and src host ${B.outer} and udp[8:4] != 0` });
    await ping(b, B.inner, A.inner, 5);
    const path = await cap.stop();
    const esp = (await decode(path, { fields: ["udp.payload"] })).map((p) => p["udp.payload"][0].replaceAll(":", ""));
    assert.ok(esp.length >= 5, `captured charon's ESP: ${esp.length} packets`);
    const forged = Buffer.concat([Buffer.from(v.spiIn, "hex"), Buffer.from([0, 0x10, 0, 0]), Buffer.alloc(72, 0x5a)]);
    const p = await probe(b, { to: A.outer, listenMs: 300, datagrams: [{ port: 4500, hex: esp[0] }, { port: 4500, hex: forged.toString("hex") }] });
    assert.deepEqual(p, { sent: 2, answers: [] });

    const [s, theirs] = [only(await da.listSas()), only(await charon.listSas())];
    const c = s.children[0], tc = theirs.children[0];
    assert.deepEqual([c.spiIn, c.spiOut], [v.spiIn, v.spiOut], "still the fresh Child SA");
    assert.deepEqual([c.packetsOut, c.packetsIn, c.bytesOut, c.bytesIn].map(Number), [10, 10, 840, 840]);
    assert.deepEqual([tc.packetsIn, tc.packetsOut, tc.bytesIn, tc.bytesOut], [10, 10, 840, 840], "charon counted the same");
    assert.deepEqual(c.dropsIn, { replay: "1", auth_failed: "1" });
    assert.deepEqual(c.dropsOut, {});
    assert.ok(c.rekeyInSeconds! > 0 && c.rekeyInSeconds! <= 3600, `rekeying in ${c.rekeyInSeconds} s (rekey_time 1h)`);
    assert.ok(c.expiresInSeconds! > c.rekeyInSeconds!);

    const text = (await da.cli(["--list-sas"])).stdout;
    const lines = [
      `gw: #${s.uniqueId}, ESTABLISHED, IKEv2, ${s.spiI}_i${s.initiator ? "*" : ""} ${s.spiR}_r${s.initiator ? "" : "*"}`,
      `  local  '${A.id}' @ ${A.outer}[4500]`, // charon fakes a NAT on its side only
      `  remote '${B.id}' @ ${B.outer}[4500] [NAT-T]`,
      `  ${s.algorithms}`,
      `  net: #${c.uniqueId}, INSTALLED, TUNNEL-in-UDP, ESP:${c.encr}`,
      `    in  ${c.spiIn},        840 bytes,       10 packets, dropped replay 1, auth_failed 1`,
      `    out ${c.spiOut},        840 bytes,       10 packets`,
      `    local  ${A.net}`,
      `    remote ${B.net}`,
    ];
    for (const l of lines) assert.ok(text.split("\n").includes(l), `--list-sas shows ${JSON.stringify(l)}:\n${text}`);
    assert.match(text, /\n {4}installed \d+s ago, rekeying in (\d+m \d+s|1h 0m), expires in 1h \d+m\n/, "rekey_time 1h, life_time 1.1h");
    const json = JSON.parse((await da.cli(["--list-sas", "--json"])).stdout) as IkeStatus[];
    assert.deepEqual(timeless(json), timeless([s]), "--json is the same status");
  });

  test("bad input on 500 and 4500: counted, never answered, the daemon and its tunnel live on", async () => {
    const s0 = await da.stats();
    const rnd = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff));
    const init = ikeSaInit();
    const badVersion = Buffer.from(init);
    badVersion.writeUInt8(0x30, 17);
    const ike500 = [Buffer.alloc(0), rnd(1), rnd(27), badVersion, rnd(200), init.subarray(0, 60), init.subarray(0, init.length - 1)];
    const marker = Buffer.alloc(4);
    const ike4500 = [Buffer.concat([marker, rnd(20)]), Buffer.concat([marker, init.subarray(0, 40)])];
    const runts = [Buffer.from([1, 2, 3]), rnd(7)];
    const unknownSpi = [0x12345678, 0x9abcdef0, 0xfffffffe].map((spi) => {
      const d = Buffer.concat([Buffer.alloc(8), rnd(100)]);
      d.writeUInt32BE(spi, 0);
      d.writeUInt32BE(1, 4);
      return d;
    });
    const datagrams = [
      ...ike500.map((d) => ({ port: 500, hex: d.toString("hex") })),
      ...[...ike4500, ...runts, Buffer.from([0xff]), ...unknownSpi].map((d) => ({ port: 4500, hex: d.toString("hex") })),
    ];
    const p = await probe(b, { to: A.outer, listenMs: 500, datagrams });
    assert.deepEqual(p, { sent: datagrams.length, answers: [] }, "no answer to unauthenticated garbage (RFC 7296 §2.21.1)");
    const s1 = JSON.parse((await da.cli(["--stats", "--json"])).stdout) as DaemonStats;
    const dropped = (s: DaemonStats) => Object.values(s.ike.dropped).reduce((x, y) => x + y, 0);
    const why = JSON.stringify(s1);
    assert.equal(s1.ike.received - s0.ike.received, ike500.length + ike4500.length, why);
    assert.equal(dropped(s1) - dropped(s0), ike500.length + ike4500.length, why);
    const u0 = s0.workers.decap.udp, u1 = s1.workers.decap.udp;
    assert.deepEqual([u1.runts - u0.runts, u1.keepalives - u0.keepalives, u1.ike - u0.ike], [runts.length, 1, ike4500.length], why);
    assert.equal(BigInt(s1.dataPlane.globalDrops.unknown_spi ?? 0) - BigInt(s0.dataPlane.globalDrops.unknown_spi ?? 0), 3n, why);
    assert.ok(da.proc.isRunning());
    await ping(a, A.inner, B.inner);
    await ping(b, B.inner, A.inner);
  });

  test("an IKE_SA_INIT flood: cookies engage, charon still connects (with a cookie), the flood is counted", async () => {
    await me().terminate();
    await noSas(me(), sw());
    const s0 = await da.stats();
    const flood = Array.from({ length: 100 }, () => ({ port: 500, hex: ikeSaInit().toString("hex") }));
    const p = await probe(b, { to: A.outer, listenMs: 1000, datagrams: flood });
    const cookies = p.answers.map((h) => cookieOf(Buffer.from(h, "hex"))).filter((x) => x !== undefined);
    // Full answers (SA, KE, Nonce) until the half-open threshold, cookies after it.
    assert.equal(p.answers.length, 100, "every request answered");
    assert.ok(cookies.length >= 50 && cookies.length < 100, `${cookies.length} COOKIE answers: ${p.answers.slice(-3).join("\n")}\n${da.logTail()}`);
    const s1 = await da.stats();
    assert.equal((s1.ike.dropped["cookie-required"] ?? 0) - (s0.ike.dropped["cookie-required"] ?? 0), cookies.length);
    const halfOpen = (await da.listSas()).filter((x) => x.state === "authenticating");
    assert.equal(halfOpen.length, 100 - cookies.length, "a half-open SA for every full answer, none for a cookie");
    // The half-open SAs are still there: charon is asked for a cookie too, and gets through with it.
    await sw().initiate();
    await settled(me(), sw(), "charon's tunnel after the flood");
    assert.match(charon.log(), /received COOKIE notify/);
    const s2 = await da.stats();
    assert.equal((s2.ike.dropped["cookie-required"] ?? 0) - (s1.ike.dropped["cookie-required"] ?? 0), 1, "charon's first IKE_SA_INIT got a cookie");
    await ping(a, A.inner, B.inner);
    await ping(b, B.inner, A.inner);
    report(`IKE_SA_INIT flood: 100 requests, ${100 - cookies.length} half-open, ${cookies.length} COOKIE answers`);
  });
});

describe("DPD", () => {
  // Ours: DPD every second, a dead peer given up after 0.5 + 0.7 + 0.98 s of retransmissions; the tunnel is
  // trapped, so traffic brings it (back) up. charon: DPD every second too.
  const OUR_GIVE_UP_S = 0.5 + 0.7 + 0.98;
  const ourConf: ConfSection = mergeConf(tunnelConf(A, B, { conn: { dpd_delay: "1s" }, child: { start_action: "trap" } }),
    { "wasm-ipsec": { retransmit_timeout: "0.5", retransmit_base: "1.4", retransmit_tries: 2 } });
  const charonConf = tunnelConf(B, A, { conn: { dpd_delay: "1s" } });
  let da: Daemon, charon: Charon;
  before(async () => {
    [da, charon] = await Promise.all([Daemon.start(a, "a-dpd", ourConf), Charon.start(b, CHARON_OPTS)]);
    await charon.load(charonConf);
  });
  after(async () => { await Promise.all([da?.stop(), charon?.stop()]); });

  test("trap: the first packet for the remote subnet brings the tunnel up", async () => {
    await pingUntilAnswered(a, A.inner, B.inner, 15_000);
    await settled(ours(da), strongswan(charon), "the trapped tunnel");
    assert.equal(only(await da.listSas()).initiator, true);
  });

  test("charon killed: our DPD clears the SAs; charon restarted, traffic brings the tunnel back", async () => {
    const t0 = Date.now();
    await charon.process.stop("SIGKILL");
    // Bound: one DPD interval, the retransmissions, and generous slack for a loaded machine.
    await da.waitSas("DPD to clear the SAs", (s) => (s.length === 0 ? true : undefined), (1 + OUR_GIVE_UP_S) * 1000 + 8000);
    report(`our DPD cleared the SAs ${((Date.now() - t0) / 1000).toFixed(1)} s after charon was killed (dpd_delay 1 s + retransmissions ${OUR_GIVE_UP_S.toFixed(2)} s)`);
    assert.match(da.log(), /DPD: peer did not answer liveness checks/);
    assert.match(a.ip(["route", "show", "table", "221"]).stdout, /10\.2\.0\.0\/24 dev wipa\d/, "the trap keeps its route");
    charon = await Charon.start(b, CHARON_OPTS);
    await charon.load(charonConf);
    await pingUntilAnswered(a, A.inner, B.inner, 15_000);
    await settled(ours(da), strongswan(charon), "the tunnel re-established");
  });

  test("our daemon killed: charon's DPD clears the SAs; our daemon restarted, traffic brings the tunnel back", async () => {
    const t0 = Date.now();
    await da.kill();
    await charon.waitForSas("charon's DPD to clear the SAs", (s) => (s.length === 0 ? true : undefined), (1 + CHARON_GIVE_UP_S) * 1000 + 8000);
    report(`charon's DPD cleared the SAs ${((Date.now() - t0) / 1000).toFixed(1)} s after our daemon was killed (dpd_delay 1 s + retransmissions ${CHARON_GIVE_UP_S.toFixed(2)} s)`);
    assert.match(charon.log(), /giving up after 2 retransmits/);
    da = await da.restart();
    await pingUntilAnswered(a, A.inner, B.inner, 15_000);
    await settled(ours(da), strongswan(charon), "the tunnel re-established");
  });
});

// ------------------------------------------------------------------ c behind a NAT, d public

describe("NAT: c behind an nftables masquerade", () => {
  let c: Netns, d: Netns, dc: Daemon;
  before(async () => {
    ({ c, d } = natTopology());
    dc = await Daemon.start(c, "c", tunnelConf(C, D));
  });
  after(async () => { await dc?.stop(); });

  /** c knows it is behind a NAT and has moved IKE to port 4500 (RFC 7296 §2.23). */
  function assertNatT(s: IkeStatus): void {
    assert.equal(s.natLocal, true, `c detects the NAT in front of it: ${JSON.stringify(s)}`);
    assert.equal(s.localPort, 4500, "IKE floated to 4500");
  }

  test("ours behind the NAT initiates to charon: NAT-T detected, ESP-in-UDP through it, 16 MiB TCP c -> d", async () => {
    const charon = await Charon.start(d, CHARON_OPTS);
    try {
      await charon.load(tunnelConf(D, C, { remoteAddr: "%any" }));
      await upAndCarry(ours(dc), strongswan(charon), { ns: c, side: C }, { ns: d, side: D }, 5021, 16 * MB);
      assertNatT(only(await dc.listSas()));
      const theirs = only(await charon.listSas());
      assert.equal(theirs.remoteHost, NAT_PUBLIC, "charon sees the NAT's public address");
      assert.equal(theirs.raw["nat-remote"], "yes", "charon detects the NAT in front of us");
      await ours(dc).terminate();
      await noSas(ours(dc), strongswan(charon));
    } finally {
      await charon.stop();
    }
  });

  test("ours <-> ours through the NAT: NAT-T detected on both ends, 16 MiB TCP c -> d", async () => {
    const dd = await Daemon.start(d, "d", tunnelConf(D, C, { remoteAddr: "%any" }));
    try {
      await upAndCarry(ours(dc), ours(dd), { ns: c, side: C }, { ns: d, side: D }, 5022, 16 * MB);
      assertNatT(only(await dc.listSas()));
      const s = only(await dd.listSas());
      assert.deepEqual([s.remoteHost, s.natRemote, s.natLocal], [NAT_PUBLIC, true, false], JSON.stringify(s));
      await ours(dc).terminate();
      await noSas(ours(dc), ours(dd));
    } finally {
      await dd.stop();
    }
  });
});

// ------------------------------------------------------------------ reference

describe("reference: strongSwan <-> strongSwan with the same template", () => {
  test("charon a initiates: ping both ways, 64 MiB TCP a -> b; iperf3 a -> b (the figures to compare ours with)", async () => {
    const [ca, cb] = await Promise.all([Charon.start(a, CHARON_OPTS), Charon.start(b, CHARON_OPTS)]);
    try {
      await Promise.all([ca.load(tunnelConf(A, B)), cb.load(tunnelConf(B, A))]);
      const [x, y] = [{ ...strongswan(ca), name: "charon (a)" }, { ...strongswan(cb), name: "charon (b)" }];
      await upAndCarry(x, y, { ns: a, side: A }, { ns: b, side: B }, 5031);
      report(`charon <-> charon: iperf3 TCP a -> b ${(await iperf(a, A.inner, b, B.inner)).toFixed(0)} Mbit/s`);
    } finally {
      await Promise.all([ca.stop(), cb.stop()]);
    }
  });
});
