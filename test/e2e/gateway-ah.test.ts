// AH (RFC 4302) through the gateway's packet path: two static gateways of ours (src/gateway/static.ts: TUN →
// SPD + AH in one WASM call → raw protocol-51 socket; raw socket → AH + inbound policy → TUN, on worker
// threads) between host namespaces (gateway-topology.ts, named after this process's pid), tunnel mode with
// HMAC-SHA2-256-128, IPv4 over IPv4 and IPv6 over IPv6. Pings both ways while dumpcap records the WAN: tshark
// (an independent dissector; it cannot check the ICV) must find AH with our SPIs, consecutive sequence numbers,
// the right next header and outer addresses, the ICMP inside, nothing malformed, and exactly as many packets
// per SA as the sender counted and the receiver accepted. Then TCP transfers hashed end to end, the counters,
// and a clean stop. Transport mode between the gateways themselves (HMAC-SHA2-512-256 over IPv4, AES-GMAC over
// IPv6; the raw sockets mark their packets and a fwmark rule routes them past the TUN, which captures the
// plaintext to the same address). Then two daemons (`wasm-ipsec daemon`) negotiating an AH Child SA with
// IKEv2 (ah_proposals = sha256, no ESP) carry pings and TCP. Needs root.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  Capture, cleanup, connect, createNetns, decode, makeRunDir, setupHarness, waitUntil, type DecodedPacket, type Netns,
} from "./harness/index.js";
import { createTopology, GatewayProcess, gatewayNetns, NET, type Topology } from "./gateway-topology.js";
import { ping, transfer } from "./gw/traffic.js";
import { Daemon, type DaemonStats } from "./gw/daemon.js";
import { agreed, ours } from "./gw/peers.js";
import { A, B, tunnelConf, type Side } from "./gw/setup.js";
import type { ChildStatus } from "../../src/control/protocol.js";
import type { AhDecapStats } from "../../src/gateway/workers.js";
import type { StaticConfig, StaticSa, StaticStats } from "../../src/gateway/static.js";

setupHarness(["ip", "ping", "dumpcap", "tshark"]);
after(cleanup);

const SPI = { a4: 0xa4a40001, a6: 0xa6a60001, b4: 0xb4b40001, b6: 0xb6b60001 } as const;

/** Both gateways' configurations: an AH SA pair per direction and family, tunnel mode, fresh keys. */
function ahConfigs(dir: string): { a: StaticConfig; b: StaticConfig } {
  const pair = (spi: number, fromA: boolean, v6: boolean): [StaticSa, StaticSa] => {
    const wan = v6 ? [NET.wanA6, NET.wanB6] : [NET.wanA4, NET.wanB4];
    const lan = v6 ? [NET.lanA6, NET.lanB6] : [NET.lanA4, NET.lanB4];
    const [src, dst] = fromA ? wan : [wan[1], wan[0]];
    const [srcNet, dstNet] = fromA ? lan : [lan[1], lan[0]];
    const common = { spi, protocol: "ah", mode: "tunnel", integrity: "sha256", integrityKey: randomBytes(32).toString("hex") } as const;
    return [
      { ...common, direction: "out", local: { address: src }, remote: { address: dst } },
      { ...common, direction: "in", local: { address: dst }, remote: { address: src }, localTs: [dstNet], remoteTs: [srcNet], replayWindow: 1024 },
    ];
  };
  const [a4out, b4in] = pair(SPI.a4, true, false), [a6out, b6in] = pair(SPI.a6, true, true);
  const [b4out, a4in] = pair(SPI.b4, false, false), [b6out, a6in] = pair(SPI.b6, false, true);
  const side = (name: string, sas: StaticSa[], out4: number, out6: number, lan4: string, lan6: string, far4: string, far6: string): StaticConfig => ({
    tun: { name: `wipah${name}%d`, mtu: 1400, routes: [far4, far6] },
    udp: { port: 4500 },
    ah: { receiveBuffer: 4 << 20, sendBuffer: 4 << 20 },
    sas,
    policies: [
      { id: 1, action: "protect", local: lan4, remote: far4, spi: out4 },
      { id: 2, action: "protect", local: lan6, remote: far6, spi: out6 },
    ],
    statsFile: join(dir, `${name}-stats.json`),
  });
  return {
    a: side("a", [a4out, a4in, a6out, a6in], SPI.a4, SPI.a6, NET.lanA4, NET.lanA6, NET.lanB4, NET.lanB6),
    b: side("b", [b4out, b4in, b6out, b6in], SPI.b4, SPI.b6, NET.lanB4, NET.lanB6, NET.lanA4, NET.lanA6),
  };
}

