// AH (RFC 4302) through the batch API, checked against an independent node:crypto implementation of the
// RFCs (test/helpers/ah-oracle.ts): our ICVs match the oracle's, computed over an image of the packet it
// zeroes by hand; packets the oracle builds decapsulate; every bit of a packet is flipped, and exactly
// the changes the oracle's image cannot see (mutable fields) are accepted.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import type { Integrity, SaParams } from "../../src/dataplane/sadb.js";
import { DROP_REASONS } from "../../src/dataplane/layout.js";
import { cidr } from "../../src/dataplane/selectors.js";
import { ipv4Packet, ipv6Packet, v4, v6 } from "../helpers/packets.js";
import {
  ahLength, findAh, fixIpv4Checksum, icvImage, icvOffset, icvLength, ipv4ChecksumOk, oracleAhSeal, oracleVerify,
  withIpv4Options, withIpv6ExtHeaders, type AhOracleSa,
} from "../helpers/ah-oracle.js";

const INTEGRITIES: Integrity[] = ["sha256", "sha384", "sha512", "aes128gmac", "aes256gmac"];
const KEY_LENGTH: Record<Integrity, number> = { sha256: 32, sha384: 48, sha512: 64, aes128gmac: 20, aes256gmac: 36 };
const ENDS = {
  4: { local: "192.0.2.1", remote: "192.0.2.2" },
  6: { local: "2001:db8::1", remote: "2001:db8::2" },
} as const;
const reason = (s: number) => DROP_REASONS[s] ?? `status ${s}`;
const copy = (u: Uint8Array) => Uint8Array.from(u);

interface AhPair { dp: DataPlane; out: number; in: number; sa: AhOracleSa; io: Io }

/** One data plane with an outbound AH SA and its inbound twin (same SPI and key: a loopback). */
function ahPair(o: { integrity?: Integrity; mode?: "tunnel" | "transport"; outer?: 4 | 6; esn?: boolean; spi?: number } &
                Partial<Pick<SaParams, "replayWindow" | "lifetime" | "localTs" | "remoteTs">> = {}, dp?: DataPlane): AhPair {
  dp ??= DataPlane.create({ maxSAs: 64 });
  const integrity = o.integrity ?? "sha256";
  const key = randomBytes(KEY_LENGTH[integrity]);
  const spi = o.spi ?? 0x10000 + Math.floor(Math.random() * 0xfff0000);
  const ends = ENDS[o.outer ?? 4];
  const common = { protocol: "ah", spi, mode: o.mode ?? "tunnel", integrity, integrityKey: key, esn: o.esn } as const;
  const out = dp.sadb.install({ ...common, direction: "out", local: { address: ends.local }, remote: { address: ends.remote }, lifetime: o.lifetime });
  const inb = dp.sadb.install({
    ...common, direction: "in", local: { address: ends.remote }, remote: { address: ends.local },
    replayWindow: o.replayWindow, localTs: o.localTs, remoteTs: o.remoteTs,
  });
  return { dp, out, in: inb, sa: { spi, integrity, key, esn: o.esn }, io: new Io(dp) };
}

/** One-packet batches, reused (every batch takes arena memory for good). */
class Io {
  private readonly b: PacketBatch;
  constructor(dp: DataPlane, slot = 4096) { this.b = dp.batch(1, slot); }
  encap(sa: number, pkt: Uint8Array): { status: number; out: Uint8Array } {
    this.b.clear(); this.b.push(pkt, sa); this.b.ahEncap();
    const status = this.b.status(0);
    return { status, out: status === 0 ? copy(this.b.output(0)) : new Uint8Array(0) };
  }
  decap(pkt: Uint8Array): { status: number; out: Uint8Array; sa: number } {
    this.b.clear(); this.b.push(pkt); this.b.ahDecap();
    const status = this.b.status(0);
    return { status, out: status === 0 ? copy(this.b.output(0)) : new Uint8Array(0), sa: this.b.sa(0) };
  }
}

function innerPacket(version: 4 | 6, len: number, addrs?: { src: string; dst: string }): Uint8Array {
  const spec = { payloadLen: len, ...addrs };
  return version === 4 ? ipv4Packet(spec) : ipv6Packet(spec);
}

/** Set an IPv4 TOS / IPv6 traffic class. */
function setTos(p: Uint8Array, tos: number): Uint8Array {
  if (p[0] >> 4 === 4) { p[1] = tos; fixIpv4Checksum(p); }
  else { p[0] = 0x60 | (tos >> 4); p[1] = ((tos & 15) << 4) | (p[1] & 15); }
  return p;
}

