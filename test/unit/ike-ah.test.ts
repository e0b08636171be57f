// IKEv2 for AH Child SAs (RFC 7296 §3.3 with protocol ID 2, RFC 4302, RFC 4868, RFC 4543): proposal wire bytes
// laid out by hand from §3.3.1/§3.3.2 and the IANA registry; strongSwan proposal strings for AH; selection and
// its explanations; two of our engines negotiating AH children whose installed keys are checked against prf+
// computed here with node:crypto HMAC (RFC 7296 §2.13, §2.17), whose packets cross both data planes and verify
// with the independent AH oracle (test/helpers/ah-oracle.ts) under those keys; rekey, PFS, delete, collisions;
// and AH refused, with the reason, where a NAT (or forced UDP encapsulation) makes it impossible.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { IkePair, conn, type Wire } from "../helpers/ike-pair.js";
import { ipv4Packet } from "../helpers/packets.js";
import { oracleVerify, type OracleIntegrity } from "../helpers/ah-oracle.js";
import { lookupAhInteg, parseProposal, parseProposals, ProposalError, type Proposal } from "../../src/ike/crypto/index.js";
import { offerProposals, selectProposal, checkSelected, describeProposals } from "../../src/ike/proposals.js";
import { childProposals, type ChildConfig } from "../../src/ike/config.js";
import { childAlgorithm, type ChildSa } from "../../src/ike/child-sa.js";
import { decodeMessage, encodeMessage, openEncrypted, PayloadType, type Payload } from "../../src/ike/wire/index.js";
import type { IkeSa } from "../../src/ike/ike-sa.js";
import type { DataPlane } from "../../src/dataplane/dataplane.js";
import { formatSas } from "../../src/control/format.js";
import { toWire } from "../../src/ike/selectors.js";
import { KeyLog } from "../../src/ike/keylog.js";

// IANA "IKEv2 Transform Type n Transform IDs" and RFC 7296 §3.3.1 Protocol IDs
const PROTO_AH = 2, PROTO_ESP = 3;
const INTEG = 3, DH = 4, ESN = 5;
const AUTH_HMAC_SHA2_256_128 = 12, AUTH_HMAC_SHA2_384_192 = 13, AUTH_HMAC_SHA2_512_256 = 14;
const AUTH_AES_128_GMAC = 9, AUTH_AES_256_GMAC = 11; // RFC 4543 §9
const X25519 = 31, ECP256 = 19;

const ah = (text: string) => parseProposals(text, "ah");
const spi4 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const codeOf = (code: string, text?: RegExp) => (e: unknown) =>
  e instanceof ProposalError && e.code === code && (!text || text.test(e.message));

// ------------------------------------------------------------------------------------------ wire bytes

/** The SA payload body the codec writes for `proposals` (after the 28-byte IKE header and 4-byte payload header). */
function saBody(proposals: Proposal[], spi: number): Buffer {
  const raw = encodeMessage({
    header: { spiI: 1n, spiR: 0n, exchangeType: 34, initiator: true, response: false, messageId: 0 },
    payloads: [{ type: PayloadType.SA, proposals: offerProposals(proposals, spi4(spi)) }],
  });
  return raw.subarray(28 + 4);
}

test("AH proposal on the wire: protocol ID 2, 4-byte SPI, INTEG/DH/ESN transforms, no ENCR (RFC 7296 §3.3.1-§3.3.2)", () => {
  // Proposal substructure: last 0, reserved, length 8+4+3*8 = 36, #1, protocol AH, SPI size 4, 3 transforms, SPI;
  // each transform: last (3 = more), reserved, length 8, type, reserved, ID (no attributes: none has a key length).
  assert.equal(saBody(ah("sha256-x25519"), 0xc1a2b3c4).toString("hex"), [
    "00 00 0024 01 02 04 03 c1a2b3c4",
    "03 00 0008 03 00 000c", // INTEG AUTH_HMAC_SHA2_256_128
    "03 00 0008 04 00 001f", // DH Curve25519 (PFS)
    "00 00 0008 05 00 0000", // ESN: none (strongSwan's default when no ESN keyword is given)
  ].join("").replace(/ /g, ""));
  // AES-GMAC: the ID fixes the key size, so no Key Length attribute (RFC 4543 §9); esn and noesn both offered.
  assert.equal(saBody(ah("aes256gmac-aes128gmac-esn-noesn"), 0x00001000).toString("hex"), [
    "00 00 002c 01 02 04 04 00001000", // 8 + 4 + 4 * 8 = 44
    "03 00 0008 03 00 000b", // AUTH_AES_256_GMAC
    "03 00 0008 03 00 0009", // AUTH_AES_128_GMAC
    "03 00 0008 05 00 0001", // ESN
    "00 00 0008 05 00 0000", // no ESN
  ].join("").replace(/ /g, ""));
  // Two proposals (AH, then ESP) number up from 1 and carry their own protocol IDs; the first says "more" (2).
  const both = saBody([...ah("sha512"), ...parseProposals("aes128gcm16", "esp")], 0xc0000001);
  assert.equal(both.subarray(0, 8).toString("hex"), "0200001c" + "01020402"); // 8 + 4 + INTEG + ESN
  assert.equal(both.subarray(28, 36).toString("hex"), "00000020" + "02030402"); // ENCR with Key Length (12) + ESN
  // And the codec reads back what it wrote.
  const msg = decodeMessage(encodeMessage({
    header: { spiI: 1n, spiR: 0n, exchangeType: 34, initiator: true, response: false, messageId: 0 },
    payloads: [{ type: PayloadType.SA, proposals: offerProposals(ah("sha384-ecp256-esn"), spi4(0xc0ffee00)) }],
  }));
  const sa = msg.payloads[0] as Extract<Payload, { type: typeof PayloadType.SA }>;
  assert.deepEqual(sa.proposals, [{ number: 1, protocol: PROTO_AH, spi: spi4(0xc0ffee00), transforms: [
    { type: INTEG, id: AUTH_HMAC_SHA2_384_192 }, { type: DH, id: ECP256 }, { type: ESN, id: 1 },
  ] }]);
});