function sa(s: StaticStats, spi: number, direction: "in" | "out") {
  const r = s.sas.find((x) => x.spi === spi && x.direction === direction);
  assert.ok(r, `SA 0x${spi.toString(16)} ${direction}`);
  return r;
}
const packets = (s: StaticStats, spi: number, direction: "in" | "out") => Number(sa(s, spi, direction).packets);

describe("static SAs: two gateways of ours, AH tunnels over IPv4 and IPv6", () => {
  let topo: Topology;
  let gwA: GatewayProcess, gwB: GatewayProcess;
  let dir: string;

  before(async () => {
    topo = createTopology();
    dir = makeRunDir("gw-ah");
    const conf = ahConfigs(dir);
    [gwA, gwB] = await Promise.all([
      GatewayProcess.start(topo.gwA, conf.a, dir, "gwa"),
      GatewayProcess.start(topo.gwB, conf.b, dir, "gwb"),
    ]);
  });


  /** Per SPI: which gateway sends it, its outer addresses, the next header AH names (4: IPv4, 41: IPv6). */
  const FLOWS = [
    { spi: SPI.a4, from: "A", outer: [NET.wanA4, NET.wanB4], nh: "4" },
    { spi: SPI.b4, from: "B", outer: [NET.wanB4, NET.wanA4], nh: "4" },
    { spi: SPI.a6, from: "A", outer: [NET.wanA6, NET.wanB6], nh: "41" },
    { spi: SPI.b6, from: "B", outer: [NET.wanB6, NET.wanA6], nh: "41" },
  ] as const;

  test("pings both ways, IPv4 and IPv6: AH on the wire as tshark dissects it, as many per SA as both ends counted", async () => {
    const cap = await Capture.start(topo.gwA, "wan", { filter: "ip proto 51 or ip6 proto 51", dir });
    const [a0, b0] = await Promise.all([gwA.stats(), gwB.stats()]);
    const N = 5;
    await ping(topo.hostA, NET.hostA4, NET.hostB4, N);
    await ping(topo.hostB, NET.hostB4, NET.hostA4, N);
    await ping(topo.hostA, NET.hostA6, NET.hostB6, N);
    await ping(topo.hostB, NET.hostB6, NET.hostA6, N);
    const path = await cap.stop();
    const [a1, b1] = await Promise.all([gwA.stats(), gwB.stats()]);

    const wire = await decode(path, {
      fields: ["ah.spi", "ah.sequence", "ah.next_header", "ah.length", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
        "icmp.type", "icmpv6.type", "_ws.malformed", "_ws.expert.severity"],
    });
    const first = (p: DecodedPacket, f: string) => p[f]?.[0];
    for (const p of wire) {
      assert.equal(p["_ws.malformed"], undefined, `malformed: ${JSON.stringify(p)}`);
      assert.equal(p["_ws.expert.severity"], undefined, `expert info: ${JSON.stringify(p)}`);
    }
    for (const f of FLOWS) {
      const ours = wire.filter((p) => Number(first(p, "ah.spi")) === f.spi);
      const [sender0, sender1, receiver0, receiver1] = f.from === "A" ? [a0, a1, b0, b1] : [b0, b1, a0, a1];
      const sent = packets(sender1, f.spi, "out") - packets(sender0, f.spi, "out");
      const accepted = packets(receiver1, f.spi, "in") - packets(receiver0, f.spi, "in");
      const what = `SPI 0x${f.spi.toString(16)}`;
      // Echo requests one way, replies to the other side's pings: 2N per SA.
      assert.deepEqual([ours.length, sent, accepted], [2 * N, 2 * N, 2 * N], `${what}: on the wire, sent, accepted`);
      const seq0 = Number(sa(sender0, f.spi, "out").packets); // no drops: the sequence counter is the packet count
      assert.deepEqual(ours.map((p) => Number(first(p, "ah.sequence"))), Array.from({ length: 2 * N }, (_, k) => seq0 + 1 + k), `${what}: sequence`);
      for (const p of ours) {
        assert.equal(first(p, "ah.next_header"), f.nh, what);
        assert.equal(first(p, "ah.length"), f.nh === "4" ? "5" : "6", `${what}: 12 bytes + ICV 16 (IPv6: padded to 8)`); // 32-bit words - 2
        const [src, dst] = f.nh === "4" ? [p["ip.src"], p["ip.dst"]] : [p["ipv6.src"], p["ipv6.dst"]];
        assert.deepEqual([src?.[0], dst?.[0]], [...f.outer], `${what}: outer header`);
        assert.ok(p["icmp.type"] ?? p["icmpv6.type"], `${what}: the inner ICMP dissected`);
      }
    }
    assert.equal(wire.length, 8 * N, "nothing else of protocol 51 on the wire");
  });

  test("TCP both ways, IPv4 and IPv6: 16 MiB each, intact (SHA-256 at the far end)", async () => {
    const MIB = 1 << 20;
    const r4 = await transfer({ from: topo.hostA, src: NET.hostA4, to: topo.hostB, dst: NET.hostB4, port: 5001, bytes: 16 * MIB });
    const r6 = await transfer({ from: topo.hostB, src: NET.hostB6, to: topo.hostA, dst: NET.hostA6, port: 5002, bytes: 16 * MIB });
    process.stdout.write(`# TCP through AH: IPv4 ${r4.mbps.toFixed(0)} Mbit/s, IPv6 ${r6.mbps.toFixed(0)} Mbit/s\n`);
  });

  test("counters: each SA's packets were sent and accepted; no authentication, replay or SPI drops; workers consistent", async () => {
    const [a, b] = await Promise.all([gwA.stats(), gwB.stats()]);
    for (const f of FLOWS) {
      const [s, r] = f.from === "A" ? [a, b] : [b, a];
      const sent = packets(s, f.spi, "out"), accepted = packets(r, f.spi, "in");
      assert.ok(accepted > 0 && accepted <= sent, `SPI 0x${f.spi.toString(16)}: ${accepted} accepted of ${sent}`);
    }
    assert.ok(Number(sa(a, SPI.a4, "out").bytes) >= 16 << 20 && Number(sa(b, SPI.b6, "out").bytes) >= 16 << 20);
    for (const [name, s] of [["A", a], ["B", b]] as const) {
      for (const reason of ["unknown_spi", "replay", "replay_old", "auth_failed", "bad_sa", "malformed", "policy"]) {
        if (reason !== "policy") assert.equal(s.globalDrops[reason], undefined, `${name}: global ${reason}`);
        for (const x of s.sas) assert.equal(x.drops[reason], undefined, `${name}: SA 0x${x.spi.toString(16)} ${x.direction} ${reason}`);
      }
      // The kernel's own packets into the device (an MLD report from :: when it comes up) match no policy.
      assert.equal(s.globalDrops.policy ?? "0", s.spdNoMatch, `${name}: the only policy drops are the SPD's no-match`);
      const { encap, decap, ah } = s.workers;
      assert.ok(ah, `${name}: the AH worker runs`);
      assert.equal(encap.ahSent, encap.encapsulated, `${name}: every AH packet was sent`);
      assert.equal(encap.sent, 0, `${name}: nothing went out as ESP-in-UDP`);
      assert.equal(decap.received, 0, `${name}: nothing came in as ESP-in-UDP`);
      assert.deepEqual(ah.drops, {}, `${name}: AH worker drops`);
      assert.equal(ah.decapsulated, ah.received);
      assert.equal(ah.written, ah.decapsulated, `${name}: every decapsulated packet went into the TUN`);
      assert.deepEqual([encap.raw?.sendErrors, encap.raw?.unroutable, ah.raw.truncated, ah.raw.noAddress], [0, 0, 0, 0], name);
      const inbound = s.sas.filter((x) => x.direction === "in").reduce((n, x) => n + Number(x.packets), 0);
      assert.equal(ah.decapsulated, inbound, `${name}: the AH worker's count is the inbound SAs'`);
    }
  });

  test("both gateways stop cleanly with the AH worker: final counters written, devices gone", async () => {
    for (const [gw, ns] of [[gwA, topo.gwA], [gwB, topo.gwB]] as const) {
      const { code, stats } = await gw.stop();
      assert.equal(code, 0, gw.log());
      assert.ok(stats.workers.ah && stats.workers.ah.received > 0);
      assert.doesNotMatch(ns.ip(["-o", "link", "show"]).stdout, /: wipah[ab]\d+:/);
    }
  });
});

