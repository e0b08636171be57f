// Outbound SPD in WASM (RFC 4301 §4.4.1): selector matching (source = local, destination = remote,
// protocol, ports, ICMP type/code, fragments, IPv6 extension headers), first-match order with strongSwan's
// default priorities, resolution of SA_BY_POLICY descriptors inside the encap batch call, statuses and
// counters, atomic SA switch and table rebuilds while another thread encapsulates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { byPolicy, policyOf, SpdError, type Policy } from "../../src/dataplane/spd.js";
import { cidr, type TrafficSelector } from "../../src/dataplane/selectors.js";
import { DROP_REASONS } from "../../src/dataplane/layout.js";
import { ipv4Packet, ipv6Packet, v6 } from "../helpers/packets.js";
import { oracleOpen } from "../helpers/esp-oracle.js";

interface OutSa { handle: number; spi: number; key: Uint8Array; salt: Uint8Array; icv: number }

function setup(maxSAs = 16) {
  const dp = DataPlane.create({ maxSAs });
  let spi = 0x5000;
  const out = (): OutSa => {
    const key = randomBytes(16), salt = randomBytes(4);
    const s = spi++;
    const handle = dp.sadb.install({ spi: s, direction: "out", mode: "tunnel", key, salt, remote: { address: "192.0.2.2" } });
    return { handle, spi: s, key, salt, icv: 16 };
  };
  /** Encapsulate `packets` through the SPD in one batch; the result of each. */
  const run = (packets: Uint8Array[]) => {
    const b = dp.batch(Math.max(1, packets.length));
    for (const p of packets) b.push(p);
    byPolicy(dp, b);
    b.encap();
    return packets.map((_, i) => ({
      status: b.status(i), sa: b.sa(i), policy: policyOf(dp, b, i), out: Uint8Array.from(b.output(i)),
    }));
  };
  return { dp, L: dp.L, out, run };
}

const udp4 = (src: string, dst: string, sport = 1234, dport = 5678) => ipv4Packet({ src, dst, sport, dport, proto: 17 });
const tcp4 = (src: string, dst: string, sport = 1234, dport = 80) => ipv4Packet({ src, dst, sport, dport, proto: 6 });
const icmp4 = (src: string, dst: string, type: number, code = 0) =>
  ipv4Packet({ src, dst, proto: 1, payload: Uint8Array.of(type, code, 0, 0, 0, 1, 0, 1) });

/** Set the IPv4 flags/fragment offset field (bytes 6-7). */
function fragment4(p: Uint8Array, moreFragments: boolean, offset8: number): Uint8Array {
  const q = Uint8Array.from(p);
  const v = (moreFragments ? 0x2000 : 0) | offset8;
  q[6] = v >> 8; q[7] = v & 255;
  return q;
}

/** The same IPv4 packet with 4 bytes of options (NOPs): the upper layer moves to offset 24. */
function withOptions4(p: Uint8Array): Uint8Array {
  const q = new Uint8Array(p.length + 4);
  q.set(p.subarray(0, 20)); q.fill(1, 20, 24); q.set(p.subarray(20), 24);
  q[0] = 0x46; q[2] = q.length >> 8; q[3] = q.length & 255;
  return q;
}

/** IPv6 from fd01::1 to fd02::1 with extension headers (types 0/43/60: 8 bytes; 44: fragment header with
 *  `fragOffset8`) before an upper-layer header `l4` of protocol `proto`. */
function ipv6Ext(chain: number[], proto: number, l4: Uint8Array, fragOffset8 = 0): Uint8Array {
  const ext = new Uint8Array(chain.length * 8);
  chain.forEach((t, i) => {
    ext[i * 8] = i + 1 < chain.length ? chain[i + 1] : proto;
    if (t === 44) { ext[i * 8 + 2] = (fragOffset8 << 3) >> 8; ext[i * 8 + 3] = (fragOffset8 << 3) & 0xf8; }
    else { ext[i * 8 + 1] = 0; ext[i * 8 + 2] = 1; ext[i * 8 + 3] = 4; } // length 0 (8 bytes), PadN
  });
  const p = new Uint8Array(40 + ext.length + l4.length);
  p[0] = 0x60; p[4] = (ext.length + l4.length) >> 8; p[5] = (ext.length + l4.length) & 255;
  p[6] = chain[0]; p[7] = 64;
  p.set(v6("fd01::1"), 8); p.set(v6("fd02::1"), 24);
  p.set(ext, 40); p.set(l4, 40 + ext.length);
  return p;
}
const udpHeader = (sport: number, dport: number) => Uint8Array.of(sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 8, 0, 0);