// ------------------------------------------------------------------------------------------ parsing

test("strongSwan AH proposal strings: integrity algorithms, optional PFS group, ESN (noesn implied), PRFs dropped", () => {
  const one = (t: string) => parseProposal(t, "ah");
  assert.deepEqual(one("sha256"), { protocol: "ah", encr: [], prf: [], integ: [AUTH_HMAC_SHA2_256_128], dh: [], esn: [0] });
  assert.deepEqual(one("sha256-x25519"), { protocol: "ah", encr: [], prf: [], integ: [AUTH_HMAC_SHA2_256_128], dh: [X25519], esn: [0] });
  assert.deepEqual(one("sha384-sha2_512-esn-noesn").integ, [AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256]);
  assert.deepEqual(one("sha384-sha2_512-esn-noesn").esn, [1, 0]);
  assert.deepEqual(one("aes128gmac-aes256gmac").integ, [AUTH_AES_128_GMAC, AUTH_AES_256_GMAC]);
  assert.deepEqual(one("sha512-prfsha512-ecp256"), { protocol: "ah", encr: [], prf: [], integ: [AUTH_HMAC_SHA2_512_256], dh: [ECP256], esn: [0] });
  assert.deepEqual(parseProposals("sha256, aes256gmac-esn", "ah").map((p) => [p.integ, p.esn]), [[[12], [0]], [[11], [1]]]);
});

test("bad AH proposals name the offending keyword", () => {
  assert.throws(() => parseProposal("aes128-sha256", "ah"), codeOf("INVALID_PROPOSAL", /AH does not encrypt: 'aes128' belongs in an ESP proposal/));
  assert.throws(() => parseProposal("aes128gcm16", "ah"), codeOf("INVALID_PROPOSAL", /'aes128gcm16'/));
  assert.throws(() => parseProposal("x25519-esn", "ah"), codeOf("INVALID_PROPOSAL", /integrity algorithm is required in AH proposals/));
  for (const k of ["sha1", "md5", "aesxcbc", "aes192gmac", "sha256_96"]) {
    assert.throws(() => parseProposal(`${k}-x25519`, "ah"), (e) => codeOf("UNKNOWN_KEYWORD")(e) && (e as ProposalError).keyword === k, k);
  }
  // GMAC keywords are AH's: ESP's ENCR_NULL_AUTH_AES_GMAC and IKE know none of them here.
  assert.throws(() => parseProposal("aes128gmac", "esp"), (e) => (e as ProposalError).keyword === "aes128gmac");
  assert.throws(() => parseProposal("aes128-aes256gmac-prfsha256-x25519", "ike"), (e) => (e as ProposalError).keyword === "aes256gmac");
});

test("AH integrity transforms the data plane implements, with IKEv2 key sizes (RFC 4868 §2.1.2, RFC 4543 §7)", () => {
  const got = [12, 13, 14, 9, 11].map((id) => { const t = lookupAhInteg(id); return [t.id, t.name, t.keyLength]; });
  assert.deepEqual(got, [[12, "sha256", 32], [13, "sha384", 48], [14, "sha512", 64], [9, "aes128gmac", 20], [11, "aes256gmac", 36]]);
  for (const id of [2, 5, 10, 15]) assert.throws(() => lookupAhInteg(id), codeOf("UNSUPPORTED_TRANSFORM"), String(id));
});

// ------------------------------------------------------------------------------------------ selection