describe("AH round trips: our ICV is the oracle's; the peer gets the packet back", () => {
  for (const integrity of INTEGRITIES) {
    test(integrity, () => {
      const cases: { mode: "tunnel" | "transport"; outer: 4 | 6; inner: 4 | 6 }[] = [
        { mode: "tunnel", outer: 4, inner: 4 }, { mode: "tunnel", outer: 4, inner: 6 },
        { mode: "tunnel", outer: 6, inner: 4 }, { mode: "tunnel", outer: 6, inner: 6 },
        { mode: "transport", outer: 4, inner: 4 }, { mode: "transport", outer: 6, inner: 6 },
      ];
      for (const { mode, outer, inner } of cases) {
        const pr = ahPair({ integrity, mode, outer });
        const where = `${mode} IPv${inner} in IPv${outer}`;
        let seq = 0;
        for (const len of [0, 1, 3, 61, 1400]) {
          const addrs = mode === "transport" ? { src: ENDS[outer].local, dst: ENDS[outer].remote } : undefined;
          const pkt = setTos(innerPacket(inner, len, addrs), 0xb9); // DSCP EF, ECN ECT(1)
          const e = pr.io.encap(pr.out, pkt);
          assert.equal(e.status, 0, `${where}: encap ${reason(e.status)}`);
          const o = e.out;
          const f = oracleVerify(pr.sa, o, 0n, true);
          seq++;
          const ahLen = ahLength(integrity, outer);
          assert.equal((f.payloadLength + 2) * 4, ahLen, `${where}: payload length field`);
          assert.equal(ahLen % (outer === 6 ? 8 : 4), 0);
          assert.equal(f.reserved, 0);
          assert.equal(f.spi, pr.sa.spi);
          assert.equal(f.seq, seq);
          assert.ok(f.padding.every((b) => b === 0), "padding");
          if (integrity.endsWith("gmac")) assert.equal(f.iv.readBigUInt64BE(0), BigInt(seq), "GMAC IV = sequence number");
          assert.equal(o[0] >> 4, outer);
          if (outer === 4) {
            assert.ok(ipv4ChecksumOk(o), "IPv4 checksum");
            assert.equal((o[2] << 8) | o[3], o.length);
            assert.notEqual((o[4] << 8) | o[5], 0, "IPv4 Identification never 0 (the kernel would rewrite it)");
          } else {
            assert.equal(((o[4] << 8) | o[5]) + 40, o.length);
          }
          const hl = f.ah;
          if (mode === "tunnel") {
            assert.equal(f.nextHeader, inner === 4 ? 4 : 41);
            assert.deepEqual(o.subarray(hl + ahLen), pkt, "inner packet follows AH");
            if (outer === 4) {
              assert.deepEqual([...o.subarray(12, 20)], [...v4(ENDS[4].local), ...v4(ENDS[4].remote)]);
              assert.equal(o[1], 0xb9, "DSCP and ECN copied");
              assert.equal(o[6] & 0x40, 0x40, "DF copied / set");
              assert.equal(o[8], 64, "TTL");
              assert.equal(o[9], 51);
            } else {
              assert.deepEqual([...o.subarray(8, 40)], [...v6(ENDS[6].local), ...v6(ENDS[6].remote)]);
              assert.equal(((o[0] & 15) << 4) | (o[1] >> 4), 0xb9, "traffic class copied");
              assert.equal(o[7], 64, "hop limit");
              assert.equal(o[6], 51);
            }
          } else {
            const phl = inner === 4 ? 20 : 40;
            assert.equal(hl, phl);
            assert.equal(f.nextHeader, 17);
            assert.deepEqual(o.subarray(hl + ahLen), pkt.subarray(phl), "payload follows AH");
            // The header is the packet's own, only length, protocol and checksum adjusted.
            const same = inner === 4 ? [0, 1, 4, 5, 6, 7, 8, 12, 13, 14, 15, 16, 17, 18, 19] : [0, 1, 2, 3, 7, ...Array.from({ length: 32 }, (_, i) => 8 + i)];
            for (const i of same) assert.equal(o[i], pkt[i], `${where}: header byte ${i}`);
          }
          const d = pr.io.decap(o);
          assert.equal(d.status, 0, `${where}: decap ${reason(d.status)}`);
          assert.equal(d.sa, pr.in);
          assert.deepEqual(d.out, pkt, `${where}: decapsulated packet`);
        }
        const st = pr.dp.sadb.stats(pr.in);
        assert.equal(st.protocol, "ah");
        assert.equal(st.packets, 5n);
        assert.deepEqual(st.drops, {});
      }
    });
  }
});

