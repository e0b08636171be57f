// ESP (RFC 4303) with AES-GCM (RFC 4106) through the batch API, checked against an independent
// node:crypto implementation of the RFCs (test/helpers/esp-oracle.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { HEADROOM, TAILROOM } from "../../src/dataplane/batch.js";
import { cidr } from "../../src/dataplane/selectors.js";
import { ipv4Packet, ipv6Packet } from "../helpers/packets.js";
import { oracleOpen, oracleSeal } from "../helpers/esp-oracle.js";
import { BACKENDS, loopback } from "../helpers/dp.js";

const copy = (u: Uint8Array) => Uint8Array.from(u);

function encapOne(dp: DataPlane, sa: number, pkt: Uint8Array) {
  const b = dp.batch(1, 4096);
  b.push(pkt, sa);
  b.encap();
  return { status: b.status(0), out: copy(b.output(0)) };
}

function decapOne(dp: DataPlane, esp: Uint8Array, slot = 4096) {
  const b = dp.batch(1, slot);
  b.push(esp);
  b.decap();
  return { status: b.status(0), out: copy(b.output(0)), sa: b.sa(0) };
}

describe("ESP round trips: mode × IP version × backend × key × ICV", () => {
  for (const backend of BACKENDS) {
    for (const mode of ["tunnel", "transport"] as const) {
      for (const ipv of [4, 6] as const) {
        test(`${backend} ${mode} IPv${ipv}`, () => {
          for (const keyLen of [16, 32]) {
            for (const icv of [8, 12, 16] as const) {
              const ends = ipv === 4 ? { local: { address: "10.1.0.1" }, remote: { address: "10.2.0.1" } }
                : { local: { address: "fd01::1" }, remote: { address: "fd02::1" } };
              const pr = loopback(backend, { mode, key: randomBytes(keyLen), icvLength: icv, ...ends });
              // Transport mode: the packet travels between the SA endpoints themselves.
              for (const len of [0, 1, 2, 3, 4, 61, 500, 1400, 1900]) {
                const spec = { payloadLen: len, src: ends.local.address, dst: ends.remote.address };
                const pkt = ipv === 4 ? ipv4Packet(spec) : ipv6Packet(spec);
                const e = encapOne(pr.dp, pr.out, pkt);
                assert.equal(e.status, 0, `encap status ${e.status}`);
                const o = oracleOpen({ ...pr.params }, e.out);
                const hl = ipv === 4 ? 20 : 40;
                if (mode === "tunnel") {
                  assert.deepEqual(copy(o.payload), pkt);
                  assert.equal(o.nextHeader, ipv === 4 ? 4 : 41);
                } else {
                  assert.deepEqual(copy(o.payload), pkt.subarray(hl));
                  assert.equal(o.nextHeader, 17);
                }
                assert.equal((o.payload.length + 2 + o.padLen) % 4, 0, "4-byte alignment");
                assert.ok(o.padLen < 4, "minimal padding");
                assert.deepEqual([...o.padding], Array.from({ length: o.padLen }, (_, i) => i + 1));
                // Decap: the peer's direction (the loopback's inbound SA swapped the endpoints).
                const d = decapOne(pr.dp, e.out);
                assert.equal(d.status, 0, `decap status ${d.status}`);
                assert.equal(d.sa, pr.in);
                if (mode === "tunnel") assert.deepEqual(d.out, pkt);
                else {
                  // Rebuilt header: from the inbound SA's remote (the sender) to its local address,
                  // protocol = next header — the addresses the original packet carried.
                  assert.deepEqual(d.out.subarray(hl), pkt.subarray(hl));
                  assert.equal(d.out[0] >> 4, ipv);
                  assert.equal(d.out[ipv === 4 ? 9 : 6], 17);
                  if (ipv === 4) assert.deepEqual(d.out.subarray(12, 20), pkt.subarray(12, 20));
                  else assert.deepEqual(d.out.subarray(8, 40), pkt.subarray(8, 40));
                }
              }
            }
          }
        });
      }
    }
  }
});