describe("selection", () => {
  const ours = (t: string, spi = 0xc0000001) => offerProposals(t.split(",").flatMap((x) => x.startsWith("esp:") ? parseProposals(x.slice(4), "esp") : ah(x)), spi4(spi));

  test("the responder picks its most preferred common integrity algorithm and echoes the peer's SPI", () => {
    const r = selectProposal(ours("sha384-sha256"), ours("sha256-sha384", 0xc0000099));
    assert.ok(r.ok);
    assert.deepEqual(r.proposal, { number: 1, protocol: PROTO_AH, spi: spi4(0xc0000099), transforms: [{ type: INTEG, id: 13 }, { type: ESN, id: 0 }] });
    // The initiator accepts it; a selection it did not offer names the transform.
    assert.ok(checkSelected(ours("sha256-sha384"), [r.proposal]).ok);
    const bad = checkSelected(ours("sha256"), [r.proposal]);
    assert.ok(!bad.ok && /peer selected AUTH_HMAC_SHA2_384_192 which proposal #1 did not contain/.test(bad.reason), JSON.stringify(bad));
    const noEsn = checkSelected(ours("sha256"), [{ ...r.proposal, transforms: [{ type: INTEG, id: 12 }] }]);
    assert.ok(!noEsn.ok && /lacks a ESN transform/.test(noEsn.reason), JSON.stringify(noEsn));
  });

  test("mixed AH and ESP proposals: the protocols must agree", () => {
    const r = selectProposal(ours("sha256,esp:aes128gcm16"), ours("esp:aes128gcm16"));
    assert.ok(r.ok && r.proposal.protocol === PROTO_ESP && r.proposal.number === 1);
    const none = selectProposal(ours("esp:aes128gcm16"), ours("sha256"));
    assert.ok(!none.ok);
    assert.match(none.reason, /ours: {3}ESP:AES_GCM_16_128\/NO_ESN/);
    assert.match(none.reason, /theirs: AH:HMAC_SHA2_256_128\/NO_ESN/);
    assert.match(none.reason, /no common protocol: ours \[ESP\], theirs \[AH\]/);
  });

  test("no common integrity algorithm or ESN setting: the explanation names the transform type and both lists", () => {
    const integ = selectProposal(ours("sha256-sha384"), ours("sha512,aes256gmac"));
    assert.ok(!integ.ok);
    assert.match(integ.reason, /no common integrity: ours \[AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192\], theirs \[AUTH_HMAC_SHA2_512_256, AUTH_AES_256_GMAC\]/);
    const esn = selectProposal(ours("sha256-esn"), ours("sha256-noesn"));
    assert.ok(!esn.ok);
    assert.match(esn.reason, /no common ESN: ours \[ESN\], theirs \[NO_ESN\]/);
  });

  test("configured proposals print as strongSwan's (protocol first)", () => {
    assert.deepEqual(describeProposals(ah("sha256-x25519,aes128gmac-esn")), ["AH:HMAC_SHA2_256_128/CURVE_25519/NO_ESN", "AH:AES_128_GMAC/ESN"]);
  });
});

// ------------------------------------------------------------------------------------------ engines

/** prf+ (RFC 7296 §2.13) with node:crypto HMAC, independent of the engine's prf code. */
function prfPlus(hash: string, key: Uint8Array, seed: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let n = 1, got = 0; got < length; n++, got += t.length) {
    t = createHmac(hash, key).update(Buffer.concat([t, seed, Buffer.from([n])])).digest();
    blocks.push(t);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

const AH_CHILD = (text: string, o: Partial<ChildConfig> = {}): Partial<ChildConfig> => ({ espProposals: [], ahProposals: ah(text), ...o });

/** Two engines without UDP encapsulation (AH needs none), `child` on both sides, established by a. */
function ahPair(child: Partial<ChildConfig>, childB = child, o: Parameters<typeof conn>[3] = { encap: false }): IkePair {
  const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", o, child), conn("sun-moon", "192.0.2.2", "192.0.2.1", o, childB));
  p.a.engine.initiate("moon-sun");
  p.run();
  return p;
}

function only<T>(list: T[], what: string): T {
  assert.equal(list.length, 1, `expected one ${what}, got ${list.length}`);
  return list[0];
}
const sas = (p: IkePair, w: "a" | "b"): IkeSa => only(p[w].engine.sas(), `${w} IKE SA`);
const kids = (p: IkePair, w: "a" | "b"): ChildSa[] => [...sas(p, w).children.values()];

/** One packet from `from`'s outbound SA to `to`: tunnel-mode AH between the IKE endpoints, whose ICV the oracle
 *  verifies under `key` (the KEYMAT computed here), then decapsulated intact by the peer's data plane. */
function ahTraffic(from: DataPlane, out: number, to: DataPlane, integrity: OracleIntegrity, key: Uint8Array, spi: number,
                   src: string, dst: string): void {
  const pkt = ipv4Packet({ src, dst, payloadLen: 64 });
  const b = from.batch(1);
  b.push(pkt, out);
  b.ahEncap();
  assert.equal(b.status(0), 0, `AH encap status ${b.status(0)}`);
  const wire = Uint8Array.from(b.output(0));
  assert.equal(wire[9], 51, "outer protocol is AH");
  const f = oracleVerify({ spi, integrity, key }, wire, 0n, true);
  assert.equal(f.spi, spi);
  const r = to.batch(1);
  r.push(wire);
  r.ahDecap();
  assert.equal(r.status(0), 0, `AH decap status ${r.status(0)}`);
  assert.deepEqual(Uint8Array.from(r.output(0)), pkt);
}

/** The children of a and b are one AH SA pair with `integrity`, keyed with KEYMAT = prf+(SK_d, Ni | Nr); with PFS
 *  (g^ir first in the seed, unknown here) the keys agree and differ from that. */
function checkAhChild(p: IkePair, integrity: OracleIntegrity, ni: Buffer, nr: Buffer, pfs = false): { ca: ChildSa; cb: ChildSa } {
  const sa = sas(p, "a");
  const ca = only(kids(p, "a").filter((c) => c.state === "installed"), "a child"), cb = only(kids(p, "b").filter((c) => c.state === "installed"), "b child");
  const integ = lookupAhInteg({ sha256: 12, sha384: 13, sha512: 14, aes128gmac: 9, aes256gmac: 11 }[integrity]);
  for (const c of [ca, cb]) {
    assert.equal(c.spec.protocol, "ah");
    assert.ok(c.spec.protocol === "ah" && c.spec.integ.name === integrity);
    assert.equal(c.spec.udpEncap, false);
    assert.equal(c.spec.keysIn.encryptionKey.length, 0);
  }
  assert.equal(ca.spiIn, cb.spiOut);
  assert.equal(ca.spiOut, cb.spiIn);
  const len = { sha256: 32, sha384: 48, sha512: 64, aes128gmac: 20, aes256gmac: 36 }[integrity];
  assert.equal(integ.keyLength, len);
  // RFC 7296 §2.17: integrity key i→r, then r→i (no encryption keys); the IKE SA's PRF is HMAC-SHA2-256.
  const keymat = prfPlus("sha256", sa.keys!.skD, Buffer.concat([ni, nr]), 2 * len);
  const ir = keymat.subarray(0, len), ri = keymat.subarray(len);
  if (pfs) {
    assert.deepEqual(Buffer.from(ca.spec.keysOut.integrityKey), Buffer.from(cb.spec.keysIn.integrityKey));
    assert.deepEqual(Buffer.from(ca.spec.keysIn.integrityKey), Buffer.from(cb.spec.keysOut.integrityKey));
    assert.notDeepEqual(Buffer.from(ca.spec.keysOut.integrityKey), ir, "g^ir is in the seed");
  } else {
    assert.deepEqual(Buffer.from(ca.spec.keysOut.integrityKey), ir);
    assert.deepEqual(Buffer.from(ca.spec.keysIn.integrityKey), ri);
    assert.deepEqual(Buffer.from(cb.spec.keysIn.integrityKey), ir);
    assert.deepEqual(Buffer.from(cb.spec.keysOut.integrityKey), ri);
  }
  for (const [s, c] of [[p.a, ca], [p.b, cb]] as const) {
    const i = s.dp.sadb.stats(c.handles!.in), o = s.dp.sadb.stats(c.handles!.out);
    assert.deepEqual([i.protocol, i.direction, i.spi >>> 0, o.protocol, o.direction, o.spi >>> 0], ["ah", "in", c.spiIn, "ah", "out", c.spiOut]);
    assert.equal(i.mode, c.spec.mode);
  }
  const keyAtoB = pfs ? ca.spec.keysOut.integrityKey : ir, keyBtoA = pfs ? ca.spec.keysIn.integrityKey : ri;
  ahTraffic(p.a.dp, ca.handles!.out, p.b.dp, integrity, keyAtoB, ca.spiOut, "10.1.0.5", "10.2.0.7");
  ahTraffic(p.b.dp, cb.handles!.out, p.a.dp, integrity, keyBtoA, cb.spiOut, "10.2.0.7", "10.1.0.5");
  return { ca, cb };
}

/** The decrypted payloads of every message `dir` sent with exchange type `exchange`, in order. */
function sentPayloads(p: IkePair, dir: Wire["dir"], exchange: number): Payload[][] {
  const receiver = dir === "a→b" ? sas(p, "b") : sas(p, "a");
  return p.sent.filter((w) => w.dir === dir).map((w) => decodeMessage(w.data)).filter((m) => m.header.exchangeType === exchange)
    .map((m) => openEncrypted(m, receiver.decrypter).payloads);
}

describe("IKE_AUTH establishes an AH Child SA", () => {
  for (const integrity of ["sha256", "sha384", "sha512", "aes128gmac", "aes256gmac"] as const) {
    test(integrity, () => {
      const p = ahPair(AH_CHILD(integrity));
      const sa = sas(p, "a");
      assert.equal(sa.state, "established", p.a.log.join("\n"));
      assert.equal(sa.natLocal || sa.natRemote, false);
      const { ca } = checkAhChild(p, integrity, sa.ni, sa.nr);
      assert.equal(childAlgorithm(ca.spec), { sha256: "HMAC_SHA2_256_128", sha384: "HMAC_SHA2_384_192", sha512: "HMAC_SHA2_512_256",
        aes128gmac: "AES_128_GMAC", aes256gmac: "AES_256_GMAC" }[integrity]);
      // The IKE_AUTH request offered AH: protocol 2, 4-byte SPI = a's inbound SPI.
      const [req] = sentPayloads(p, "a→b", 35);
      const offer = req.find((x) => x.type === PayloadType.SA) as Extract<Payload, { type: typeof PayloadType.SA }>;
      assert.deepEqual(offer.proposals.map((x) => [x.protocol, x.spi.readUInt32BE(0)]), [[PROTO_AH, ca.spiIn]]);
    });
  }

  test("responder prefers its own order; ESN negotiated; transport mode", () => {
    const hosts = { localTs: [{ start: "192.0.2.1", end: "192.0.2.1", protocol: 0, portStart: 0, portEnd: 65535 }],
      remoteTs: [{ start: "192.0.2.2", end: "192.0.2.2", protocol: 0, portStart: 0, portEnd: 65535 }] };
    const hostsB = { localTs: hosts.remoteTs, remoteTs: hosts.localTs };
    const p = ahPair(AH_CHILD("sha256-sha512-esn", { mode: "transport", ...hosts }), AH_CHILD("sha512-sha256-esn-noesn", { mode: "transport", ...hostsB }));
    const ca = only(kids(p, "a"), "child"), cb = only(kids(p, "b"), "child");
    assert.ok(ca.spec.protocol === "ah" && ca.spec.integ.name === "sha512");
    assert.equal(ca.spec.esn, true);
    assert.equal(cb.spec.esn, true);
    assert.equal(ca.spec.mode, "transport");
    assert.equal(p.a.dp.sadb.stats(ca.handles!.out).esn, true);
    const pkt = ipv4Packet({ src: "192.0.2.1", dst: "192.0.2.2", payloadLen: 40 });
    const b = p.a.dp.batch(1);
    b.push(pkt, ca.handles!.out);
    b.ahEncap();
    assert.equal(b.status(0), 0);
    const wire = Uint8Array.from(b.output(0));
    assert.equal(wire.length, pkt.length + 12 + 32, "transport mode: AH (12 + 32-byte ICV) inserted, no outer header");
    const r = p.b.dp.batch(1);
    r.push(wire);
    r.ahDecap();
    assert.equal(r.status(0), 0);
    assert.deepEqual(Uint8Array.from(r.output(0)), pkt);
  });

  test("a child with AH and ESP proposals gets AH when the peer has both, ESP when the peer has ESP only", () => {
    const both = AH_CHILD("sha256", { espProposals: parseProposals("aes128gcm16", "esp") });
    assert.equal(childProposals(both as ChildConfig).map((x) => x.protocol).join(","), "ah,esp");
    let p = ahPair(both);
    assert.equal(only(kids(p, "a"), "child").spec.protocol, "ah");
    p = ahPair(both, { espProposals: parseProposals("aes128gcm16", "esp") });
    assert.equal(only(kids(p, "a"), "child").spec.protocol, "esp");
  });

  test("no common AH proposal: NO_PROPOSAL_CHOSEN, the responder names the integrity algorithms; the IKE SA stays", () => {
    const failed: string[] = [];
    const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", { encap: false }, AH_CHILD("sha256")),
      conn("sun-moon", "192.0.2.2", "192.0.2.1", { encap: false }, AH_CHILD("aes256gmac")));
    p.a.engine.on("child-failed", (_sa: IkeSa, c: ChildConfig, why: string) => failed.push(`${c.name}: ${why}`));
    p.a.engine.initiate("moon-sun");
    p.run();
    assert.equal(sas(p, "a").state, "established");
    assert.equal(kids(p, "a").length + kids(p, "b").length, 0);
    assert.equal(p.a.dp.sadb.size + p.b.dp.sadb.size, 0);
    assert.match(p.b.log.join("\n"), /no common integrity: ours \[AUTH_AES_256_GMAC\], theirs \[AUTH_HMAC_SHA2_256_128\]/);
    assert.match(p.a.log.join("\n"), /peer refused CHILD_SA net: NO_PROPOSAL_CHOSEN\n.* {2}ours: AH:HMAC_SHA2_256_128\/NO_ESN/);
    assert.deepEqual(failed, ["net: NO_PROPOSAL_CHOSEN"]);
  });
});

describe("AH and NAT: never installed UDP-encapsulated", () => {
  test("forced encapsulation (encap = yes): the AH-only child fails before it is proposed, with the reason", () => {
    const failed: string[] = [];
    // Only a forces it (b's encap = yes would look to a like a NAT in front of b: its NAT_D hash never matches).
    const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", { encap: true }, AH_CHILD("sha256")),
      conn("sun-moon", "192.0.2.2", "192.0.2.1", { encap: false }, AH_CHILD("sha256")));
    p.a.engine.on("child-failed", (_sa: IkeSa, c: ChildConfig, why: string) => failed.push(why));
    p.a.engine.initiate("moon-sun");
    p.run();
    assert.equal(sas(p, "a").state, "established");
    assert.equal(p.a.dp.sadb.size + p.b.dp.sadb.size, 0);
    const why = "CHILD_SA net has AH proposals only, and AH cannot be used: UDP encapsulation is forced (encap = yes), which AH does not support";
    assert.deepEqual(failed, [why]);
    assert.ok(p.a.log.some((l) => l.includes(why)));
    // Nor does a later CREATE_CHILD_SA go out for it.
    const before = p.sent.length;
    p.a.engine.initiate("moon-sun", "net");
    p.run();
    assert.equal(p.sent.length, before);
    assert.equal(failed.length, 2);
  });

  test("a real NAT: AH left out, ESP chosen when configured too; a responder with only AH says why", () => {
    // A NAT in front of a: its source address is rewritten on the way to b.
    const nat = (p: IkePair) => {
      p.translate = (w) => (w.dir === "a→b" ? { ...w, from: { address: "203.0.113.9", port: w.from.port + 1000 } } : w);
    };
    const both = AH_CHILD("sha256", { espProposals: parseProposals("aes128gcm16", "esp") });
    const mk = (ca: Partial<ChildConfig>, cb: Partial<ChildConfig>) => {
      const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", { encap: false }, ca), conn("sun-moon", "192.0.2.2", "192.0.2.1", { encap: false, remoteAddrs: ["%any"] }, cb));
      nat(p);
      p.a.engine.initiate("moon-sun");
      p.run();
      return p;
    };
    let p = mk(both, both);
    assert.ok(sas(p, "a").natLocal && sas(p, "b").natRemote, "NAT detected on both sides");
    const c = only(kids(p, "a"), "child");
    assert.equal(c.spec.protocol, "esp");
    assert.equal(c.spec.udpEncap, true);
    p = mk(both, AH_CHILD("sha256"));
    assert.equal(kids(p, "a").length + kids(p, "b").length, 0);
    assert.match(p.b.log.join("\n"), /CHILD_SA net has AH proposals only, and AH cannot be used: a NAT was detected \(in front of the peer\), and AH cannot be UDP-encapsulated/);
    assert.match(p.a.log.join("\n"), /NO_PROPOSAL_CHOSEN/);
    // The responder with AH and ESP, the initiator AH only (it cannot offer it): nothing to offer, said at once.
    p = mk(AH_CHILD("sha256"), both);
    assert.match(p.a.log.join("\n"), /CHILD_SA net has AH proposals only, and AH cannot be used: a NAT was detected \(in front of us\)/);
    assert.equal(p.a.dp.sadb.size + p.b.dp.sadb.size, 0);
  });
});