test("packets the oracle builds decapsulate (any GMAC IV, IPv4 and IPv6, both modes)", () => {
  for (const integrity of INTEGRITIES) {
    for (const outer of [4, 6] as const) {
      for (const mode of ["tunnel", "transport"] as const) {
        const pr = ahPair({ integrity, mode, outer });
        const e = ENDS[outer];
        const src = outer === 4 ? v4(e.local) : v6(e.local), dst = outer === 4 ? v4(e.remote) : v6(e.remote);
        for (let seq = 1n; seq <= 6n; seq++) {
          const inner = innerPacket(seq % 2n ? 4 : 6, Number(seq) * 41);
          const pkt = mode === "tunnel" ? inner : innerPacket(outer, Number(seq) * 41, { src: e.local, dst: e.remote });
          const ah = oracleAhSeal(pr.sa, seq, pkt, mode, { outer: { version: outer, src, dst, tos: 0x28, ttl: 7 }, iv: randomBytes(8) });
          const d = pr.io.decap(ah);
          assert.equal(d.status, 0, `${integrity} ${mode} IPv${outer} seq ${seq}: ${reason(d.status)}`);
          assert.deepEqual(d.out, pkt);
        }
      }
    }
  }
});

/**
 * Flip every bit of an AH packet, one at a time. A flip the oracle's image does not see and that leaves
 * the ICV alone (a mutable field) must be accepted — on a fresh packet, as the first copy's sequence
 * number is then spent; every other flip must be dropped, without advancing the window (the unmodified
 * packet is accepted last). IPv4 fragment bits are mutable but mark a fragment: dropped as unsupported.
 * Returns the accepted [byte, bit] pairs.
 */
function flipEveryBit(pr: AhPair, make: () => Uint8Array, outbound = false): Set<string> {
  const base = make();
  const img = (p: Uint8Array) => { try { return Buffer.from(icvImage(p, pr.sa.integrity, outbound)); } catch { return undefined; } };
  const baseImage = img(base)!;
  const { ah } = findAh(base);
  const icvAt = ah + icvOffset(pr.sa.integrity), icvEnd = icvAt + icvLength(pr.sa.integrity);
  const v4 = base[0] >> 4 === 4;
  const accepted = new Set<string>();
  for (let i = 0; i < base.length; i++) {
    for (let bit = 1; bit < 256; bit <<= 1) {
      const p = copy(base);
      p[i] ^= bit;
      const fragment = v4 && ((i === 6 && (bit & 0x3f) !== 0) || i === 7);
      const invisible = (i < icvAt || i >= icvEnd) && img(p)?.equals(baseImage) === true;
      if (invisible && !fragment) { accepted.add(`${i}:${bit}`); continue; }
      const d = pr.io.decap(p);
      assert.notEqual(d.status, 0, `byte ${i} bit ${bit} changed yet the packet was accepted`);
      if (fragment) assert.equal(reason(d.status), "unsupported");
    }
  }
  assert.equal(pr.io.decap(base).status, 0, "the unmodified packet, after all forgeries");
  for (const k of accepted) {
    const [i, bit] = k.split(":").map(Number);
    const p = make();
    p[i] ^= bit;
    const d = pr.io.decap(p);
    assert.equal(d.status, 0, `mutable byte ${i} bit ${bit}: ${reason(d.status)}`);
  }
  return accepted;
}

const bits = (bytes: number[], mask = 0xff) => bytes.flatMap((i) => [1, 2, 4, 8, 16, 32, 64, 128].filter((b) => b & mask).map((b) => `${i}:${b}`));

