// The daemon's routing when a remote traffic selector covers the peer's own address (src/daemon/routing.ts): two
// daemons of ours, in namespaces of this file (labels rt*), driven by the CLI. A full tunnel (remote_ts =
// 0.0.0.0/0) carries a host's traffic to the far side, the peer's own address included, while IKE and ESP-in-UDP
// to that address bypass the TUN (their sockets carry the mark that one rule exempts; rekeys prove IKE keeps working); transport mode protects the gateways' own
// traffic to each other, ESP over IPv4 and IPv6 and AH over IPv4, and the WAN capture (tshark) shows nothing of
// it in the clear. The kernel's own route lookups (`ip route get`) are the oracle for where packets go. After a
// SIGKILL the rules stay behind and a restart cleans them; after SIGTERM nothing of ours is left. Needs root.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Capture, cleanup, connect, createNetns, decode, makeRunDir, mergeConf, setupHarness, waitUntil, type ConfSection, type DecodedPacket, type Netns,
} from "./harness/index.js";
import { Daemon } from "./gw/daemon.js";
import { agreed, ours, type TunnelEnd, type TunnelView } from "./gw/peers.js";
import { tunnelConf, type Side } from "./gw/setup.js";
import { ping, transfer } from "./gw/traffic.js";

setupHarness(["ip", "ss", "ping", "dumpcap", "tshark"]);
after(cleanup);

const MIB = 1 << 20;
const report = (s: string) => process.stdout.write(`# ${s}\n`);
/** The defaults (DEFAULT_ROUTING): table 221, one rule at 221, mark 221. */
const TABLE = "221";

function settled(x: TunnelEnd, y: TunnelEnd, what: string, differs: (v: TunnelView) => boolean = () => true): Promise<TunnelView> {
  return waitUntil(what, 15_000, async () => {
    const v = await agreed(x, y);
    return v && differs(v) ? v : undefined;
  }, 100).catch((e: Error) => { throw new Error(`${e.message}\n${x.diagnostics()}\n${y.diagnostics()}`); });
}

/** Where the kernel sends a packet to `to`: `ip route get` (with extra selectors: mark, ipproto/sport). */
function routeGet(ns: Netns, to: string, ...extra: string[]): string {
  return ns.ip([to.includes(":") ? "-6" : "-4", "route", "get", to, ...extra]).stdout.trim();
}

/** Rules of one family at priorities 220-222 (ours, and an earlier version's exemptions), one line each. */
function ourRules(ns: Netns, family: "-4" | "-6"): string[] {
  return ns.ip([family, "rule", "show"]).stdout.split("\n").filter((l) => /^22[012]:/.test(l));
}

/** Routes of our table, both families ("table all" lists every table; ours is named by number). */
function ourRoutes(ns: Netns): string[] {
  return ["-4", "-6"].flatMap((f) => ns.ip([f, "route", "show", "table", "all"]).stdout.split("\n").filter((l) => l.includes(`table ${TABLE}`)));
}

function assertOurRulesOnce(ns: Netns): void {
  for (const f of ["-4", "-6"] as const) {
    assert.deepEqual(ourRules(ns, f), [`221:\tnot from all fwmark 0xdd lookup ${TABLE}`], `${ns.name} ${f}`);
  }
}

function assertNothingLeft(ns: Netns): void {
  for (const f of ["-4", "-6"] as const) assert.deepEqual(ourRules(ns, f), [], `${ns.name}: no rule of ours left (${f})`);
  assert.deepEqual(ourRoutes(ns), [], `${ns.name}: table ${TABLE} empty`);
  assert.doesNotMatch(ns.ip(["-o", "link", "show"]).stdout, /^\d+: wip/m, `${ns.name}: the TUN device is gone`);
}

/** Captured IPv4/IPv6 packets between the two gateways (ARP and neighbour discovery aside). */
async function wire(path: string): Promise<DecodedPacket[]> {
  return decode(path, {
    fields: ["ip.proto", "ipv6.nxt", "udp.srcport", "udp.dstport", "esp.spi", "ah.spi", "ah.next_header", "icmp.type", "icmpv6.type", "tcp.srcport",
      "frame.len", "_ws.malformed"],
  });
}
const first = (p: DecodedPacket, f: string) => p[f]?.[0];

// ------------------------------------------------------------------ full tunnel

