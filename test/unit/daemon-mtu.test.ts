// The TUN MTU arithmetic (src/daemon/mtu.ts) against a brute-force oracle that builds the outer packet
// length field by field as RFC 4303 §2 / RFC 3948 §2.1 / RFC 4302 §2 lay it out, and the path MTU lookup
// on iproute2's JSON as `ip -j` prints it (samples captured from iproute2 6.1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { innerMtu, pathMtu, tunMtu, icvOf, MAX_INNER_PACKET, type SaShape } from "../../src/daemon/mtu.js";

/** Outer datagram length of an inner packet of `len` bytes, written out from the RFCs' packet diagrams. */
function outerLength(len: number, outer: 4 | 6, sa: SaShape): number {
  const ip = outer === 4 ? 20 : 40;
  if (sa.protocol === "esp") {
    let trailer = 2; // pad length + next header
    while ((len + trailer) % 4 !== 0) trailer++; // padding to a 4-byte boundary
    return ip + (sa.udpEncap ? 8 : 0) + 4 /* SPI */ + 4 /* seq */ + 8 /* IV */ + len + trailer + sa.icv;
  }
  const icv = { sha256: 16, sha384: 24, sha512: 32, aes128gmac: 8 + 16, aes256gmac: 8 + 16 }[sa.integ]!;
  let ah = 12 + icv;
  while (ah % (outer === 4 ? 4 : 8) !== 0) ah++;
  return ip + ah + len;
}

function oracle(pmtu: number, outer: 4 | 6, sa: SaShape): number {
  let best = 0;
  for (let len = 0; len <= pmtu; len++) if (outerLength(len, outer, sa) <= pmtu) best = len;
  return best;
}

test("ESP-in-UDP with AES-GCM: the largest inner packet that fits, for every ICV, both outer families, many path MTUs", () => {
  // The figures an operator checks by hand: 1500 - 20 - 8 - 8 - 8 - 16 = 1440, minus the 2-byte trailer.
  assert.equal(innerMtu(1500, 4, { protocol: "esp", icv: 16, udpEncap: true }), 1438);
  assert.equal(innerMtu(1500, 6, { protocol: "esp", icv: 16, udpEncap: true }), 1418);
  for (const icv of [8, 12, 16]) {
    for (const outer of [4, 6] as const) {
      for (const udpEncap of [true, false]) {
        for (let pmtu = 576; pmtu <= 9000; pmtu += 37) {
          const sa: SaShape = { protocol: "esp", icv, udpEncap };
          assert.equal(innerMtu(pmtu, outer, sa), oracle(pmtu, outer, sa), `pmtu ${pmtu} IPv${outer} icv ${icv} udp ${udpEncap}`);
        }
      }
    }
  }
});

test("AH: header padded to 4 bytes over IPv4, 8 over IPv6; GMAC carries its IV", () => {
  for (const integ of ["sha256", "sha384", "sha512", "aes128gmac", "aes256gmac"]) {
    for (const outer of [4, 6] as const) {
      for (const pmtu of [1280, 1300, 1499, 1500]) {
        assert.equal(innerMtu(pmtu, outer, { protocol: "ah", integ }), oracle(pmtu, outer, { protocol: "ah", integ }), `${integ} IPv${outer} ${pmtu}`);
      }
    }
  }
  assert.throws(() => innerMtu(1500, 4, { protocol: "ah", integ: "md5" }), /no ICV length known/);
});

test("ICV lengths of the ESP transforms (RFC 4106 §8: ENCR_AES_GCM_8/12/16 = 18/19/20)", () => {
  assert.deepEqual([18, 19, 20].map(icvOf), [8, 12, 16]);
  assert.throws(() => icvOf(12), /no ICV length known/); // AES-CBC
});

test("path MTU: a route's mtu metric wins, else the egress device's; no route: undefined", () => {
  const calls: string[][] = [];
  const fake = (routes: Record<string, string>) => (args: string[]) => {
    calls.push(args);
    const out = routes[args.join(" ")];
    if (out === undefined) throw new Error("RTNETLINK answers: Network is unreachable");
    return out;
  };
  const link = `[{"ifindex":2,"ifname":"wan","flags":["UP"],"mtu":1300,"qdisc":"noqueue"}]`;
  assert.equal(pathMtu("192.0.2.2", fake({
    "-j route get 192.0.2.2": `[{"dst":"192.0.2.2","dev":"wan","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":[]}]`,
    "-j link show dev wan": link,
  })), 1300);
  assert.equal(pathMtu("198.51.100.7", fake({
    "-j route get 198.51.100.7": `[{"dst":"198.51.100.7","gateway":"192.0.2.2","dev":"wan","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":[],"metrics":[{"mtu":1280}]}]`,
  })), 1280);
  calls.length = 0;
  assert.equal(pathMtu("fd00:1::2", fake({
    "-j -6 route get fd00:1::2": `[{"dst":"fd00:1::2","dev":"wan","prefsrc":"fd00:1::1","metric":256,"flags":[],"pref":"medium"}]`,
    "-j link show dev wan": link,
  })), 1300);
  assert.deepEqual(calls[0], ["-j", "-6", "route", "get", "fd00:1::2"]);
  assert.equal(pathMtu("203.0.113.1", fake({})), undefined);
});

test("one TUN for several peers: the smallest inner MTU; unknown paths count as 1500", () => {
  const esp16: SaShape = { protocol: "esp", icv: 16, udpEncap: true }, esp8: SaShape = { protocol: "esp", icv: 8, udpEncap: true };
  const paths: Record<string, number> = { "192.0.2.2": 1500, "192.0.2.3": 1400, "fd00::2": 1500 };
  const path = (a: string) => paths[a];
  assert.equal(tunMtu([], path), undefined);
  assert.equal(tunMtu([{ address: "192.0.2.2", sa: esp16 }, { address: "192.0.2.3", sa: esp8 }], path), oracle(1400, 4, esp8));
  assert.equal(tunMtu([{ address: "192.0.2.2", sa: esp16 }, { address: "fd00::2", sa: esp16 }], path), oracle(1500, 6, esp16));
  assert.equal(tunMtu([{ address: "203.0.113.9", sa: esp8 }], path), oracle(1500, 4, esp8));
});

test("a jumbo-frame path: the TUN MTU stops at what a batch slot takes (2048 less head- and tailroom)", () => {
  assert.equal(MAX_INNER_PACKET, 2048 - 128 - 64);
  const esp16: SaShape = { protocol: "esp", icv: 16, udpEncap: true };
  assert.equal(tunMtu([{ address: "192.0.2.2", sa: esp16 }], () => 9000), MAX_INNER_PACKET);
});