describe("CREATE_CHILD_SA with AH", () => {
  /** Fixed nonces for the next CREATE_CHILD_SA: a's Ni, b's Nr. */
  function fixNonces(p: IkePair): { ni: Buffer; nr: Buffer } {
    const ni = randomBytes(32), nr = randomBytes(32);
    p.a.engine.nonce = () => ni;
    p.b.engine.nonce = () => nr;
    return { ni, nr };
  }

  test("rekey: REKEY_SA names the old SA with protocol AH; new keys from the exchange's nonces; the old SAs go", () => {
    const p = ahPair(AH_CHILD("sha384"));
    const old = only(kids(p, "a"), "child"), oldB = only(kids(p, "b"), "child");
    const { ni, nr } = fixNonces(p);
    p.a.engine.rekeyChild(sas(p, "a"), old);
    p.run();
    assert.equal(old.state, "deleted");
    assert.equal(oldB.state, "deleted");
    const [req] = sentPayloads(p, "a→b", 36);
    const rekey = req.find((x) => x.type === PayloadType.NOTIFY && x.notifyType === 16393) as Extract<Payload, { type: typeof PayloadType.NOTIFY }>;
    assert.deepEqual([rekey.protocol, rekey.spi.readUInt32BE(0)], [PROTO_AH, old.spiIn]);
    const offer = req.find((x) => x.type === PayloadType.SA) as Extract<Payload, { type: typeof PayloadType.SA }>;
    assert.deepEqual(offer.proposals.map((x) => x.protocol), [PROTO_AH]);
    // The DELETE of the old SA, and the peer's answer, both with protocol AH (RFC 7296 §3.11).
    const [del] = sentPayloads(p, "a→b", 37), [delR] = sentPayloads(p, "b→a", 37);
    assert.deepEqual(del, [{ type: PayloadType.DELETE, protocol: PROTO_AH, spis: [old.spiIn] }]);
    assert.deepEqual(delR, [{ type: PayloadType.DELETE, protocol: PROTO_AH, spis: [oldB.spiIn] }]);
    const { ca } = checkAhChild(p, "sha384", ni, nr);
    assert.notEqual(ca.spiIn, old.spiIn);
    assert.equal(p.a.dp.sadb.size, 2);
    assert.equal(p.b.dp.sadb.size, 2);
    assert.ok(p.a.log.some((l) => l.includes(`sending DELETE for AH CHILD_SA with SPI ${old.spiIn.toString(16).padStart(8, "0")}`)));
  });

  test("rekey with PFS: KE in both messages, g^ir in the seed, the group recorded", () => {
    const p = ahPair(AH_CHILD("sha256-x25519"));
    const first = only(kids(p, "a"), "child");
    assert.equal(first.spec.dhGroup, undefined, "IKE_AUTH's child uses the IKE SA's key exchange");
    const { ni, nr } = fixNonces(p);
    p.a.engine.rekeyChild(sas(p, "a"), first);
    p.run();
    const [req] = sentPayloads(p, "a→b", 36), [resp] = sentPayloads(p, "b→a", 36);
    for (const m of [req, resp]) assert.equal((m.find((x) => x.type === PayloadType.KE) as { group: number }).group, X25519);
    const { ca, cb } = checkAhChild(p, "sha256", ni, nr, true);
    assert.equal(ca.spec.dhGroup, X25519);
    assert.equal(cb.spec.dhGroup, X25519);
  });

  test("a second AH child on the established IKE SA (CREATE_CHILD_SA without REKEY_SA)", () => {
    const p = ahPair(AH_CHILD("aes128gmac"));
    const { ni, nr } = fixNonces(p);
    const first = only(kids(p, "a"), "child");
    p.a.engine.terminateChild(sas(p, "a"), first);
    p.run();
    assert.equal(p.a.dp.sadb.size + p.b.dp.sadb.size, 0);
    p.a.engine.initiate("moon-sun", "net");
    p.run();
    checkAhChild(p, "aes128gmac", ni, nr);
  });

  test("delete: both sides remove the AH SAs; DELETE carries protocol AH; the keys are wiped", () => {
    const p = ahPair(AH_CHILD("sha512"));
    const ca = only(kids(p, "a"), "child"), cb = only(kids(p, "b"), "child");
    const keys = [ca.spec.keysIn.integrityKey, ca.spec.keysOut.integrityKey];
    p.b.engine.terminateChild(sas(p, "b"), cb);
    p.run();
    assert.deepEqual(sentPayloads(p, "b→a", 37)[0], [{ type: PayloadType.DELETE, protocol: PROTO_AH, spis: [cb.spiIn] }]);
    assert.deepEqual(sentPayloads(p, "a→b", 37)[0], [{ type: PayloadType.DELETE, protocol: PROTO_AH, spis: [ca.spiIn] }]);
    assert.equal(kids(p, "a").length + kids(p, "b").length, 0);
    assert.equal(p.a.dp.sadb.size + p.b.dp.sadb.size, 0);
    for (const k of keys) assert.ok(k.every((x) => x === 0));
    assert.equal(sas(p, "a").state, "established");
  });

  test("an ESP DELETE with an AH child's SPI leaves the AH child alone", () => {
    const p = ahPair(AH_CHILD("sha256"));
    const ca = only(kids(p, "a"), "child");
    // b sends a DELETE for protocol ESP naming its AH inbound SPI: a has no such ESP SA.
    p.b.engine.request(sas(p, "b"), 37, [{ type: PayloadType.DELETE, protocol: PROTO_ESP, spis: [ca.spiOut] }], () => undefined);
    p.run();
    assert.equal(ca.state, "installed");
    assert.ok(p.a.log.some((l) => /received DELETE for unknown CHILD_SA SPI/.test(l)));
    assert.deepEqual(sentPayloads(p, "a→b", 37)[0], []);
  });

  test("REKEY_SA names the SA with its protocol: an ESP REKEY_SA with the AH child's SPI gets CHILD_SA_NOT_FOUND", () => {
    const p = ahPair(AH_CHILD("sha256"));
    const ca = only(kids(p, "a"), "child"), cb = only(kids(p, "b"), "child");
    let reply: Payload[] = [];
    p.b.engine.request(sas(p, "b"), 36, [
      { type: PayloadType.NOTIFY, protocol: PROTO_ESP, spi: spi4(cb.spiIn), notifyType: 16393, data: Buffer.alloc(0) },
      { type: PayloadType.SA, proposals: offerProposals(ah("sha256"), spi4(0xc0000777)) },
      { type: PayloadType.NONCE, nonce: randomBytes(32) },
      { type: PayloadType.TSi, selectors: cb.spec.localTs.map(toWire) },
      { type: PayloadType.TSr, selectors: cb.spec.remoteTs.map(toWire) },
    ], (_m, inner) => { reply = inner; });
    p.run();
    assert.deepEqual(reply, [{ type: PayloadType.NOTIFY, protocol: PROTO_ESP, spi: spi4(cb.spiIn), notifyType: 44, data: Buffer.alloc(0) }]);
    assert.equal(ca.state, "installed");
    assert.equal(p.a.dp.sadb.size, 2);
    assert.ok(p.a.log.some((l) => l.includes(`peer wants to rekey ESP CHILD_SA with SPI ${cb.spiIn.toString(16)}, which we do not have`)));
  });

  test("simultaneous rekey of the AH child by both peers: one AH child survives on each side (RFC 7296 §2.8.1)", () => {
    for (const aFirst of [true, false]) {
      const p = ahPair(AH_CHILD("sha256"));
      p.a.engine.nonce = () => { const n = randomBytes(32); n[0] = aFirst ? 0x00 : 0xff; return n; };
      p.b.engine.nonce = () => { const n = randomBytes(32); n[0] = aFirst ? 0xff : 0x00; return n; };
      p.a.engine.rekeyChild(sas(p, "a"), only(kids(p, "a"), "child"));
      p.b.engine.rekeyChild(sas(p, "b"), only(kids(p, "b"), "child"));
      p.deliver("a→b 36q");
      p.deliver("b→a 36q");
      p.run();
      const ca = only(kids(p, "a"), "child after the collision"), cb = only(kids(p, "b"), "child after the collision");
      assert.equal(ca.spiOut, cb.spiIn);
      assert.equal(ca.spiIn, cb.spiOut);
      assert.equal(p.a.dp.sadb.size, 2);
      assert.equal(p.b.dp.sadb.size, 2);
      assert.ok(ca.spec.protocol === "ah" && cb.spec.protocol === "ah");
      ahTraffic(p.a.dp, ca.handles!.out, p.b.dp, "sha256", ca.spec.keysOut.integrityKey, ca.spiOut, "10.1.0.5", "10.2.0.7");
      ahTraffic(p.b.dp, cb.handles!.out, p.a.dp, "sha256", cb.spec.keysOut.integrityKey, cb.spiOut, "10.2.0.7", "10.1.0.5");
    }
  });
});