//   host 10.1.0.5 ── lan 10.1.0.1  A  192.0.2.1 ══ 192.0.2.2  B  (lo: 10.2.0.1, 203.0.113.1)
// A: local_ts 10.1.0.0/24, remote_ts 0.0.0.0/0. B: local_ts 0.0.0.0/0, remote_ts 10.1.0.0/24.
const FA: Side = { label: "fa", outer: "192.0.2.1", inner: "10.1.0.1", net: "10.1.0.0/24", id: "fa.wasm-ipsec.test" };
const FB: Side = { label: "fb", outer: "192.0.2.2", inner: "10.2.0.1", net: "0.0.0.0/0", id: "fb.wasm-ipsec.test" };
const HOST = "10.1.0.5", FAR = "203.0.113.1";

describe("full tunnel: remote_ts = 0.0.0.0/0 covers the peer's own address", () => {
  let host: Netns, a: Netns, b: Netns;
  let da: Daemon, db: Daemon;
  before(async () => {
    host = createNetns("rth"); a = createNetns("rta"); b = createNetns("rtb");
    connect({ ns: host, iface: "lan", addrs: [`${HOST}/24`] }, { ns: a, iface: "lan", addrs: [`${FA.inner}/24`] });
    connect({ ns: a, iface: "wan", addrs: [`${FA.outer}/24`] }, { ns: b, iface: "wan", addrs: [`${FB.outer}/24`] });
    host.ip(["route", "add", "default", "via", FA.inner]);
    a.sysctl("net.ipv4.ip_forward", "1");
    b.addLoopbackAddress(FB.inner);
    b.addLoopbackAddress(FAR);
    [da, db] = await Promise.all([Daemon.start(a, "rta", tunnelConf(FA, FB)), Daemon.start(b, "rtb", tunnelConf(FB, FA))]);
  });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("the host reaches B's addresses through the tunnel, the peer's own included; the kernel routes our IKE/ESP past the TUN", async () => {
    assertOurRulesOnce(a);
    await ours(da).initiate();
    await settled(ours(da), ours(db), "the full tunnel");
    // Plain traffic to the peer enters the TUN, from A's address in its local selector; IKE (port 500) and the
    // marked sockets' packets take the WAN; A's own LAN is thrown back to the main table.
    assert.match(routeGet(a, FB.outer), new RegExp(`^${FB.outer} dev wipfa0 table ${TABLE} src ${FA.inner} `));
    assert.match(routeGet(a, FAR), /dev wipfa0 table 221 /);
    assert.match(routeGet(a, FB.outer, "mark", "221"), new RegExp(`^${FB.outer} dev wan src ${FA.outer} mark 0xdd `));
    assert.match(routeGet(a, FB.outer, "ipproto", "udp", "sport", "500"), /dev wipfa0 table 221/, "no port is exempt by number");
    // What exempts IKE is the mark on the port-500 socket (and on 4500's, the ESP socket's): `ss` shows it.
    for (const port of [500, 4500]) {
      const socks = a.exec(["ss", "-H", "-u", "-a", "-n", "-e", `sport = :${port}`]).stdout.trim().split("\n");
      assert.ok(socks.length > 0 && socks.every((l) => l.includes("fwmark:0xdd")), `port ${port}: ${socks.join(" | ")}`);
    }
    assert.match(routeGet(a, HOST), /^10\.1\.0\.5 dev lan src 10\.1\.0\.1 /);
    assert.deepEqual(a.ip(["-4", "route", "show", "table", TABLE]).stdout.trim().split("\n").map((l) => l.trim()).sort(), [
      `default dev wipfa0 scope link src ${FA.inner}`,
      "throw 10.1.0.0/24",
      "throw 224.0.0.0/4",
      "throw 255.255.255.255",
    ].sort());
    assert.deepEqual(ourRoutes(b).map((l) => l.trim()), [`10.1.0.0/24 dev wipfb0 table ${TABLE} scope link src ${FB.inner}`]);

    const cap = await Capture.start(a, "wan", { filter: "ip", dir: makeRunDir("rt-full-cap") });
    for (const to of [FB.inner, FAR, FB.outer]) await ping(host, HOST, to, 3);
    await ping(a, FA.inner, FB.outer, 3); // A itself, from its LAN address
    const packets = await wire(await cap.stop());
    assert.ok(packets.length > 0);
    for (const p of packets) {
      assert.equal(first(p, "ip.proto"), "17", `only UDP between the gateways: ${JSON.stringify(p)}`);
      assert.ok([first(p, "udp.srcport"), first(p, "udp.dstport")].some((x) => x === "500" || x === "4500"), JSON.stringify(p));
      assert.equal(p["icmp.type"], undefined, "no ICMP in the clear");
    }
    // 12 echo requests and 12 replies, each an ESP-in-UDP datagram.
    assert.equal(packets.filter((p) => p["esp.spi"]).length, 24);
  });

  test("IKE and ESP keep working: Child SA and IKE SA rekeyed once each, then 16 MiB TCP host -> far address, SHA-256 matches", async () => {
    let v = await settled(ours(da), ours(db), "the tunnel");
    await ours(da).rekeyChild();
    v = await settled(ours(da), ours(db), "the Child SA rekey", (x) => x.spiIn !== v.spiIn);
    await ping(host, HOST, FB.outer, 2);
    const ike = v.ike;
    await ours(db).rekeyIke();
    await settled(ours(da), ours(db), "the IKE SA rekey", (x) => x.ike !== ike);
    const t = await transfer({ from: host, src: HOST, to: b, dst: FAR, port: 5101, bytes: 16 * MIB });
    report(`full tunnel: 16 MiB TCP host -> ${FAR} at ${t.mbps.toFixed(0)} Mbit/s after two rekeys, SHA-256 matches`);
    const s = await da.stats();
    assert.deepEqual(s.ike.dropped, {}, "no IKE message dropped");
    assert.equal(s.workers.decap.dropped, 0);
  });

  test("SIGKILL leaves our rule and throws; a restart cleans them (and an earlier version's rules) and adds the rule once; SIGTERM leaves nothing", async () => {
    await settled(ours(da), ours(db), "the tunnel");
    await da.kill();
    for (const f of ["-4", "-6"] as const) assert.equal(ourRules(a, f).length, 1, `a crash leaves the rule (${f})`);
    // An earlier version's exemption rules, as its crash would have left them: the restart removes them too.
    for (const f of ["-4", "-6"]) {
      a.ip([f, "rule", "add", "priority", "220", "ipproto", "udp", "sport", "500", "goto", "222"]);
      a.ip([f, "rule", "add", "priority", "222", "nop"]);
    }
    assert.ok(ourRoutes(a).some((l) => l.startsWith("throw 10.1.0.0/24")), "and the throw routes (the TUN's went with the device)");
    da = await da.restart();
    assertOurRulesOnce(a);
    assert.deepEqual(ourRoutes(a), [], "no Child SA yet: an empty table");
    // b still holds the SAs a forgot: restart it too, then the tunnel comes up again.
    assert.equal(await db.stop(), 0);
    assertNothingLeft(b);
    db = await db.restart();
    await ours(da).initiate();
    await settled(ours(da), ours(db), "the tunnel after the restarts");
    await ping(host, HOST, FB.outer, 2);
    assert.equal(await da.stop(), 0, da.logTail());
    assert.equal(await db.stop(), 0, db.logTail());
    assertNothingLeft(a);
    assertNothingLeft(b);
  });
});