/** Status code of a drop reason (its index in the data plane's counter order). */
const DROP = (reason: (typeof DROP_REASONS)[number]) => DROP_REASONS.indexOf(reason);

const range = (start: string, end: string, o: Partial<TrafficSelector> = {}): TrafficSelector => ({ start, end, ...o });

test("selectors: source against local, destination against remote; ranges, protocol, ports, ICMP, fragments, IPv6 headers", () => {
  const { L, out, dp, run } = setup();
  const sa = out();
  const A = cidr("10.1.0.0/24"), B = cidr("10.2.0.0/24");
  const cases: [string, TrafficSelector, TrafficSelector, Uint8Array, boolean][] = [
    ["inside both", A, B, udp4("10.1.0.1", "10.2.0.1"), true],
    ["source and destination swapped", A, B, udp4("10.2.0.1", "10.1.0.1"), false],
    ["source outside local", A, B, udp4("10.1.1.1", "10.2.0.1"), false],
    ["range start inclusive", range("10.1.0.10", "10.1.0.20"), B, udp4("10.1.0.10", "10.2.0.1"), true],
    ["range end inclusive", range("10.1.0.10", "10.1.0.20"), B, udp4("10.1.0.20", "10.2.0.1"), true],
    ["below the range", range("10.1.0.10", "10.1.0.20"), B, udp4("10.1.0.9", "10.2.0.1"), false],
    ["above the range", range("10.1.0.10", "10.1.0.20"), B, udp4("10.1.0.21", "10.2.0.1"), false],
    ["protocol UDP: a UDP packet", A, cidr("10.2.0.0/24", 17), udp4("10.1.0.1", "10.2.0.1"), true],
    ["protocol UDP: a TCP packet", A, cidr("10.2.0.0/24", 17), tcp4("10.1.0.1", "10.2.0.1"), false],
    ["protocol on the local side only", cidr("10.1.0.0/24", 6), B, tcp4("10.1.0.1", "10.2.0.1"), true],
    ["destination port 53", A, cidr("10.2.0.0/24", 17, 53, 53), udp4("10.1.0.1", "10.2.0.1", 4000, 53), true],
    ["destination port 54", A, cidr("10.2.0.0/24", 17, 53, 53), udp4("10.1.0.1", "10.2.0.1", 4000, 54), false],
    ["source port is the local selector's", cidr("10.1.0.0/24", 0, 1000, 2000), B, tcp4("10.1.0.1", "10.2.0.1", 1500, 53), true],
    ["source port outside", cidr("10.1.0.0/24", 0, 1000, 2000), B, tcp4("10.1.0.1", "10.2.0.1", 999, 1500), false],
    ["ports after IPv4 options", A, cidr("10.2.0.0/24", 17, 53, 53), withOptions4(udp4("10.1.0.1", "10.2.0.1", 4000, 53)), true],
    // RFC 7296 §3.13.1: ICMP type in the high byte, code in the low byte of the "port".
    ["ICMP echo request, types 8.*", A, cidr("10.2.0.0/24", 1, 0x0800, 0x08ff), icmp4("10.1.0.1", "10.2.0.1", 8), true],
    ["ICMP echo reply, types 8.*", A, cidr("10.2.0.0/24", 1, 0x0800, 0x08ff), icmp4("10.1.0.1", "10.2.0.1", 0), false],
    ["ICMP type 3 code 4 exactly", A, cidr("10.2.0.0/24", 1, 0x0304, 0x0304), icmp4("10.1.0.1", "10.2.0.1", 3, 4), true],
    // RFC 4301 §4.4.1: non-first fragments carry no ports; they match only selectors without ports.
    ["first fragment has ports", A, cidr("10.2.0.0/24", 17, 53, 53), fragment4(udp4("10.1.0.1", "10.2.0.1", 4000, 53), true, 0), true],
    ["non-first fragment vs a port selector", A, cidr("10.2.0.0/24", 17, 53, 53), fragment4(udp4("10.1.0.1", "10.2.0.1", 4000, 53), false, 185), false],
    ["non-first fragment vs protocol only", A, cidr("10.2.0.0/24", 17), fragment4(udp4("10.1.0.1", "10.2.0.1", 4000, 53), false, 185), true],
    ["truncated UDP header vs a port selector", A, cidr("10.2.0.0/24", 17, 53, 53), ipv4Packet({ src: "10.1.0.1", dst: "10.2.0.1", proto: 17, payload: new Uint8Array(0) }).subarray(0, 22).map((x, i) => (i === 3 ? 22 : x)), false],
    ["IPv6", cidr("fd01::/64"), cidr("fd02::/64"), ipv6Packet({ src: "fd01::1", dst: "fd02::1" }), true],
    ["IPv4 entry, IPv6 packet", cidr("0.0.0.0/0"), cidr("0.0.0.0/0"), ipv6Packet({ src: "fd01::1", dst: "fd02::1" }), false],
    ["IPv6 entry, IPv4 packet", cidr("::/0"), cidr("::/0"), udp4("10.1.0.1", "10.2.0.1"), false],
    ["IPv6 hop-by-hop + fragment (first) + UDP 53", cidr("fd01::/64"), cidr("fd02::/64", 17, 53, 53), ipv6Ext([0, 44], 17, udpHeader(4000, 53)), true],
    ["IPv6 non-first fragment vs a port selector", cidr("fd01::/64"), cidr("fd02::/64", 17, 53, 53), ipv6Ext([0, 44], 17, udpHeader(4000, 53), 100), false],
    ["IPv6 non-first fragment vs protocol only", cidr("fd01::/64"), cidr("fd02::/64", 17), ipv6Ext([44], 17, udpHeader(4000, 53), 100), true],
    ["IPv6 routing + destination options + TCP", cidr("fd01::/64"), cidr("fd02::/64", 6), ipv6Ext([43, 60], 6, new Uint8Array(20)), true],
    ["IPv6 extension header is not the protocol", cidr("fd01::/64"), cidr("fd02::/64", 0), ipv6Ext([60], 17, udpHeader(1, 2)), true],
    ["IPv6 destination options is not UDP", cidr("fd01::/64"), cidr("fd02::/64", 60), ipv6Ext([60], 17, udpHeader(1, 2)), false],
  ];
  for (const [name, local, remote, pkt, match] of cases) {
    dp.spd.set([{ id: 1, action: "protect", local, remote, sa: sa.handle }]);
    const [r] = run([pkt]);
    if (match) {
      assert.deepEqual([r.status, r.sa], [L.ST_OK, sa.handle], name);
      const opened = oracleOpen(sa, r.out);
      assert.deepEqual(Uint8Array.from(opened.payload), pkt, `${name}: encapsulated with the policy's SA`);
    } else {
      assert.deepEqual([r.status, r.policy], [DROP("policy"), L.SPD_NONE >>> 0], name);
    }
  }
});