describe("mutable fields change in flight and still verify; any other change fails", () => {
  test("IPv4 tunnel, HMAC-SHA2-256: TOS, DF and the reserved flag, TTL, checksum — nothing else", () => {
    const pr = ahPair({ integrity: "sha256", mode: "tunnel", outer: 4 });
    const inner = ipv4Packet({ payloadLen: 24 });
    const accepted = flipEveryBit(pr, () => pr.io.encap(pr.out, inner).out);
    assert.deepEqual([...accepted].sort(), [...bits([1, 8, 10, 11]), "6:64", "6:128"].sort());
  });

  test("IPv6 tunnel, AES-GMAC: traffic class, flow label, hop limit — nothing else (not the IV)", () => {
    const pr = ahPair({ integrity: "aes128gmac", mode: "tunnel", outer: 6 });
    const inner = ipv6Packet({ payloadLen: 16 });
    const accepted = flipEveryBit(pr, () => pr.io.encap(pr.out, inner).out);
    assert.deepEqual([...accepted].sort(), [...bits([0], 0x0f), ...bits([1, 2, 3, 7])].sort());
  });

  test("IPv4 options: Record Route (mutable) is zeroed whole, Security (immutable) is covered", () => {
    const pr = ahPair({ integrity: "sha384", mode: "transport", outer: 4 });
    const rr = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0];      // RFC 791 record route, room for two addresses
    const sec = [130, 4, 0x5a, 0x01];                   // RFC 1108 basic security option
    const pkt = withIpv4Options(ipv4Packet({ src: ENDS[4].local, dst: ENDS[4].remote, payloadLen: 20 }), Uint8Array.from([...rr, ...sec, 0]));
    const accepted = flipEveryBit(pr, () => pr.io.encap(pr.out, pkt).out);
    // The option's type and data (its length decides which bytes are zeroed: checked by the flips above).
    for (const k of bits([1, 8, 10, 11, 20, ...Array.from({ length: 9 }, (_, i) => 22 + i)])) {
      assert.ok(accepted.has(k), `${k} should be mutable`);
    }
    for (const k of bits([31, 32, 33, 34, 35])) assert.ok(!accepted.has(k), `security option / EOL ${k} is covered`);
    // A router records its address: the packet still verifies, and is delivered with the option as received.
    const e = pr.io.encap(pr.out, pkt).out;
    e.set([8, 10, 9, 9, 9], 22); // pointer, first address
    e[8]--; fixIpv4Checksum(e);
    const d = pr.io.decap(e);
    assert.equal(d.status, 0, reason(d.status));
    assert.deepEqual(d.out.subarray(20, 36), e.subarray(20, 36));
    assert.equal(d.out[8], pkt[8] - 1);
    assert.ok(ipv4ChecksumOk(d.out));
    assert.deepEqual(d.out.subarray(36), pkt.subarray(36));
  });

  test("IPv6 hop-by-hop and destination options: data of options with the change-en-route bit only", () => {
    const pr = ahPair({ integrity: "sha512", mode: "transport", outer: 6 });
    // Hop-by-hop: experimental option 0x3E (act 00, chg 1) with 4 data bytes, router alert (0x05, immutable).
    const hbh = Uint8Array.from([0x3e, 4, 0xa1, 0xa2, 0xa3, 0xa4, 0x05, 2, 0, 0, 0x01, 2, 0, 0]); // + PadN
    // Destination options: 0x1E (chg 0) and PadN.
    const dst = Uint8Array.from([0x1e, 2, 0xb1, 0xb2, 0x01, 0]);
    const pkt = withIpv6ExtHeaders(ipv6Packet({ src: ENDS[6].local, dst: ENDS[6].remote, payloadLen: 12 }),
      [{ type: 0, body: hbh }, { type: 60, body: dst }]);
    const encap = () => pr.io.encap(pr.out, pkt).out;
    const o = encap();
    assert.equal(findAh(o).ah, 40 + 16 + 8, "AH after hop-by-hop and destination options");
    assert.equal(o[56], 51, "the destination options header names AH");
    assert.equal(o[64], 17, "AH names UDP");
    const accepted = flipEveryBit(pr, encap);
    assert.deepEqual([...accepted].sort(), [...bits([0], 0x0f), ...bits([1, 2, 3, 7, 44, 45, 46, 47])].sort());
  });

  test("a router decrements TTL / hop limit and rewrites DSCP and ECN: still verifies", () => {
    for (const outer of [4, 6] as const) {
      for (const mode of ["tunnel", "transport"] as const) {
        const pr = ahPair({ integrity: "sha256", mode, outer });
        const pkt = mode === "tunnel" ? ipv4Packet({ payloadLen: 99 }) : innerPacket(outer, 99, { src: ENDS[outer].local, dst: ENDS[outer].remote });
        for (let hop = 0; hop < 3; hop++) {
          const p = pr.io.encap(pr.out, pkt).out;
          if (outer === 4) { p[8] -= 1 + hop; p[1] = (0x20 << hop) | 3; p[6] |= 0x40; fixIpv4Checksum(p); }
          else { p[7] -= 1 + hop; setTos(p, (0x20 << hop) | 3); p[1] = (p[1] & 0xf0) | 0x0a; p[2] = 0x12; p[3] = 0x34; }
          const d = pr.io.decap(p);
          assert.equal(d.status, 0, `IPv${outer} ${mode}: ${reason(d.status)}`);
          if (mode === "tunnel") assert.deepEqual(d.out, pkt);
          else assert.equal(d.out[outer === 4 ? 8 : 7], p[outer === 4 ? 8 : 7], "transport mode delivers the header as received");
        }
      }
    }
  });
});