// ------------------------------------------------------------------ transport mode

/** A gateway whose selectors are its own address: transport mode between the two (IPv4, and IPv6 when given). */
interface Gw { side: Side; outer6?: string }

/** gw/setup.ts's template in transport mode, plus (outer6) a second connection gw6/net6 over IPv6. */
function transportConf(local: Gw, remote: Gw, child: ConfSection): ConfSection {
  let conf = tunnelConf(local.side, remote.side, { child: { mode: "transport", ...child } });
  if (local.outer6 && remote.outer6) {
    const six = tunnelConf({ ...local.side, outer: local.outer6, net: `${local.outer6}/128` }, { ...remote.side, outer: remote.outer6, net: `${remote.outer6}/128` },
      { child: { mode: "transport", ...child } }) as { connections: { gw: ConfSection }; secrets: { "ike-gw": ConfSection } };
    const { children } = six.connections.gw as { children: { net: ConfSection } };
    conf = mergeConf(conf, {
      connections: { gw6: { ...six.connections.gw, children: { net6: children.net } } },
      secrets: { "ike-gw6": six.secrets["ike-gw"] },
    });
  }
  return conf;
}

/** Without ESP proposals (the template's aes128gcm16): an AH-only child. */
function withoutEsp(conf: ConfSection): ConfSection {
  const c = structuredClone(conf) as { connections: { gw: { children: { net: Record<string, unknown> } } } };
  delete c.connections.gw.children.net.esp_proposals;
  return c as ConfSection;
}