test("--list-sas shows an AH child as swanctl does (AH:<integrity>, no -in-UDP); the key log has no ESP lines for it", () => {
  const p = ahPair(AH_CHILD("aes256gmac-esn"));
  const c = only(kids(p, "a"), "child");
  // The fields the gateway's listSas() fills from the child (src/daemon/gateway.ts).
  const text = formatSas([{
    name: "moon-sun", uniqueId: 1, state: "established", version: 2, initiator: true, spiI: "1", spiR: "2",
    localHost: "192.0.2.1", localPort: 500, localId: "moon", remoteHost: "192.0.2.2", remotePort: 500, remoteId: "sun",
    natLocal: false, natRemote: false, algorithms: "", establishedSecondsAgo: 1,
    children: [{ name: c.name, uniqueId: c.uniqueId, state: c.state, mode: c.spec.mode, protocol: c.spec.protocol === "ah" ? "AH" : "ESP",
      encap: c.spec.udpEncap, encr: childAlgorithm(c.spec), esn: c.spec.esn, spiIn: "c0000001", spiOut: "c0000002",
      bytesIn: "0", packetsIn: "0", bytesOut: "0", packetsOut: "0", dropsIn: {}, dropsOut: {}, localTs: [], remoteTs: [], installedSecondsAgo: 1 }],
  }]);
  assert.match(text, new RegExp(`  net: #${c.uniqueId}, INSTALLED, TUNNEL, AH:AES_256_GMAC/ESN\n`));
  assert.deepEqual(new KeyLog("/nonexistent/keylog").espLines(sas(p, "a"), c), []);
});