test("IPv4 source routing: the ICV is computed with the final destination, and verifies there", () => {
  const pr = ahPair({ integrity: "sha256", mode: "transport", outer: 4 });
  const final = v4(ENDS[4].remote), hop = v4("198.51.100.7");
  // Loose source route via `hop` to the final destination; the packet is first addressed to `hop`.
  const lsrr = Uint8Array.from([131, 11, 4, ...hop, ...final, 0]);
  const pkt = withIpv4Options(ipv4Packet({ src: ENDS[4].local, dst: "198.51.100.7", payloadLen: 30 }), lsrr);
  const o = pr.io.encap(pr.out, pkt).out;
  oracleVerify(pr.sa, o, 0n, true);
  assert.throws(() => oracleVerify(pr.sa, o, 0n, false), /ICV mismatch/, "computed with the final destination");
  // At the final destination: destination replaced, the hop's address recorded, pointer advanced.
  const arrived = copy(o);
  arrived.set(final, 16);
  arrived.set([12, ...v4("203.0.113.1")], 22);
  fixIpv4Checksum(arrived);
  const d = pr.io.decap(arrived);
  assert.equal(d.status, 0, reason(d.status));
});

test("IPv6 routing headers: passed with no segments left, refused with some; fragments refused", () => {
  const pr = ahPair({ integrity: "sha256", mode: "transport", outer: 6 });
  const addrs = { src: ENDS[6].local, dst: ENDS[6].remote, payloadLen: 10 };
  const rh = (left: number) => Uint8Array.from([4, left, 0, 0, 0, 0, ...Array(16).fill(0x20)]); // type 4, 1 segment
  const done = withIpv6ExtHeaders(ipv6Packet(addrs), [{ type: 43, body: rh(0) }]);
  const e = pr.io.encap(pr.out, done);
  assert.equal(e.status, 0, reason(e.status));
  assert.equal(findAh(e.out).ah, 64);
  oracleVerify(pr.sa, e.out, 0n, true);
  assert.deepEqual(pr.io.decap(e.out).out, done);
  assert.equal(reason(pr.io.encap(pr.out, withIpv6ExtHeaders(ipv6Packet(addrs), [{ type: 43, body: rh(1) }])).status), "unsupported");
  const frag = Uint8Array.from([0, 0x00, 0x01, 0, 0, 0x12, 0x34]); // offset 0, M=1 (a first fragment)
  assert.equal(reason(pr.io.encap(pr.out, withIpv6ExtHeaders(ipv6Packet(addrs), [{ type: 44, body: Uint8Array.from([...frag.subarray(1)]) }])).status), "unsupported");
  // Received: a fragment header in front of AH.
  const sealed = oracleAhSeal(pr.sa, 50n, ipv6Packet(addrs), "transport");
  const withFrag = withIpv6ExtHeaders(sealed.subarray(0, 40), [{ type: 44, body: Uint8Array.from([0, 0, 0, 0, 0, 1]) }]);
  const fragmented = Uint8Array.from([...withFrag.subarray(0, 48), ...sealed.subarray(40)]);
  fragmented[40] = 51; fragmented[5] += 0; // the fragment header names AH
  const plen = fragmented.length - 40; fragmented[4] = plen >> 8; fragmented[5] = plen & 255;
  assert.equal(reason(pr.io.decap(fragmented).status), "unsupported");
});