async function transportPair(label: string, sides: [Gw, Gw], conf: (l: Gw, r: Gw) => ConfSection): Promise<{ a: Netns; b: Netns; da: Daemon; db: Daemon }> {
  const [x, y] = sides;
  const a = createNetns(`${label}a`), b = createNetns(`${label}b`);
  const addrs = (g: Gw) => [`${g.side.outer}/24`, ...(g.outer6 ? [`${g.outer6}/64`] : [])];
  connect({ ns: a, iface: "wan", addrs: addrs(x) }, { ns: b, iface: "wan", addrs: addrs(y) });
  const [da, db] = await Promise.all([Daemon.start(a, `${label}a`, conf(x, y)), Daemon.start(b, `${label}b`, conf(y, x))]);
  return { a, b, da, db };
}

const TA: Gw = { side: { label: "ea", outer: "192.0.2.1", inner: "192.0.2.1", net: "192.0.2.1/32", id: "ea.wasm-ipsec.test" }, outer6: "2001:db8::1" };
const TB: Gw = { side: { label: "eb", outer: "192.0.2.2", inner: "192.0.2.2", net: "192.0.2.2/32", id: "eb.wasm-ipsec.test" }, outer6: "2001:db8::2" };

/** IPv4, and IPv6 but neighbour discovery and MLD (an echo in the clear would show: ICMPv6 types 128 and 129). */
const ESP_FILTER = "ip or (ip6 and (udp or tcp or proto 50 or proto 51 or (icmp6 and (ip6[40] == 128 or ip6[40] == 129))))";

describe("transport mode, ESP: the gateways' own traffic to each other, IPv4 and IPv6", () => {
  let a: Netns, b: Netns, da: Daemon, db: Daemon;
  before(async () => { ({ a, b, da, db } = await transportPair("rte", [TA, TB], (l, r) => transportConf(l, r, {}))); });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("ping and 8 MiB TCP both families; on the wire only IKE and ESP-in-UDP, nothing in the clear", async () => {
    await ours(da).initiate();
    await da.cli(["--initiate", "--child", "net6"]);
    const children = async (d: Daemon) => (await d.listSas()).flatMap((s) => s.children.filter((c) => c.state === "installed"));
    await waitUntil("both transport children on both ends", 15_000, async () =>
      ((await children(da)).length === 2 && (await children(db)).length === 2 ? true : undefined), 100);
    for (const c of [...await children(da), ...await children(db)]) assert.deepEqual([c.mode, c.protocol, c.encap], ["transport", "ESP", true], JSON.stringify(c));
    assert.match(routeGet(a, TB.side.outer), /dev wipea0 table 221 src 192\.0\.2\.1 /);
    assert.match(routeGet(a, TB.outer6!), /dev wipea0 table 221 src 2001:db8::1 /);
    assert.match(routeGet(a, TB.outer6!, "mark", "221"), /dev wan /);

    const cap = await Capture.start(a, "wan", { filter: ESP_FILTER, dir: makeRunDir("rt-esp-cap") });
    await ping(a, TA.side.outer, TB.side.outer, 3);
    await ping(b, TB.side.outer, TA.side.outer, 3);
    await ping(a, TA.outer6!, TB.outer6!, 3);
    const t4 = await transfer({ from: a, src: TA.side.outer, to: b, dst: TB.side.outer, port: 5201, bytes: 8 * MIB });
    const t6 = await transfer({ from: b, src: TB.outer6!, to: a, dst: TA.outer6!, port: 5202, bytes: 8 * MIB });
    const packets = await wire(await cap.stop());
    report(`transport ESP: 8 MiB TCP IPv4 ${t4.mbps.toFixed(0)} Mbit/s, IPv6 ${t6.mbps.toFixed(0)} Mbit/s, SHA-256 matches`);
    const clear = packets.filter((p) => p["icmp.type"] || p["icmpv6.type"] || p["tcp.srcport"] || !p["udp.srcport"]);
    assert.deepEqual(clear.slice(0, 3), [], `${clear.length} packets not in UDP, or ICMP/TCP in the clear`);
    for (const p of packets) {
      assert.equal(p["_ws.malformed"], undefined, JSON.stringify(p));
      assert.ok(["500", "4500"].includes(first(p, "udp.srcport")!) && ["500", "4500"].includes(first(p, "udp.dstport")!), JSON.stringify(p));
    }
    // The capture sees UDP GSO messages whole (several datagrams in one frame, cut apart further down): count
    // bytes, not packets. Each family carried a transfer's 8 MiB, encrypted.
    const esp = packets.filter((p) => p["esp.spi"]);
    const bytes = (l: DecodedPacket[]) => l.reduce((n, p) => n + Number(first(p, "frame.len")), 0);
    const v4 = esp.filter((p) => first(p, "ip.proto") === "17"), v6 = esp.filter((p) => first(p, "ipv6.nxt") === "17");
    assert.ok(bytes(v4) > 8 * MIB && bytes(v6) > 8 * MIB, `ESP bytes: ${bytes(v4)} IPv4, ${bytes(v6)} IPv6`);
    for (const d of [da, db]) {
      const s = await d.stats();
      assert.equal(s.workers.decap.dropped, 0, `${d.label}: every ESP packet decapsulated`);
      assert.equal(s.workers.encap.dropped, 0, `${d.label}: every packet for the tunnel encapsulated`);
    }
  });

  test("SIGTERM: no rules, routes or table left on either gateway", async () => {
    assert.equal(await da.stop(), 0, da.logTail());
    assert.equal(await db.stop(), 0, db.logTail());
    assertNothingLeft(a);
    assertNothingLeft(b);
  });
});