const MARK = 0x51;
const TRANSPORT_TABLE = "151";
const TSPI = { a4: 0x7a400001, b4: 0x7b400001, a6: 0x7a600001, b6: 0x7b600001 } as const;

/** Transport mode between the gateways' own WAN addresses: HMAC-SHA2-512-256 over IPv4, AES-GMAC over IPv6. */
function transportConfigs(dir: string): { a: StaticConfig; b: StaticConfig } {
  const pair = (spi: number, fromA: boolean, v6: boolean): [StaticSa, StaticSa] => {
    const wan = v6 ? [NET.wanA6, NET.wanB6] : [NET.wanA4, NET.wanB4];
    const [src, dst] = fromA ? wan : [wan[1], wan[0]];
    const integrity = v6 ? "aes256gmac" : "sha512";
    const common = { spi, protocol: "ah", mode: "transport", integrity, integrityKey: randomBytes(v6 ? 36 : 64).toString("hex") } as const;
    const host = (a: string) => `${a}/${v6 ? 128 : 32}`;
    return [
      { ...common, direction: "out", local: { address: src }, remote: { address: dst } },
      { ...common, direction: "in", local: { address: dst }, remote: { address: src }, localTs: [host(dst)], remoteTs: [host(src)] },
    ];
  };
  const [a4out, b4in] = pair(TSPI.a4, true, false), [a6out, b6in] = pair(TSPI.a6, true, true);
  const [b4out, a4in] = pair(TSPI.b4, false, false), [b6out, a6in] = pair(TSPI.b6, false, true);
  const side = (name: string, sas: StaticSa[], out4: number, out6: number, me4: string, me6: string, peer4: string, peer6: string): StaticConfig => ({
    tun: { name: `wipt${name}%d`, mtu: 1400 },
    udp: { port: 4500 },
    ah: { mark: MARK },
    sas,
    policies: [
      { id: 1, action: "protect", local: `${me4}/32`, remote: `${peer4}/32`, spi: out4 },
      { id: 2, action: "protect", local: `${me6}/128`, remote: `${peer6}/128`, spi: out6 },
    ],
    statsFile: join(dir, `t${name}-stats.json`),
  });
  return {
    a: side("a", [a4out, a4in, a6out, a6in], TSPI.a4, TSPI.a6, NET.wanA4, NET.wanA6, NET.wanB4, NET.wanB6),
    b: side("b", [b4out, b4in, b6out, b6in], TSPI.b4, TSPI.b6, NET.wanB4, NET.wanB6, NET.wanA4, NET.wanA6),
  };
}