describe("sequence numbers and the anti-replay window (ESP's mechanism)", () => {
  test("replay, too old, sequence 0; a forgery does not move the window", () => {
    const pr = ahPair({ integrity: "sha256", replayWindow: 64 });
    const outer = { version: 4 as const, src: v4(ENDS[4].local), dst: v4(ENDS[4].remote) };
    const seal = (seq: bigint) => oracleAhSeal(pr.sa, seq, ipv4Packet(), "tunnel", { outer });
    const p300 = seal(300n);
    assert.equal(pr.io.decap(p300).status, 0);
    assert.equal(reason(pr.io.decap(p300).status), "replay");
    assert.equal(reason(pr.io.decap(seal(300n - 64n)).status), "replay_old");
    assert.equal(pr.io.decap(seal(300n - 63n)).status, 0);
    assert.equal(reason(pr.io.decap(seal(0n)).status), "bad_seq");
    const forged = seal(100000n);
    forged[forged.length - 1] ^= 1;
    assert.equal(reason(pr.io.decap(forged).status), "auth_failed");
    assert.equal(pr.io.decap(seal(299n)).status, 0, "the window did not move to 100000");
    assert.deepEqual(pr.dp.sadb.stats(pr.in).drops, { replay: 1n, replay_old: 1n, bad_seq: 1n, auth_failed: 1n });
  });

  test("ESN: the high half is covered by the ICV (after the packet) and inferred by the receiver", () => {
    for (const integrity of ["sha512", "aes256gmac"] as const) {
      const pr = ahPair({ integrity, esn: true, replayWindow: 128 });
      pr.dp.sadb.setOutboundSeq(pr.out, 0xfffffffdn);
      for (let i = 0; i < 4; i++) {
        const seq = 0xfffffffen + BigInt(i);
        const o = pr.io.encap(pr.out, ipv4Packet()).out;
        const f = oracleVerify(pr.sa, o, seq >> 32n, true);
        assert.equal(BigInt(f.seq), seq & 0xffffffffn);
        if (i >= 2) assert.throws(() => oracleVerify(pr.sa, o, 0n, true), /ICV mismatch/, "the high half counts");
        assert.equal(pr.io.decap(o).status, 0, `${integrity}: decap across the wrap`);
      }
      const outer = { version: 4 as const, src: v4(ENDS[4].local), dst: v4(ENDS[4].remote) };
      const late = oracleAhSeal(pr.sa, 0xfffffff0n, ipv4Packet(), "tunnel", { outer });
      assert.equal(pr.io.decap(late).status, 0, "late packet from before the wrap");
      const wrongHalf = oracleAhSeal({ ...pr.sa, esn: false }, 0x100000005n, ipv4Packet(), "tunnel", { outer });
      assert.equal(reason(pr.io.decap(wrongHalf).status), "auth_failed");
    }
  });

  test("sequence numbers never wrap; lifetimes expire AH SAs as ESP ones", () => {
    const pr = ahPair({ lifetime: { hardPackets: 3 } });
    pr.dp.sadb.setOutboundSeq(pr.out, 0xfffffffen);
    assert.equal(pr.io.encap(pr.out, ipv4Packet()).status, 0);
    assert.equal(reason(pr.io.encap(pr.out, ipv4Packet()).status), "seq_exhausted");
    const st = pr.dp.sadb.stats(pr.out);
    assert.ok(st.seqExhausted && st.hardExpired);
    const lt = ahPair({ lifetime: { softPackets: 1, hardPackets: 2 } });
    assert.equal(lt.io.encap(lt.out, ipv4Packet()).status, 0);
    assert.deepEqual(lt.dp.sadb.softExpired(), [lt.out]);
    assert.equal(lt.io.encap(lt.out, ipv4Packet()).status, 0);
    assert.equal(reason(lt.io.encap(lt.out, ipv4Packet()).status), "expired");
  });
});