test("IV is the 64-bit sequence number; sequence numbers count 1, 2, 3", () => {
  const pr = loopback("wasm");
  for (let i = 1; i <= 3; i++) {
    const e = encapOne(pr.dp, pr.out, ipv4Packet());
    const o = oracleOpen(pr.params, e.out);
    assert.equal(o.seq, BigInt(i));
    assert.equal(o.iv.readBigUInt64BE(0), BigInt(i));
  }
});

test("every backend produces byte-identical packets for the same SA state, and opens the others'", () => {
  const key = randomBytes(32), salt = randomBytes(4);
  const planes = BACKENDS.map((b) => loopback(b, { spi: 0x4242, key, salt, esn: true }));
  for (const len of [28, 64, 333, 1400, 2500, 9000]) {
    const pkt = ipv4Packet({ payloadLen: len - 28 });
    const outs = planes.map((p) => {
      const b = p.dp.batch(1, 9216 + 128);
      b.push(pkt, p.out);
      b.encap();
      assert.equal(b.status(0), 0);
      return copy(b.output(0));
    });
    for (const o of outs) assert.deepEqual(o, outs[0]);
    // Each backend decapsulates the packet another backend built.
    planes.forEach((p, i) => {
      const src = outs[(i + 1) % outs.length];
      const d = decapOne(p.dp, src, 9216 + 128);
      assert.equal(d.status, 0, `${BACKENDS[i]} decap status ${d.status}`);
      assert.deepEqual(d.out, pkt);
    });
  }
});

test("packets built by the oracle decapsulate", () => {
  for (const backend of BACKENDS) {
    const pr = loopback(backend);
    for (let seq = 1n; seq <= 20n; seq++) {
      const pkt = ipv6Packet({ payloadLen: Number(seq) * 37 });
      const esp = oracleSeal(pr.params, seq, pkt, 41, { iv: randomBytes(8) }); // IV need not be the seq on receive
      const d = decapOne(pr.dp, esp);
      assert.equal(d.status, 0, `${backend}: status ${d.status}`);
      assert.deepEqual(d.out, pkt);
    }
  }
});

describe("rejections are counted by reason", () => {
  for (const backend of BACKENDS) {
    test(`${backend}: tampering, truncation, padding, next header, replay`, () => {
      const pr = loopback(backend, { replayWindow: 64 });
      const { dp } = pr;
      const good = (seq: bigint, len = 100) => oracleSeal(pr.params, seq, ipv4Packet({ payloadLen: len }), 4);
      const expectDrop = (pkt: Uint8Array, reason: string, where: "sa" | "global" = "sa") => {
        const before = where === "sa" ? dp.sadb.stats(pr.in).drops : dp.sadb.globalDrops();
        const d = decapOne(dp, pkt);
        assert.notEqual(d.status, 0, `expected ${reason}`);
        const after = where === "sa" ? dp.sadb.stats(pr.in).drops : dp.sadb.globalDrops();
        const key = reason as keyof typeof after;
        assert.equal((after[key] ?? 0n) - (before[key] ?? 0n), 1n, `${reason}: ${JSON.stringify(after, (_k, v) => typeof v === "bigint" ? String(v) : v)} status ${d.status}`);
      };
      // ciphertext, tag, sequence number, IV bit flips → ICV failure
      for (const pos of [16, 40, -1, -16, 5, 9]) {
        const p = good(10n);
        p[pos < 0 ? p.length + pos : pos] ^= 0x01;
        expectDrop(p, "auth_failed");
      }
      // SPI changed → unknown SPI (global: no SA to blame)
      { const p = good(11n); p[3] ^= 0xff; expectDrop(p, "unknown_spi", "global"); }
      // truncations
      expectDrop(good(12n).subarray(0, 7), "too_short", "global");
      expectDrop(good(12n).subarray(0, 16 + 16 + 3), "too_short");
      expectDrop(good(12n).subarray(0, 16 + 16 + 5), "malformed"); // ciphertext not a multiple of 4
      { const p = good(13n); expectDrop(p.subarray(0, p.length - 4), "auth_failed"); }
      // padding bytes must be 1, 2, 3…
      const inner = ipv4Packet({ payloadLen: 3 }); // 31 bytes: 31 + 3 padding + 2 is 4-aligned
      expectDrop(oracleSeal(pr.params, 20n, inner, 4, { padding: Uint8Array.from([1, 2, 4]) }), "bad_padding");
      expectDrop(oracleSeal(pr.params, 21n, inner, 4, { padding: Uint8Array.from([0, 0, 0, 0, 0, 0, 0]) }), "bad_padding");
      // next header: 59 is a dummy packet; TCP in a tunnel-mode SA is not allowed
      expectDrop(oracleSeal(pr.params, 22n, randomBytes(30), 59), "dummy");
      expectDrop(oracleSeal(pr.params, 23n, inner, 6), "bad_next_header");
      // inner packet that lies about its length
      { const bad = ipv4Packet({ payloadLen: 40 }); bad[2] = 0x0f; expectDrop(oracleSeal(pr.params, 24n, bad, 4), "malformed"); }
      { const bad = ipv4Packet({ payloadLen: 40 }); bad[0] = 0x65; expectDrop(oracleSeal(pr.params, 25n, bad, 4), "malformed"); }
      // replay: the same packet twice; a packet left of the window; seq 0
      const p30 = good(300n);
      assert.equal(decapOne(dp, p30).status, 0);
      expectDrop(p30, "replay");
      expectDrop(good(300n - 64n), "replay_old");
      assert.equal(decapOne(dp, good(300n - 63n)).status, 0);
      expectDrop(good(0n), "bad_seq");
      // a forged packet with a fresh sequence number must not advance the window
      { const p = good(100000n); p[20] ^= 1; expectDrop(p, "auth_failed"); }
      assert.equal(decapOne(dp, good(299n)).status, 0);
    });
  }
});