/** The plaintext to the peer goes into the TUN (a table of its own, looked up for everything), the AH packets
 *  the gateway sends (marked) to the WAN: in transport mode both have the peer's address as destination. */
function transportRoutes(ns: Netns, dev: string, me4: string, me6: string, peer4: string, peer6: string): void {
  for (const [v, me, peer] of [["-4", me4, peer4], ["-6", me6, peer6]] as const) {
    ns.ip([v, "rule", "add", "priority", "100", "fwmark", String(MARK), "lookup", "main"]);
    ns.ip([v, "rule", "add", "priority", "200", "lookup", TRANSPORT_TABLE]);
    ns.ip([v, "route", "add", peer, "dev", dev, "src", me, "table", TRANSPORT_TABLE]);
  }
}

describe("static SAs: AH transport mode between the gateways themselves, IPv4 and IPv6", () => {
  let a: Netns, b: Netns;
  let gwA: GatewayProcess, gwB: GatewayProcess;
  before(async () => {
    a = gatewayNetns("tra"); b = gatewayNetns("trb");
    connect({ ns: a, iface: "wan", addrs: [`${NET.wanA4}/24`, `${NET.wanA6}/64`] }, { ns: b, iface: "wan", addrs: [`${NET.wanB4}/24`, `${NET.wanB6}/64`] });
    const dir = makeRunDir("gw-ah-transport");
    const conf = transportConfigs(dir);
    [gwA, gwB] = await Promise.all([GatewayProcess.start(a, conf.a, dir, "tgwa"), GatewayProcess.start(b, conf.b, dir, "tgwb")]);
    transportRoutes(a, "wipta0", NET.wanA4, NET.wanA6, NET.wanB4, NET.wanB6);
    transportRoutes(b, "wiptb0", NET.wanB4, NET.wanB6, NET.wanA4, NET.wanA6);
  });
  after(async () => { await Promise.all([gwA?.stop(), gwB?.stop()]); });

  test("pings both ways: AH right after the IP header, the ICMP behind it, as many per SA as both ends counted", async () => {
    const cap = await Capture.start(a, "wan", { filter: "ip proto 51 or ip6 proto 51 or icmp or (icmp6 and (icmp6[0] == 128 or icmp6[0] == 129))", dir: makeRunDir("gw-ah-transport-cap") });
    const [a0, b0] = await Promise.all([gwA.stats(), gwB.stats()]);
    await ping(a, NET.wanA4, NET.wanB4, 5);
    await ping(b, NET.wanB4, NET.wanA4, 5);
    await ping(a, NET.wanA6, NET.wanB6, 5);
    await ping(b, NET.wanB6, NET.wanA6, 5);
    const path = await cap.stop();
    const [a1, b1] = await Promise.all([gwA.stats(), gwB.stats()]);
    const wire = await decode(path, { fields: ["ah.spi", "ah.next_header", "ah.sequence", "ip.src", "ipv6.src", "icmp.type", "icmpv6.type", "_ws.malformed"] });
    assert.ok(wire.every((p) => p["_ws.malformed"] === undefined), "nothing malformed");
    assert.ok(wire.every((p) => p["ah.spi"]), "no echo in the clear: every ICMP packet is behind AH");
    const flows = [
      { spi: TSPI.a4, s: [a0, a1], r: [b0, b1], nh: "1", src: NET.wanA4 }, { spi: TSPI.b4, s: [b0, b1], r: [a0, a1], nh: "1", src: NET.wanB4 },
      { spi: TSPI.a6, s: [a0, a1], r: [b0, b1], nh: "58", src: NET.wanA6 }, { spi: TSPI.b6, s: [b0, b1], r: [a0, a1], nh: "58", src: NET.wanB6 },
    ];
    for (const f of flows) {
      const ours = wire.filter((p) => Number(p["ah.spi"]?.[0]) === f.spi);
      const sent = packets(f.s[1], f.spi, "out") - packets(f.s[0], f.spi, "out");
      const accepted = packets(f.r[1], f.spi, "in") - packets(f.r[0], f.spi, "in");
      assert.deepEqual([ours.length, sent, accepted], [10, 10, 10], `SPI 0x${f.spi.toString(16)}: on the wire, sent, accepted`);
      assert.deepEqual(ours.map((p) => Number(p["ah.sequence"]?.[0])), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const p of ours) {
        assert.equal(p["ah.next_header"]?.[0], f.nh, "transport mode: ICMP right behind AH");
        assert.deepEqual(p[f.nh === "1" ? "ip.src" : "ipv6.src"], [f.src], "one IP header only, the original one");
        assert.ok(p["icmp.type"] ?? p["icmpv6.type"]);
      }
    }
    assert.equal(wire.length, 40);
  });

  test("TCP between the gateways, IPv4 and IPv6: 8 MiB each way, intact; no drops", async () => {
    await transfer({ from: a, src: NET.wanA4, to: b, dst: NET.wanB4, port: 5021, bytes: 8 << 20 });
    await transfer({ from: b, src: NET.wanB6, to: a, dst: NET.wanA6, port: 5022, bytes: 8 << 20 });
    const [sa1, sb1] = await Promise.all([gwA.stats(), gwB.stats()]);
    for (const [name, s] of [["A", sa1], ["B", sb1]] as const) {
      for (const x of s.sas) assert.deepEqual(x.drops, {}, `${name}: SA 0x${x.spi.toString(16)} ${x.direction} drops`);
      assert.deepEqual(s.workers.ah?.drops, {}, `${name}: AH worker drops`);
      assert.equal(s.workers.encap.ahSent, s.workers.encap.encapsulated, `${name}: every AH packet was sent`);
    }
    assert.ok(packets(sb1, TSPI.a4, "in") <= packets(sa1, TSPI.a4, "out") && packets(sb1, TSPI.a4, "in") > 5000);
  });
});