test("malformed input is dropped and counted by reason", () => {
  const pr = ahPair({ integrity: "sha256", mode: "tunnel", outer: 4, localTs: [cidr("10.2.0.0/16")], remoteTs: [cidr("10.1.0.0/16")] });
  const { dp, io } = pr;
  const outer = { version: 4 as const, src: v4(ENDS[4].local), dst: v4(ENDS[4].remote) };
  let seq = 1n;
  const seal = (inner = ipv4Packet(), opts: { nextHeader?: number } = {}) => oracleAhSeal(pr.sa, seq++, inner, "tunnel", { outer, ...opts });
  const expectDrop = (pkt: Uint8Array, why: string, where: "sa" | "global" = "sa", handle = pr.in) => {
    const read = () => where === "sa" ? dp.sadb.stats(handle).drops : dp.sadb.globalDrops();
    const before = read()[why as keyof ReturnType<typeof read>] ?? 0n;
    const d = io.decap(pkt);
    assert.equal(reason(d.status), why);
    assert.equal((read()[why as keyof ReturnType<typeof read>] ?? 0n) - before, 1n, `${why} counted ${where === "sa" ? "on the SA" : "globally"}`);
  };
  const good = seal();
  expectDrop(good.subarray(0, 19), "too_short", "global");
  expectDrop(good.subarray(0, 30), "malformed", "global");                  // total length says more
  { const p = copy(good); p[0] = 0x55; expectDrop(p, "malformed", "global"); } // IHL beyond the packet... checksum irrelevant
  { const p = copy(good); p[0] = 0x35; expectDrop(p, "malformed", "global"); } // IP version 3
  { const p = copy(good); p[9] = 50; expectDrop(p, "bad_next_header", "global"); } // not AH
  { const p = copy(good); p[6] = 0x20; expectDrop(p, "unsupported", "global"); } // a fragment
  { const p = copy(good); p[27] ^= 0xff; expectDrop(p, "unknown_spi", "global"); }
  { const p = copy(good); p[21] = 4; expectDrop(p, "malformed"); }          // AH length for a 12-byte ICV
  { const p = good.subarray(0, 20 + 20); const q = copy(p); q[3] = q.length; expectDrop(q, "too_short"); } // AH cut short
  { const p = seal(); p[60] ^= 4; expectDrop(p, "auth_failed"); }
  expectDrop(seal(ipv4Packet(), { nextHeader: 6 }), "bad_next_header");     // tunnel mode carries IP only
  { const bad = ipv4Packet({ payloadLen: 40 }); bad[2] ^= 1; expectDrop(seal(bad), "malformed"); } // inner length lies
  expectDrop(seal(ipv4Packet({ src: "10.9.0.1" })), "policy");
  { // An option running past the header: dropped before any ICV work.
    const tp = ahPair({ mode: "transport" }, dp);
    const p = oracleAhSeal(tp.sa, 1n, withIpv4Options(ipv4Packet({ payloadLen: 8 }), Uint8Array.from([7, 3, 4, 0])), "transport");
    p[21] = 9;
    expectDrop(p, "malformed", "sa", tp.in);
  }

  // ESP and AH share one SPI table: each protocol ignores the other's SAs.
  const esp = dp.sadb.install({ spi: 0x4000, direction: "in", mode: "tunnel", key: randomBytes(16), salt: randomBytes(4) });
  const asEsp = oracleAhSeal({ ...pr.sa, spi: 0x4000 }, 1n, ipv4Packet(), "tunnel", { outer });
  expectDrop(asEsp, "unknown_spi", "global");
  const b = dp.batch(1, 2048);
  b.push(Uint8Array.from([...good.subarray(24, 28), 0, 0, 0, 9, ...randomBytes(40)])); // AH's SPI as an ESP packet
  b.decap();
  assert.equal(reason(b.status(0)), "unknown_spi");
  assert.throws(() => dp.sadb.install({ protocol: "ah", spi: 0x4000, direction: "in", mode: "tunnel", integrityKey: randomBytes(32) }), /already used/);
  dp.sadb.delete(esp);

  // Encapsulation: wrong SA kind, non-IP input, too large.
  const espOut = dp.sadb.install({ spi: 0x4001, direction: "out", mode: "tunnel", key: randomBytes(16), salt: randomBytes(4) });
  const before = dp.sadb.globalDrops().bad_sa ?? 0n;
  assert.equal(reason(io.encap(espOut, ipv4Packet()).status), "bad_sa");
  assert.equal(reason(io.encap(pr.in, ipv4Packet()).status), "bad_sa");
  const eb = dp.batch(1, 2048);
  eb.push(ipv4Packet(), pr.out);
  eb.encap(); // the batch call dispatches on the SA's protocol: AH here
  assert.equal(reason(eb.status(0)), "ok");
  assert.equal((dp.sadb.globalDrops().bad_sa ?? 0n) - before, 2n);
  assert.equal(reason(io.encap(pr.out, Uint8Array.from([0x10, 1, 2])).status), "malformed");
  const big = dp.batch(1, 65536 + 192);
  big.push(ipv4Packet({ payloadLen: 65535 - 28 }), pr.out);
  big.ahEncap();
  assert.equal(reason(big.status(0)), "no_room");
});

test("transport mode: malformed or fragmented packets are refused before a sequence number is spent", () => {
  const pr = ahPair({ mode: "transport", outer: 4 });
  const addrs = { src: ENDS[4].local, dst: ENDS[4].remote };
  const frag = ipv4Packet(addrs); frag[6] = 0x20;
  assert.equal(reason(pr.io.encap(pr.out, frag).status), "unsupported");
  const lying = ipv4Packet(addrs); lying[3] ^= 4;
  assert.equal(reason(pr.io.encap(pr.out, lying).status), "malformed");
  const badOption = withIpv4Options(ipv4Packet(addrs), Uint8Array.from([68, 40, 5, 0])); // runs past the header
  assert.equal(reason(pr.io.encap(pr.out, badOption).status), "malformed");
  assert.equal(pr.dp.sadb.stats(pr.out).seqOut, 0n);
  const zeroId = ipv4Packet(addrs); zeroId[4] = 0; zeroId[5] = 0; fixIpv4Checksum(zeroId);
  const o = pr.io.encap(pr.out, zeroId).out;
  assert.notEqual((o[4] << 8) | o[5], 0, "a zero Identification is replaced before the ICV is computed");
  oracleVerify(pr.sa, o, 0n, true);
});

