// One encapsulation call for a batch mixing ESP and AH SAs (PacketBatch.encap(), assembly/batch.ts
// encapBatch): the SPD picks each packet's SA, the SA's protocol picks ESP or AH, and the AH outputs end up
// behind everything else, both groups in their original order, for the two sockets they go to. Every output
// is checked with the independent node:crypto oracles (ESP: RFC 4106 AES-GCM; AH: RFC 4302/4868 ICV).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { MAX_BATCH } from "../../src/dataplane/batch.js";
import { byPolicy, policyOf } from "../../src/dataplane/spd.js";
import { cidr } from "../../src/dataplane/selectors.js";
import { DROP_REASONS } from "../../src/dataplane/layout.js";
import { ipv4Packet, ipv6Packet, v4, v6 } from "../helpers/packets.js";
import { oracleOpen } from "../helpers/esp-oracle.js";
import { oracleVerify, ahLength, type AhOracleSa } from "../helpers/ah-oracle.js";

const DROP = (r: (typeof DROP_REASONS)[number]) => DROP_REASONS.indexOf(r);

function setup() {
  const dp = DataPlane.create({ maxSAs: 16 });
  const espKey = randomBytes(16), espSalt = randomBytes(4);
  const esp = { spi: 0xe5900001, key: espKey, salt: espSalt, icv: 16 };
  const espH = dp.sadb.install({ spi: esp.spi, direction: "out", mode: "tunnel", key: espKey, salt: espSalt,
    remote: { address: "192.0.2.2", port: 4500 }, udpEncap: true });
  const ah4: AhOracleSa = { spi: 0xa4000001, integrity: "sha256", key: randomBytes(32) };
  const ah4H = dp.sadb.install({ protocol: "ah", spi: ah4.spi, direction: "out", mode: "tunnel", integrity: "sha256",
    integrityKey: ah4.key, local: { address: "192.0.2.1" }, remote: { address: "192.0.2.2" } });
  const ah6: AhOracleSa = { spi: 0xa6000001, integrity: "aes128gmac", key: randomBytes(20) };
  const ah6H = dp.sadb.install({ protocol: "ah", spi: ah6.spi, direction: "out", mode: "tunnel", integrity: "aes128gmac",
    integrityKey: ah6.key, local: { address: "2001:db8::1" }, remote: { address: "2001:db8::2" } });
  dp.spd.set([
    { id: 1, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.2.0.0/24"), sa: espH },
    { id: 2, action: "protect", local: cidr("10.1.0.0/24"), remote: cidr("10.3.0.0/24"), sa: ah4H },
    { id: 3, action: "drop", local: cidr("10.1.0.0/24"), remote: cidr("10.4.0.0/24") },
    { id: 4, action: "trap", local: cidr("10.1.0.0/24"), remote: cidr("10.5.0.0/24") },
    { id: 5, action: "protect", local: cidr("fd01::/64"), remote: cidr("fd02::/64"), sa: ah6H },
  ]);
  return { dp, L: dp.L, esp, espH, ah4, ah4H, ah6, ah6H };
}

/** The inner packet behind AH in a tunnel-mode output. */
function innerOf(out: Uint8Array, sa: AhOracleSa): Uint8Array {
  const version = out[0] >> 4, hl = version === 4 ? 20 : 40;
  return out.subarray(hl + ahLength(sa.integrity, version));
}

test("the descriptor's SPD verdict and AH's scratch bytes are disjoint, inside ESP's crypto job", () => {
  const { L } = DataPlane.create({ maxSAs: 1 });
  const policy = [L.D_POLICY, L.D_POLICY + 4], scratch = [L.D_AH_SCRATCH, L.D_AH_SCRATCH + 32]; // 32: HMAC-SHA-512-256's ICV
  assert.ok(policy[1] <= scratch[0] || scratch[1] <= policy[0], `D_POLICY ${policy} overlaps AH's scratch ${scratch}`);
  for (const [a, b] of [policy, scratch]) assert.ok(a >= L.D_DATA_OFF && b <= L.D_ROOM, `${a}..${b} within ESP's crypto job`);
});

test("one call: ESP and AH (IPv4 and IPv6 outer) mixed; AH outputs last, each group in order, every output verified", () => {
  const { dp, L, esp, espH, ah4, ah4H, ah6, ah6H } = setup();
  const pk = [
    ipv4Packet({ src: "10.1.0.1", dst: "10.3.0.1" }),  // AH4 #1
    ipv4Packet({ src: "10.1.0.1", dst: "10.2.0.1" }),  // ESP #1
    ipv6Packet({ src: "fd01::1", dst: "fd02::1" }),    // AH6 #1
    ipv4Packet({ src: "10.1.0.1", dst: "10.4.0.1" }),  // DROP policy 3
    ipv4Packet({ src: "10.1.0.1", dst: "10.3.0.2" }),  // AH4 #2
    ipv4Packet({ src: "10.1.0.1", dst: "10.5.0.1" }),  // TRAP policy 4
    ipv4Packet({ src: "10.1.0.1", dst: "10.2.0.2" }),  // ESP #2
  ];
  const b = dp.batch(8);
  for (const p of pk) b.push(p);
  byPolicy(dp, b);
  assert.equal(b.encap(), 5);
  assert.equal(b.ahStart, 4);
  // Everything but AH, in input order: ESP #1, the DROP, the TRAP, ESP #2.
  assert.deepEqual([0, 1, 2, 3].map((i) => b.status(i)), [L.ST_OK, DROP("policy"), L.ST_TRAP, L.ST_OK]);
  assert.deepEqual([b.sa(0), b.sa(3)], [espH, espH]);
  assert.deepEqual(Uint8Array.from(oracleOpen(esp, b.output(0)).payload), pk[1]);
  assert.deepEqual(Uint8Array.from(oracleOpen(esp, b.output(3)).payload), pk[6]);
  assert.deepEqual([1, 2].map((i) => policyOf(dp, b, i)), [3, 4], "the verdicts moved with their descriptors");
  assert.deepEqual(Uint8Array.from(b.output(2)), pk[5], "TRAP: the packet as it was, for the acquire");
  // AH outputs, in input order: AH4 #1, AH6 #1, AH4 #2 — whole IP packets from the SAs' endpoints.
  assert.deepEqual([4, 5, 6].map((i) => b.status(i)), [L.ST_OK, L.ST_OK, L.ST_OK]);
  assert.deepEqual([4, 5, 6].map((i) => b.sa(i)), [ah4H, ah6H, ah4H]);
  const expect = [[ah4, pk[0], 1], [ah6, pk[2], 1], [ah4, pk[4], 2]] as const;
  expect.forEach(([sa, inner, seq], k) => {
    const out = Uint8Array.from(b.output(4 + k));
    const f = oracleVerify(sa, out);
    assert.equal(f.spi, sa.spi >>> 0);
    assert.equal(f.seq, seq);
    assert.deepEqual(Uint8Array.from(innerOf(out, sa)), inner);
    if (sa === ah4) {
      assert.deepEqual([...out.subarray(12, 20)], [...v4("192.0.2.1"), ...v4("192.0.2.2")]);
      assert.equal(out[9], 51);
    } else {
      assert.deepEqual([...out.subarray(8, 40)], [...v6("2001:db8::1"), ...v6("2001:db8::2")]);
      assert.equal(out[6], 51);
    }
  });
  assert.equal(dp.sadb.stats(ah4H).packets, 2n);
  assert.equal(dp.sadb.stats(espH).packets, 2n);
});

test("explicit handles work too, and a batch without AH outputs keeps its order (ahStart = count)", () => {
  const { dp, L, esp, espH, ah4, ah4H } = setup();
  const p1 = ipv4Packet({ src: "10.9.0.1", dst: "10.9.0.2" }), p2 = ipv4Packet({ src: "10.9.0.3", dst: "10.9.0.4" });
  const b = dp.batch(4);
  b.push(p1, ah4H); b.push(p2, espH);
  assert.equal(b.encap(), 2);
  assert.equal(b.ahStart, 1);
  assert.deepEqual(Uint8Array.from(oracleOpen(esp, b.output(0)).payload), p2);
  assert.deepEqual(Uint8Array.from(innerOf(b.output(1), ah4)), p1);
  oracleVerify(ah4, b.output(1));

  b.clear();
  b.push(p1, espH); b.push(p2, 12345); // no such SA: bad_sa, not reordered
  assert.equal(b.encap(), 1);
  assert.equal(b.ahStart, 2);
  assert.deepEqual([b.status(0), b.status(1)], [L.ST_OK, DROP("bad_sa")]);
  assert.deepEqual(Uint8Array.from(oracleOpen(esp, b.output(0), 0n).payload), p1);
});

test("an AH failure stays in the front group, with its reason and its SA", () => {
  const { dp, ah4, ah4H } = setup();
  const ok = ipv4Packet({ src: "10.1.0.1", dst: "10.3.0.1" });
  const bad = Uint8Array.of(0x50, ...new Uint8Array(39)); // IP version 5: nothing AH can tunnel
  const b = dp.batch(3);
  b.push(ok, ah4H); b.push(bad, ah4H); b.push(ok, ah4H);
  assert.equal(b.encap(), 2);
  assert.equal(b.ahStart, 1);
  assert.equal(b.status(0), DROP("malformed"));
  assert.equal(b.sa(0), ah4H);
  assert.deepEqual([oracleVerify(ah4, b.output(1)).seq, oracleVerify(ah4, b.output(2)).seq], [1, 2]);
  assert.equal(dp.sadb.stats(ah4H).drops.malformed, 1n);
});

test("batch capacity is bounded by what one recvmmsg/sendmmsg takes", () => {
  const dp = DataPlane.create({ maxSAs: 1 });
  assert.equal(MAX_BATCH, 1024);
  assert.throws(() => dp.batch(MAX_BATCH + 1), RangeError);
  assert.throws(() => dp.batch(0), RangeError);
});