test("TFC padding after the inner packet is stripped (tunnel mode)", () => {
  const pr = loopback("wasm");
  const pkt = ipv4Packet({ payloadLen: 50 });
  const padded = new Uint8Array(pkt.length + 37);
  padded.set(pkt);
  const d = decapOne(pr.dp, oracleSeal(pr.params, 1n, padded, 4));
  assert.equal(d.status, 0);
  assert.deepEqual(d.out, pkt);
});

test("ESN: the sequence number crosses 2^32, AAD carries the high half, the receiver infers it", () => {
  for (const backend of BACKENDS) {
    const pr = loopback(backend, { esn: true, replayWindow: 128 });
    pr.dp.sadb.setOutboundSeq(pr.out, 0xfffffffdn);
    const seen: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const e = encapOne(pr.dp, pr.out, ipv4Packet());
      assert.equal(e.status, 0);
      const seq = 0xfffffffen + BigInt(i);
      // The oracle must be told the high half (it is not on the wire).
      const o = oracleOpen(pr.params, e.out, seq >> 32n);
      assert.equal(o.seq, seq);
      assert.equal(o.iv.readBigUInt64BE(0), seq);
      seen.push(seq);
      const d = decapOne(pr.dp, e.out);
      assert.equal(d.status, 0, `${backend}: decap across the wrap, status ${d.status}`);
    }
    assert.deepEqual(seen, [0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n]);
    // A late packet from before the wrap (high half inferred as 0) is still inside the window.
    const late = oracleSeal(pr.params, 0xfffffff0n, ipv4Packet(), 4);
    assert.equal(decapOne(pr.dp, late).status, 0);
    // Without ESN the AAD omits the high half: a packet sealed with seq-high in the AAD fails.
    const wrong = oracleSeal({ ...pr.params, esn: false }, 0x100000005n, ipv4Packet(), 4);
    assert.notEqual(decapOne(pr.dp, wrong).status, 0);
  }
});