test("AH SA installation: transforms, key lengths, and what AH does not take", () => {
  const dp = DataPlane.create({ maxSAs: 8 });
  const base = { protocol: "ah", spi: 0x5000, direction: "in", mode: "tunnel" } as const;
  const cases: [object, RegExp][] = [
    [{ integrityKey: randomBytes(20) }, /sha256 needs a 32-byte integrityKey/],
    [{ integrity: "sha384", integrityKey: randomBytes(32) }, /sha384 needs a 48-byte/],
    [{ integrity: "aes128gmac", integrityKey: randomBytes(16) }, /aes128gmac needs a 20-byte integrityKey \(AES key and 4-byte salt/],
    [{ integrity: "md5", integrityKey: randomBytes(16) }, /integrity must be one of/],
    [{}, /needs a 32-byte integrityKey.*got none/],
    [{ integrityKey: randomBytes(32), key: randomBytes(16), salt: randomBytes(4) }, /takes integrity and integrityKey, not key/],
    [{ integrityKey: randomBytes(32), udpEncap: true }, /cannot be UDP-encapsulated/],
    [{ integrityKey: randomBytes(32), direction: "out" }, /outbound AH tunnel-mode SA needs local and remote endpoints/],
    [{ protocol: "ipcomp" }, /protocol must be/],
  ];
  for (const [over, re] of cases) assert.throws(() => dp.sadb.install({ ...base, ...over } as never), re);
  assert.throws(() => dp.sadb.install({ spi: 0x5001, direction: "in", mode: "tunnel", key: randomBytes(16), salt: randomBytes(4), integrity: "sha256" }), /integrity and integrityKey are for AH/);
  assert.equal(dp.sadb.size, 0);

  // The raw HMAC key does not outlive activation (the inner/outer states replace it); delete zeroes all.
  const key = Uint8Array.from({ length: 64 }, (_, i) => 0xc0 ^ i);
  const h = dp.sadb.install({ ...base, integrity: "sha512", integrityKey: key });
  const rec = dp.saAddress(h);
  const mem = () => dp.views.refresh().u8.subarray(rec, rec + dp.L.SA_SIZE);
  assert.ok(!Buffer.from(mem()).includes(Buffer.from(key.subarray(0, 16))), "raw HMAC key wiped after activation");
  assert.ok(mem().subarray(dp.L.SA_AUTH, dp.L.SA_AUTH + dp.L.HMAC_CTX_SIZE).some((b) => b !== 0), "HMAC states present");
  dp.sadb.delete(h);
  const left = [...mem()].map((v, i) => [i, v]).filter(([i, v]) => v !== 0 && (i < dp.L.SA_GENERATION || i >= dp.L.SA_GENERATION + 4));
  assert.deepEqual(left, []);
});

test("one call, many AH SAs and packets, delivered in reverse order", () => {
  const dp = DataPlane.create({ maxSAs: 128 });
  const pairs = INTEGRITIES.flatMap((integrity, k) =>
    [4, 6].map((outer, j) => ahPair({ integrity, outer: outer as 4 | 6, spi: 0x7000 + 2 * k + j, mode: j ? "tunnel" : "transport" }, dp)));
  const b = dp.batch(100);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    const pr = pairs[i % pairs.length];
    const outer = (i % pairs.length) % 2 ? 6 : 4;
    const transport = (i % pairs.length) % 2 === 0;
    const pkt = transport ? innerPacket(outer, i * 9, { src: ENDS[outer].local, dst: ENDS[outer].remote }) : innerPacket(i % 3 ? 4 : 6, i * 9);
    sent.push(pkt);
    b.push(pkt, pr.out);
  }
  assert.equal(b.ahEncap(), 100);
  const outs = Array.from({ length: 100 }, (_, i) => copy(b.output(i)));
  const r = dp.batch(100);
  for (let i = 99; i >= 0; i--) r.push(outs[i]);
  assert.equal(r.ahDecap(), 100);
  for (let k = 0; k < 100; k++) {
    assert.deepEqual(copy(r.output(k)), sent[99 - k]);
    assert.equal(r.sa(k), pairs[(99 - k) % pairs.length].in);
  }
});

test("worker threads: concurrent AH on one SA keeps every ICV right and every sequence number unique", async () => {
  const pr = ahPair({ integrity: "sha384", mode: "tunnel", outer: 4 });
  const worker = fileURLToPath(new URL("../helpers/ah-encap-worker.js", import.meta.url));
  const perWorker = 1500;
  const runs = [0, 1].map(() => new Promise<Uint8Array[]>((resolve, reject) => {
    const w = new Worker(worker, { workerData: { handle: pr.dp.handle, sa: pr.out, count: perWorker } });
    w.once("message", resolve);
    w.once("error", reject);
  }));
  const packets = (await Promise.all(runs)).flat();
  // A hash or MAC state shared between instances would corrupt ICVs computed at the same time.
  const seqs = packets.map((p) => oracleVerify(pr.sa, p, 0n, true).seq);
  assert.equal(new Set(seqs).size, 2 * perWorker, "no sequence number used twice");
  assert.equal(Math.max(...seqs), 2 * perWorker);
  assert.equal(pr.dp.sadb.stats(pr.out).packets, BigInt(2 * perWorker));
});