test("first match wins; without priorities the order is strongSwan's (class, then specificity)", () => {
  const { L, out, dp, run } = setup();
  const [s1, s2] = [out(), out()];
  const policies: Policy[] = [
    { id: 10, action: "protect", local: cidr("10.1.0.0/16"), remote: cidr("10.2.0.0/16"), sa: s1.handle },
    { id: 11, action: "bypass", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.5") },
    { id: 12, action: "drop", local: cidr("0.0.0.0/0"), remote: cidr("0.0.0.0/0") },
    { id: 13, action: "trap", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24") },
    { id: 14, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24", 17, 53, 53), sa: s2.handle },
  ];
  dp.spd.set(policies);
  // kernel_netlink_ipsec.c get_priority: (384 << class) - prefix lengths, << 2, +2 without ports, +1 without protocol.
  assert.deepEqual(dp.spd.list().map((e) => [e.id, e.priority]), [
    [11, (384 - 24 - 32) * 4 + 3],
    [14, (768 - 24 - 24) * 4],
    [10, (768 - 16 - 16) * 4 + 3],
    [13, (1536 - 24 - 24) * 4 + 3],
    [12, (3072 - 0 - 0) * 4 + 3],
  ]);
  const r = run([
    udp4("10.1.0.1", "10.2.0.5", 9, 53),  // bypass beats the more specific protect
    udp4("10.1.0.1", "10.2.0.6", 9, 53),  // protect /24 port 53
    tcp4("10.1.0.1", "10.2.0.6"),         // protect /16 (class DEFAULT) before the trap (ROUTED)
    udp4("10.3.0.1", "10.4.0.1"),         // only the drop-all shunt
  ]);
  assert.deepEqual(r.map((x) => x.status), [L.ST_BYPASS, L.ST_OK, L.ST_OK, DROP("policy")]);
  assert.deepEqual([r[0].policy, r[1].sa, r[2].sa, r[3].policy], [11, s2.handle, s1.handle, 12]);

  // Explicit priorities: the lowest first; equal priorities keep the given order.
  const same = (id: number, sa: number): Policy => ({ id, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24"), sa, priority: 5 });
  dp.spd.set([same(1, s1.handle), same(2, s2.handle)]);
  assert.equal(run([udp4("10.1.0.1", "10.2.0.1")])[0].sa, s1.handle);
  dp.spd.set([same(2, s2.handle), same(1, s1.handle)]);
  assert.equal(run([udp4("10.1.0.1", "10.2.0.1")])[0].sa, s2.handle);
  dp.spd.set([same(2, s2.handle), { ...same(1, s1.handle), priority: 4 }]);
  assert.equal(run([udp4("10.1.0.1", "10.2.0.1")])[0].sa, s1.handle);
});

test("one encap call resolves SA_BY_POLICY descriptors next to explicit handles: PROTECT, DROP, BYPASS, TRAP, no match, malformed", () => {
  const { L, out, dp } = setup();
  const [s1, s3] = [out(), out()];
  dp.spd.set([
    { id: 1, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24"), sa: s1.handle },
    { id: 2, action: "drop", local: cidr("10.1.0.0/24"), remote: cidr("10.3.0.0/24") },
    { id: 3, action: "bypass", local: cidr("10.1.0.0/24"), remote: cidr("10.4.0.0/24") },
    { id: 4, action: "trap", local: cidr("10.1.0.0/24"), remote: cidr("10.5.0.0/24") },
  ]);
  const pk = [
    udp4("10.9.9.9", "10.9.9.8"),   // explicit handle s3: the SPD is not consulted
    udp4("10.1.0.1", "10.2.0.1"),
    udp4("10.1.0.1", "10.3.0.1"),
    udp4("10.1.0.1", "10.4.0.1"),
    udp4("10.1.0.1", "10.5.0.1"),
    udp4("10.1.0.1", "10.6.0.1"),   // no entry
    Uint8Array.of(0x41, ...new Uint8Array(23)), // IHL 1: not an IP packet the selectors can read
  ];
  const b = dp.batch(8);
  pk.forEach((p) => b.push(p));
  byPolicy(dp, b);
  dp.views.u32[(b.descOff + L.D_SA) >> 2] = s3.handle;
  const before = dp.sadb.globalDrops();
  assert.equal(b.encap(), 2);
  assert.deepEqual(pk.map((_, i) => b.status(i)),
    [L.ST_OK, L.ST_OK, DROP("policy"), L.ST_BYPASS, L.ST_TRAP, DROP("policy"), DROP("malformed")]);
  assert.deepEqual([b.sa(0), b.sa(1)], [s3.handle, s1.handle]);
  assert.deepEqual(Uint8Array.from(oracleOpen(s3, b.output(0)).payload), pk[0]);
  assert.deepEqual(Uint8Array.from(oracleOpen(s1, b.output(1)).payload), pk[1]);
  assert.deepEqual([2, 3, 4, 5].map((i) => policyOf(dp, b, i)), [2, 3, 4, L.SPD_NONE >>> 0]);
  // BYPASS and TRAP leave the packet as it was, for the caller.
  assert.deepEqual(Uint8Array.from(b.output(3)), pk[3]);
  assert.deepEqual(Uint8Array.from(b.output(4)), pk[4]);
  const after = dp.sadb.globalDrops();
  assert.equal((after.policy ?? 0n) - (before.policy ?? 0n), 2n, "explicit DROP and no match");
  assert.equal((after.malformed ?? 0n) - (before.malformed ?? 0n), 1n);
  assert.equal(dp.spd.noMatch, 1n);
  assert.equal(dp.sadb.stats(s1.handle).packets, 1n);
});

test("TRAP: asks while it has no SA, encapsulates once setHandle gives it one (every entry of the policy id)", () => {
  const { L, out, dp, run } = setup();
  const [s1, s2] = [out(), out()];
  // One policy id over two entries (the cross product of two local subnets), as a CHILD_SA's reqid.
  dp.spd.set([
    { id: 7, action: "trap", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24") },
    { id: 7, action: "trap", local: cidr("10.11.0.0/24"), remote: cidr("10.2.0.0/24") },
    { id: 8, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.3.0.0/24"), sa: s2.handle },
  ]);
  const pk = [udp4("10.1.0.1", "10.2.0.1"), udp4("10.11.0.1", "10.2.0.1")];
  assert.deepEqual(run(pk).map((r) => [r.status, r.policy]), [[L.ST_TRAP, 7], [L.ST_TRAP, 7]]);
  assert.equal(dp.spd.setHandle(7, s1.handle), 2);
  assert.deepEqual(dp.spd.list().map((e) => [e.id, e.sa]), [[8, s2.handle], [7, s1.handle], [7, s1.handle]]);
  assert.deepEqual(run(pk).map((r) => [r.status, r.sa]), [[L.ST_OK, s1.handle], [L.ST_OK, s1.handle]]);
  assert.equal(dp.spd.setHandle(7, null), 2);
  assert.deepEqual(run(pk).map((r) => r.status), [L.ST_TRAP, L.ST_TRAP]);
  assert.equal(dp.spd.setHandle(99, s1.handle), 0);
  assert.throws(() => dp.spd.setHandle(8, null), SpdError);
  assert.throws(() => dp.spd.setHandle(7, 16), /bad SA handle 16/);
});

test("rekey: setHandle moves a PROTECT policy to the new SA; a policy left on a deleted SA drops as bad_sa", () => {
  const { L, out, dp, run } = setup();
  const [s1, s2] = [out(), out()];
  dp.spd.set([{ id: 1, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24"), sa: s1.handle }]);
  const pkt = udp4("10.1.0.1", "10.2.0.1");
  assert.equal(run([pkt])[0].sa, s1.handle);
  assert.equal(dp.spd.setHandle(1, s2.handle), 1);
  const r = run([pkt])[0];
  assert.deepEqual([r.status, r.sa], [L.ST_OK, s2.handle]);
  assert.deepEqual(Uint8Array.from(oracleOpen(s2, r.out).payload), pkt);
  dp.sadb.delete(s2.handle);
  const before = dp.sadb.globalDrops().bad_sa ?? 0n;
  assert.equal(run([pkt])[0].status, DROP("bad_sa"));
  assert.equal((dp.sadb.globalDrops().bad_sa ?? 0n) - before, 1n);
});

test("no SPD yet, then an empty one: everything is dropped and counted", () => {
  const { L, dp, run } = setup();
  assert.deepEqual(dp.spd.list(), []);
  assert.equal(run([udp4("10.1.0.1", "10.2.0.1")])[0].status, DROP("policy"));
  assert.equal(dp.spd.noMatch, 0n, "no region to count in yet");
  assert.equal(dp.sadb.globalDrops().policy, 1n);
  dp.spd.set([]);
  assert.equal(run([udp4("10.1.0.1", "10.2.0.1")])[0].status, DROP("policy"));
  assert.equal(dp.spd.noMatch, 1n);
  assert.equal(dp.sadb.globalDrops().policy, 2n);
});

test("set() validates every entry and leaves the table untouched when one is bad", () => {
  const { out, dp } = setup();
  const s = out();
  const good: Policy = { id: 1, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24"), sa: s.handle };
  dp.spd.set([good]);
  const listed = dp.spd.list();
  const bad: [Partial<Policy>, RegExp][] = [
    [{ sa: undefined }, /"protect" needs an outbound SA/],
    [{ action: "bypass" }, /"bypass" takes no SA/],
    [{ action: "drop", sa: null, remote: cidr("fd02::/64") }, /mix IPv4 and IPv6/],
    [{ local: range("10.1.0.9", "10.1.0.1") }, /10\.1\.0\.9 is above 10\.1\.0\.1/],
    [{ local: range("10.1.0.1", "fd00::1") }, /mixes IPv4 and IPv6/],
    [{ local: range("10.1.0.1", "10.1.0.300") }, /not an IP address/],
    [{ remote: cidr("10.2.0.0/24", 17, 90, 80) }, /port range 90-80/],
    [{ remote: cidr("10.2.0.0/24", 256) }, /protocol 256/],
    [{ id: -1 }, /policy id -1/],
    [{ id: 0xffffffff }, /policy id 4294967295/],
    [{ id: 1.5 }, /policy id 1.5/],
    [{ sa: 16 }, /bad SA handle 16/],
    [{ priority: -3 }, /priority must be a u32/],
    [{ action: "allow" as never }, /action must be one of/],
  ];
  for (const [change, msg] of bad) {
    assert.throws(() => dp.spd.set([good, { ...good, ...change }]), (e: Error) => e instanceof SpdError && msg.test(e.message), String(msg));
  }
  assert.deepEqual(dp.spd.list(), listed);
});

test("list() reads back what the data plane uses; growing past the capacity moves to a larger region", () => {
  const { L, out, dp, run } = setup();
  const s = out();
  // ICMPv6 echo requests (type 128 in the high byte of the "port") to fd00::1-fd00::ff, one entry per source /64.
  const many = (n: number): Policy[] => Array.from({ length: n }, (_, i) => ({
    id: i, action: "protect", local: cidr(`fd01:${i.toString(16)}::/64`),
    remote: range("fd00::1", "fd00::ff", { protocol: 58, portStart: 0x8000, portEnd: 0x80ff }), sa: s.handle, priority: i,
  }));
  const echo = (src: string) => ipv6Packet({ src, dst: "fd00::5", proto: 58, payload: Uint8Array.of(128, 0, 0, 0, 0, 1, 0, 1) });
  dp.spd.set(many(1));
  run([echo("fd01:99::1")]); // a no-match counted in the first region
  dp.spd.set(many(40)); // the first region holds 16
  const listed = dp.spd.list();
  assert.equal(listed.length, 40);
  assert.deepEqual(listed[39], {
    id: 39, action: "protect", sa: s.handle, priority: 39,
    local: { start: "fd01:27:0:0:0:0:0:0", end: "fd01:27:0:0:ffff:ffff:ffff:ffff", protocol: 0, portStart: 0, portEnd: 0xffff },
    remote: { start: "fd00:0:0:0:0:0:0:1", end: "fd00:0:0:0:0:0:0:ff", protocol: 58, portStart: 0x8000, portEnd: 0x80ff },
  });
  const [hit, miss] = run([echo("fd01:27::1"), echo("fd01:28::1")]);
  assert.deepEqual([hit.status, hit.sa, miss.status], [L.ST_OK, s.handle, DROP("policy")]);
  assert.equal(dp.spd.noMatch, 2n, "counts of the replaced region are kept");
});

const WORKER = fileURLToPath(new URL("../helpers/spd-worker.js", import.meta.url));

interface Tally { statuses: Record<number, number>; sas: Record<number, number> }

/** Run `mutate` over and over on this thread while a worker encapsulates flow 10.1.0.1 → 10.2.0.1 through
 *  the SPD, until the worker did `batches` batches and `mutate` ran at least `rounds` times. */
async function whileEncapsulating(dp: DataPlane, batches: number, rounds: number, mutate: (round: number) => void): Promise<Tally & { rounds: number }> {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const w = new Worker(WORKER, { workerData: { handle: dp.handle, shared } });
  const done = new Promise<Tally>((resolve, reject) => { w.once("message", resolve); w.once("error", reject); });
  try {
    while (Atomics.load(shared, 1) === 0) await new Promise((r) => setTimeout(r, 5));
    let round = 0;
    for (; round < rounds || Atomics.load(shared, 1) < batches; round++) mutate(round);
    Atomics.store(shared, 0, 1);
    return { ...(await done), rounds: round };
  } finally {
    await w.terminate();
  }
}

test("setHandle while another thread encapsulates: every packet uses the old SA or the new one, none is lost", async () => {
  const { L, out, dp, run } = setup();
  const [s1, s2] = [out(), out()];
  dp.spd.set([{ id: 1, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24"), sa: s1.handle }]);
  const t = await whileEncapsulating(dp, 300, 20_000, (i) => dp.spd.setHandle(1, i % 2 ? s2.handle : s1.handle));
  const ok = t.statuses[L.ST_OK];
  assert.deepEqual(Object.keys(t.statuses).map(Number), [L.ST_OK], `only successes: ${JSON.stringify(t.statuses)}`);
  assert.deepEqual(Object.keys(t.sas).map(Number).sort(), [s1.handle, s2.handle].sort(), "both SAs were used");
  const p1 = dp.sadb.stats(s1.handle).packets, p2 = dp.sadb.stats(s2.handle).packets;
  assert.equal(p1 + p2, BigInt(ok), "the SA counters account for every packet");
  assert.deepEqual([BigInt(t.sas[s1.handle]), BigInt(t.sas[s2.handle])], [p1, p2]);
  dp.spd.setHandle(1, s2.handle);
  assert.equal(run([udp4("10.1.0.1", "10.2.0.1")])[0].sa, s2.handle, "the switch is immediate once setHandle returned");
});

test("set() rebuilding the table while another thread looks up: no lookup ever mixes two versions", async () => {
  const { L, out, dp } = setup();
  const [s1, s2] = [out(), out()];
  const flow = { local: cidr("10.1.0.1"), remote: cidr("10.2.0.1") };
  const any = { local: cidr("0.0.0.0/0"), remote: cidr("0.0.0.0/0") };
  // Version X: the flow's PROTECT first, then DROP-everything entries. Version Y: DROP entries for other flows
  // first, the flow's PROTECT last. A lookup reading a table while it is rewritten from Y to X could pass
  // index 0 (still Y's) and then meet one of X's "drop everything": a DROP that no version gives. The cycle
  // has three steps so that each of the two tables goes from one version to the other.
  const X = (n: number): Policy[] => [
    { id: 1, action: "protect", ...flow, sa: s1.handle, priority: 0 },
    ...Array.from({ length: n }, (_, i): Policy => ({ id: 100 + i, action: "drop", ...any, priority: 1 + i })),
  ];
  const Y = (n: number): Policy[] => [
    ...Array.from({ length: n }, (_, i): Policy => ({ id: 200 + i, action: "drop", local: cidr(`10.9.${i}.0/24`), remote: cidr("10.2.0.0/24"), priority: i })),
    { id: 2, action: "protect", ...flow, sa: s2.handle, priority: n },
  ];
  const lists = [Y(15), X(15), X(15)];
  dp.spd.set(lists[0]);
  const t = await whileEncapsulating(dp, 600, 6_000, (i) => {
    if (i === 3000) lists[0] = Y(100); // grows the region (16 entries) mid-run
    dp.spd.set(lists[i % 3]);
  });
  assert.ok(t.rounds >= 6_000);
  assert.deepEqual(Object.keys(t.statuses).map(Number), [L.ST_OK], `only successes: ${JSON.stringify(t.statuses)}`);
  assert.deepEqual(Object.keys(t.sas).map(Number).sort(), [s1.handle, s2.handle].sort(), "both versions were seen");
  assert.equal(dp.spd.noMatch, 0n);
});