/** tunnelConf's swanctl.conf with the child proposing AH only: HMAC-SHA2-256-128, no ESP proposals. */
function ahDaemonConf(local: Side, remote: Side) {
  const conf = tunnelConf(local, remote, { child: { ah_proposals: "sha256" } }) as { connections: { gw: { children: { net: Record<string, unknown> } } } };
  delete conf.connections.gw.children.net.esp_proposals;
  return conf as ReturnType<typeof tunnelConf>;
}

describe("two daemons negotiate an AH Child SA (ah_proposals = sha256) and carry traffic over it", () => {
  let a: Netns, b: Netns;
  let da: Daemon, db: Daemon;
  before(async () => {
    a = createNetns("aha"); b = createNetns("ahb");
    connect({ ns: a, iface: "wan", addrs: [`${A.outer}/24`] }, { ns: b, iface: "wan", addrs: [`${B.outer}/24`] });
    for (const [ns, side] of [[a, A], [b, B]] as const) {
      ns.addLoopbackAddress(side.inner);
      ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1"); // no link-local address and IPv6 chatter in the TUN
    }
    [da, db] = await Promise.all([Daemon.start(a, "a", ahDaemonConf(A, B)), Daemon.start(b, "b", ahDaemonConf(B, A))]);
  });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  const child = async (d: Daemon): Promise<ChildStatus> => {
    const c = (await d.listSas())[0]?.children.find((x) => x.state === "installed");
    assert.ok(c, `an installed Child SA on ${d.label}`);
    return c;
  };

  test("a initiates: an AH child; pings both ways and 16 MiB TCP; AH with the negotiated SPIs on the wire", async () => {
    await ours(da).initiate();
    await waitUntil("both daemons agree on the tunnel", 15_000, async () => ((await agreed(ours(da), ours(db))) ? true : undefined), 100)
      .catch((e: Error) => { throw new Error(`${e.message}\n${da.logTail()}\n${db.logTail()}`); });
    const [ca, cb] = [await child(da), await child(db)];
    assert.deepEqual([ca.protocol, cb.protocol], ["AH", "AH"]);
    assert.deepEqual([ca.spiOut, ca.spiIn], [cb.spiIn, cb.spiOut]);
    const [spiAB, spiBA] = [parseInt(ca.spiOut, 16), parseInt(ca.spiIn, 16)];

    // Pings on the record: every packet of the two SAs, and nothing else.
    const cap = await Capture.start(a, "wan", { filter: "ip proto 51 or udp port 4500", dir: makeRunDir("ah-daemon-cap") });
    await ping(a, A.inner, B.inner, 5);
    await ping(b, B.inner, A.inner, 5);
    const path = await cap.stop();
    const wire = await decode(path, { fields: ["ah.spi", "ah.next_header", "ah.sequence", "udp.dstport", "icmp.type", "_ws.malformed"] });
    assert.ok(wire.every((p) => p["_ws.malformed"] === undefined), "nothing malformed");
    assert.ok(wire.every((p) => p["udp.dstport"] === undefined), "no ESP-in-UDP (nor IKE on 4500: there is no NAT)");
    assert.ok(wire.every((p) => p["ah.next_header"]?.[0] === "4" && p["icmp.type"]), "tunnel mode: the ICMP inside dissected");
    for (const spi of [spiAB, spiBA]) {
      const seqs = wire.filter((p) => Number(p["ah.spi"]?.[0]) === spi).map((p) => Number(p["ah.sequence"]?.[0]));
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `SPI ${spi.toString(16)}: requests and replies, in order`);
    }
    assert.equal(wire.length, 20);

    const t = await transfer({ from: a, src: A.inner, to: b, dst: B.inner, port: 5011, bytes: 16 << 20 });
    process.stdout.write(`# daemons, AH child: TCP a -> b ${t.mbps.toFixed(0)} Mbit/s, SHA-256 matches\n`);

    // Both ends' counters agree.
    const [ca2, cb2] = [await child(da), await child(db)];
    assert.equal(ca2.packetsOut, cb2.packetsIn, "a sent what b accepted");
    assert.equal(cb2.packetsOut, ca2.packetsIn, "b sent what a accepted");
    assert.ok(Number(ca2.bytesOut) >= 16 << 20);
    for (const [d, c] of [[da, ca2], [db, cb2]] as const) {
      assert.deepEqual([c.dropsIn, c.dropsOut], [{}, {}], `${d.label}: Child SA drops`);
      const s = await d.stats() as DaemonStats & { workers: { ah?: AhDecapStats; encap: { ahSent: number } } };
      assert.ok(s.workers.ah, `${d.label}: the AH worker runs`);
      assert.deepEqual(s.workers.ah.drops, {}, `${d.label}: AH worker drops`);
      assert.equal(s.workers.ah.decapsulated, Number(c.packetsIn), `${d.label}: the AH worker's count is the Child SA's`);
      assert.equal(s.workers.encap.ahSent, Number(c.packetsOut), `${d.label}: AH sent`);
      assert.equal(s.workers.decap.udp.esp, 0, `${d.label}: no ESP received`);
    }
  });
});