test("sequence numbers never wrap: the SA refuses to send and says so", () => {
  const pr = loopback("wasm");
  pr.dp.sadb.setOutboundSeq(pr.out, 0xfffffffen);
  assert.equal(encapOne(pr.dp, pr.out, ipv4Packet()).status, 0); // seq 2^32-1, the last one
  const r = encapOne(pr.dp, pr.out, ipv4Packet());
  assert.notEqual(r.status, 0);
  const st = pr.dp.sadb.stats(pr.out);
  assert.equal(st.drops.seq_exhausted, 1n);
  assert.ok(st.seqExhausted && st.hardExpired);
  assert.equal(st.seqOut, 0xffffffffn);
  // ESN: at 2^64-1
  const e = loopback("wasm", { esn: true });
  e.dp.sadb.setOutboundSeq(e.out, 2n ** 64n - 2n);
  assert.equal(encapOne(e.dp, e.out, ipv4Packet()).status, 0);
  assert.notEqual(encapOne(e.dp, e.out, ipv4Packet()).status, 0);
  assert.equal(e.dp.sadb.stats(e.out).drops.seq_exhausted, 1n);
});

test("soft and hard lifetimes in packets and bytes raise flags; hard stops the SA", () => {
  const pr = loopback("wasm", { lifetime: { softPackets: 3, hardPackets: 5 } });
  const send = () => encapOne(pr.dp, pr.out, ipv4Packet({ payloadLen: 72 })).status;
  for (let i = 0; i < 2; i++) assert.equal(send(), 0);
  assert.equal(pr.dp.sadb.stats(pr.out).softExpired, false);
  assert.equal(send(), 0);
  assert.equal(pr.dp.sadb.stats(pr.out).softExpired, true);
  assert.deepEqual(pr.dp.sadb.softExpired(), [pr.out]);
  assert.equal(send(), 0);
  assert.equal(send(), 0); // the 5th packet is the last one allowed
  assert.equal(pr.dp.sadb.stats(pr.out).hardExpired, true);
  assert.notEqual(send(), 0);
  assert.equal(pr.dp.sadb.stats(pr.out).drops.expired, 1n);

  const by = loopback("wasm", { lifetime: { softBytes: 250, hardBytes: 1000 } });
  const sendB = () => encapOne(by.dp, by.out, ipv4Packet({ payloadLen: 72 })).status; // 100-byte packets
  assert.equal(sendB(), 0); assert.equal(sendB(), 0);
  assert.equal(by.dp.sadb.stats(by.out).softExpired, false);
  assert.equal(sendB(), 0);
  assert.equal(by.dp.sadb.stats(by.out).softExpired, true);
  for (let i = 0; i < 7; i++) assert.equal(sendB(), 0);
  assert.notEqual(sendB(), 0);
  assert.equal(by.dp.sadb.stats(by.out).bytes, 1000n);
});

test("inbound policy: decapsulated packets must match the SA's traffic selectors", () => {
  const pr = loopback("wasm", {
    localTs: [cidr("10.2.0.0/16")],
    remoteTs: [cidr("10.1.0.0/24", 17, 1000, 2000), cidr("fd01::/64")],
  });
  const cases: [Uint8Array, boolean][] = [
    [ipv4Packet({ src: "10.1.0.9", dst: "10.2.3.4", sport: 1500 }), true],
    [ipv4Packet({ src: "10.1.0.9", dst: "10.2.3.4", sport: 999 }), false],   // port outside
    [ipv4Packet({ src: "10.1.0.9", dst: "10.2.3.4", sport: 1500, proto: 6 }), false], // protocol
    [ipv4Packet({ src: "10.1.1.9", dst: "10.2.3.4", sport: 1500 }), false],  // source outside
    [ipv4Packet({ src: "10.1.0.9", dst: "10.3.0.1", sport: 1500 }), false],  // destination outside
    [ipv6Packet({ src: "fd01::5", dst: "fd02::1" }), false],                 // no local IPv6 selector
  ];
  let seq = 1n;
  for (const [pkt, ok] of cases) {
    const d = decapOne(pr.dp, oracleSeal(pr.params, seq++, pkt, pkt[0] >> 4 === 4 ? 4 : 41));
    assert.equal(d.status === 0, ok, `${ok ? "accept" : "drop"} expected, status ${d.status}`);
  }
  assert.equal(pr.dp.sadb.stats(pr.in).drops.policy, 5n);
});