const HA: Gw = { side: { ...TA.side, label: "ha", id: "ha.wasm-ipsec.test" } };
const HB: Gw = { side: { ...TB.side, label: "hb", id: "hb.wasm-ipsec.test" } };

describe("transport mode, AH (ah_proposals = sha256): the gateways' own traffic to each other", () => {
  let a: Netns, b: Netns, da: Daemon, db: Daemon;
  before(async () => { ({ a, b, da, db } = await transportPair("rtah", [HA, HB], (l, r) => withoutEsp(transportConf(l, r, { ah_proposals: "sha256" })))); });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("ping and 8 MiB TCP: AH with the ICMP and TCP right behind it on the wire, IKE on 500, nothing unprotected", async () => {
    await ours(da).initiate();
    await settled(ours(da), ours(db), "the AH transport child");
    const c = (await da.listSas())[0].children[0];
    assert.deepEqual([c.mode, c.protocol, c.encap], ["transport", "AH", false]);
    const cap = await Capture.start(a, "wan", { filter: "ip", dir: makeRunDir("rt-ah-cap") });
    await ping(a, HA.side.outer, HB.side.outer, 5);
    await ping(b, HB.side.outer, HA.side.outer, 5);
    const t = await transfer({ from: a, src: HA.side.outer, to: b, dst: HB.side.outer, port: 5301, bytes: 8 * MIB });
    const packets = await wire(await cap.stop());
    report(`transport AH: 8 MiB TCP at ${t.mbps.toFixed(0)} Mbit/s, SHA-256 matches`);
    const ah = packets.filter((p) => first(p, "ip.proto") === "51");
    for (const p of packets) {
      assert.equal(p["_ws.malformed"], undefined, JSON.stringify(p));
      const proto = first(p, "ip.proto");
      assert.ok(proto === "51" || (proto === "17" && first(p, "udp.srcport") === "500" && first(p, "udp.dstport") === "500"),
        `AH, or IKE on port 500 (no NAT, no ESP: nothing floats to 4500): ${JSON.stringify(p)}`);
    }
    const echo = ah.filter((p) => p["icmp.type"]);
    assert.equal(echo.length, 20, "10 echo requests and 10 replies, each behind AH");
    assert.ok(echo.every((p) => first(p, "ah.next_header") === "1"), "transport mode: ICMP right behind AH");
    assert.ok(ah.filter((p) => p["tcp.srcport"]).length >= 8 * MIB / 1400, "the transfer's segments behind AH");
  });

  test("SIGTERM: no rules, routes or table left on either gateway", async () => {
    assert.equal(await da.stop(), 0, da.logTail());
    assert.equal(await db.stop(), 0, db.logTail());
    assertNothingLeft(a);
    assertNothingLeft(b);
  });
});