describe("two daemons over IPv6: an AH child between IPv6 gateways, IPv6 inside", () => {
  // IPv6 outer and inner addresses (documentation ULAs); the rest as tunnelConf's.
  const A6: Side = { ...A, outer: "fd00:12::1", inner: "fd00:a1::1", net: "fd00:a1::/64" };
  const B6: Side = { ...B, outer: "fd00:12::2", inner: "fd00:b1::1", net: "fd00:b1::/64" };
  let a: Netns, b: Netns;
  let da: Daemon, db: Daemon;
  before(async () => {
    a = createNetns("aha6"); b = createNetns("ahb6");
    connect({ ns: a, iface: "wan", addrs: [`${A6.outer}/64`] }, { ns: b, iface: "wan", addrs: [`${B6.outer}/64`] });
    a.addLoopbackAddress(A6.inner);
    b.addLoopbackAddress(B6.inner);
    [da, db] = await Promise.all([Daemon.start(a, "a", ahDaemonConf(A6, B6)), Daemon.start(b, "b", ahDaemonConf(B6, A6))]);
  });
  after(async () => { await Promise.all([da?.stop(), db?.stop()]); });

  test("b initiates: AH over IPv6 with the negotiated SPIs (the IPv6 header rebuilt on receive verifies); pings, 8 MiB TCP", async () => {
    await ours(db).initiate();
    await waitUntil("both daemons agree on the tunnel", 15_000, async () => ((await agreed(ours(da), ours(db))) ? true : undefined), 100)
      .catch((e: Error) => { throw new Error(`${e.message}\n${da.logTail()}\n${db.logTail()}`); });
    const ca = (await da.listSas())[0].children[0];
    assert.equal(ca.protocol, "AH");
    const cap = await Capture.start(a, "wan", { filter: "ip6 proto 51 or udp port 4500", dir: makeRunDir("ah6-daemon-cap") });
    await ping(a, A6.inner, B6.inner, 5);
    await ping(b, B6.inner, A6.inner, 5);
    const path = await cap.stop();
    const wire = await decode(path, { fields: ["ipv6.src", "ah.spi", "ah.next_header", "icmpv6.type", "_ws.malformed"] });
    assert.ok(wire.every((p) => p["_ws.malformed"] === undefined), "nothing malformed");
    assert.ok(wire.every((p) => p["ah.next_header"]?.[0] === "41" && p["icmpv6.type"]), "tunnel mode: IPv6 in IPv6, the ICMPv6 inside dissected");
    assert.deepEqual(new Set(wire.map((p) => Number(p["ah.spi"]?.[0]))), new Set([parseInt(ca.spiOut, 16), parseInt(ca.spiIn, 16)]));
    assert.equal(wire.length, 20);
    await transfer({ from: a, src: A6.inner, to: b, dst: B6.inner, port: 5012, bytes: 8 << 20 });
    for (const d of [da, db]) {
      const s = await d.stats() as DaemonStats & { workers: { ah?: AhDecapStats } };
      assert.deepEqual(s.workers.ah?.drops, {}, `${d.label}: AH worker drops`);
    }
  });
});