test("inbound policy with the most selectors an SA holds (16 a side): every one is checked, the last as the first", () => {
  const remote = Array.from({ length: 16 }, (_, i) => cidr(`10.1.${i}.0/24`));
  const local = Array.from({ length: 16 }, (_, i) => cidr(`10.2.${i}.0/24`));
  const pr = loopback("wasm", { localTs: local, remoteTs: remote });
  let seq = 1n;
  const accepted = (src: string, dst: string) => {
    const pkt = ipv4Packet({ src, dst });
    return decapOne(pr.dp, oracleSeal(pr.params, seq++, pkt, 4)).status === 0;
  };
  for (let i = 0; i < 16; i++) assert.ok(accepted(`10.1.${i}.9`, `10.2.${15 - i}.1`), `selector pair ${i}`);
  assert.equal(accepted("10.1.16.9", "10.2.0.1"), false, "a 17th remote subnet");
  assert.equal(accepted("10.1.0.9", "10.2.16.1"), false, "a 17th local subnet");
  assert.equal(pr.dp.sadb.stats(pr.in).drops.policy, 2n);
});

test("transport mode: IPv6 extension headers and IPv4 fragments are refused, not mangled", () => {
  const pr = loopback("wasm", { mode: "transport" });
  const v6 = ipv6Packet({ proto: 0, payloadLen: 16 });
  assert.notEqual(encapOne(pr.dp, pr.out, v6).status, 0);
  const frag = ipv4Packet(); frag[6] = 0x20; // more fragments
  assert.notEqual(encapOne(pr.dp, pr.out, frag).status, 0);
  assert.equal(pr.dp.sadb.stats(pr.out).drops.unsupported, 2n);
  const lying = ipv4Packet(); lying[3] ^= 4;
  assert.notEqual(encapOne(pr.dp, pr.out, lying).status, 0);
  assert.equal(pr.dp.sadb.stats(pr.out).drops.malformed, 1n);
});

test("encap rejects a bad handle, an inbound SA, non-IP input and oversized packets", () => {
  const pr = loopback("wasm");
  assert.notEqual(encapOne(pr.dp, 63, ipv4Packet()).status, 0);      // never installed
  assert.notEqual(encapOne(pr.dp, 100000, ipv4Packet()).status, 0);  // out of range
  assert.notEqual(encapOne(pr.dp, pr.in, ipv4Packet()).status, 0);   // wrong direction
  assert.equal(pr.dp.sadb.globalDrops().bad_sa, 3n);
  assert.notEqual(encapOne(pr.dp, pr.out, new Uint8Array([0x10, 1, 2])).status, 0);
  assert.notEqual(encapOne(pr.dp, pr.out, new Uint8Array(0)).status, 0);
  assert.equal(pr.dp.sadb.stats(pr.out).drops.malformed, 2n);
  const b = pr.dp.batch(1, 65536 + HEADROOM + TAILROOM);
  b.push(ipv4Packet({ payloadLen: 65535 - 28 }), pr.out);
  b.encap();
  assert.equal(b.status(0), 15 /* no_room */);
});

test("the batch API processes many packets and many SAs in one call, results per packet", () => {
  const dp = DataPlane.create({ maxSAs: 256 });
  const pairs = Array.from({ length: 50 }, (_, i) => loopback("wasm", { spi: 0x1000 + i }, dp));
  const b = dp.batch(200);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const pkt = ipv4Packet({ payloadLen: i * 7 });
    sent.push(pkt);
    b.push(pkt, pairs[i % 50].out);
  }
  assert.equal(b.encap(), 200);
  const esp = Array.from({ length: 200 }, (_, i) => copy(b.output(i)));
  const d = dp.batch(200);
  // Deliver in reverse order: per-SA sequence numbers arrive out of order, within the window.
  for (let i = 199; i >= 0; i--) d.push(esp[i]);
  assert.equal(d.decap(), 200);
  for (let k = 0; k < 200; k++) {
    const i = 199 - k;
    assert.deepEqual(copy(d.output(k)), sent[i]);
    assert.equal(d.sa(k), pairs[i % 50].in);
  }
});
