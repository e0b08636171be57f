// Mutation fuzzing of the IKEv2 decoder (src/ike/wire): 120 000 seeded mutations (bit flips, byte changes,
// truncations, length-field and next-payload rewrites, splices, cut/duplicated regions, inserted junk) of a
// corpus of published captures and of messages covering every payload type, in clear and in SK/SKF payloads.
// Every input must either decode or fail with a WireError that is not INTERNAL; whatever decodes must re-encode
// and decode to the same payloads; every third input uses the strict options.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  CertEncoding,
  CfgType,
  CpAttributeType,
  decodeMessage,
  DhId,
  encodeFragmented,
  encodeMessage,
  EncrId,
  ExchangeType,
  IdType,
  notify,
  NotifyType,
  openEncrypted,
  openFragment,
  PayloadType,
  ProtocolId,
  TransformType,
  TsType,
  WireError,
  type HeaderFields,
  type IkeMessage,
  type Payload,
  type SkDecrypter,
  type SkEncrypter,
} from "../../src/ike/wire/index.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

// Wireshark SampleCaptures IKE_SA_INIT request (via github.com/CybercentreCanada/sawp sawp-ike/tests/ikev2_parse.rs).
const WIRESHARK_SA_INIT = hex(`
  89922c915f35570e000000000000000021202208000000000000012c2200002800000024010100030300000c01000014800e0100
  030000080200000500000008040000132800004800130000db253178440ce776a794133cb8b69e5eb074733536570c64d7b630
  549c899c0712d828b37168500885e051024578afc75c101f73b8943cad62d74a30f2be1fca2b00002c09cb538b2c3dbd4d0bb0
  eec8d318cb801a9b4715b207828d9b5ff1f4ec64ed58863707bcf14ccf052b000014eb4c1b788afd4a9cb7730a68d56c53212b
  000014c61baca1f1a60cc108000000000000002b0000184048b7d56ebce88525e7de7f00d6c2d3c0000000290000144048b7d5
  6ebce88525e7de7f00d6c2d3290000080000402e2900000800004016000000100000402f0001000200030004`);
// github.com/rusticata/ipsec-parser tests/ikev2.rs IKEV2_MSG without its Non-ESP marker.
const RUSTICATA_SA_INIT = hex(`
  bca1937a7c2ff5b9000000000000000021202208000000000000012c220000a402000024010100030300000c01000014800e00
  800300000802000005000000080400001c02000024020100030300000c01000014800e008003000008020000050000000804
  0000130200002c030100040300000c0100000d800e0080030000080300000c0300000802000005000000080400001c000000
  2c040100040300000c0100000d800e0080030000080300000c030000080200000500000008040000132800004800 1c00004d
  23b8f22c03ae3ab40af9fa76c23c7ba6c56981e13c32fbc36954c87a96cbfa34637c6f31b650ce5d8717005ce793c2eeaff1c5
  66280811d942d1b8e80268bb0000002499e2a373cc44ad10fb78dda25206a4a9b7558e0d8269799c6800362c46a0bf7b`);
// github.com/rusticata/ipsec-parser assets/ike-sa-init-resp.bin (CERTREQ, HTTP_CERT_LOOKUP_SUPPORTED).
const RUSTICATA_RESP = hex(`
  54c184961bc3fd776386aa2273ed3972212022200000000000000119220000300000002c010100040300000c0100000c
  800e008003000008020000020300000803000002000000080400000228000088000200009393d1e7d1476396c255940d
  aca988e1d54fdc9f594d7a6584af8fc890308fe8b3d3428104cbc722de436f821fa8bb2c67fe70293e97f297ca5a8253
  863c2c904cce45c33949701f20be59857d49ce3f6485681eb40331273b48b6f2966fd3436a11bd85d6bc0e514a223575
  e8a6b6779b0615364d83701442ed893544c6cebb260000245f1da86cf3de54db061b7b334dce9756b85254c841551b0e
  6cdc8cd3c2d5867c2900001904447641e5268ad6a4bc5b982460aa0c66103c05c30000000800004008`);
// RFC 7634 Appendix B as in strongSwan src/libcharon/tests/suites/test_message_chapoly.c.
const CHAPOLY_MESSAGE = hex(`
  c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d72e202500000000090000004529000029
  1011121314151617610394701f8d017f7c129248896b71bfe25236efd7cdc67066906315b2`);
const CHAPOLY_KEY = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
const CHAPOLY_SALT = hex("a0a1a2a3");

const chachaDecrypter: SkDecrypter = {
  open(aad, body) {
    const nonce = Buffer.concat([CHAPOLY_SALT, body.subarray(0, 8)]);
    const padded = chacha20poly1305(CHAPOLY_KEY, nonce, aad).decrypt(body.subarray(8));
    return padded.subarray(0, padded.length - 1 - padded[padded.length - 1]!); // drop padding and Pad Length
  },
};

/** Plaintext "encryption" so that mutations reach the inner payload chain. */
const identityCipher: SkEncrypter & SkDecrypter = {
  bodyLength: (n) => n,
  seal: (_aad, plaintext) => Buffer.from(plaintext),
  open: (_aad, body) => Buffer.from(body),
};

/** Deterministic PRNG (mulberry32) so a failure names a reproducible iteration. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const header: HeaderFields = {
  spiI: 0x1111111111111111n,
  spiR: 0x2222222222222222n,
  exchangeType: ExchangeType.IKE_AUTH,
  initiator: true,
  response: false,
  messageId: 1,
};
const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);
const v4 = (a: number, b: number, c: number, d: number): Buffer => Buffer.from([a, b, c, d]);

const authPayloads: Payload[] = [
  { type: PayloadType.IDi, idType: IdType.ID_FQDN, data: Buffer.from("client.example.org") },
  { type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: bytes(90, 0x30) },
  { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_SIGNATURE, data: bytes(20, 0xab) },
  notify(NotifyType.INITIAL_CONTACT),
  { type: PayloadType.IDr, idType: IdType.ID_IPV4_ADDR, data: v4(192, 0, 2, 1) },
  { type: PayloadType.AUTH, method: 14, data: bytes(40, 0x5a) },
  {
    type: PayloadType.CP,
    cfgType: CfgType.CFG_REQUEST,
    attributes: [
      { type: CpAttributeType.INTERNAL_IP4_ADDRESS, value: Buffer.alloc(0) },
      { type: CpAttributeType.INTERNAL_IP4_SUBNET, value: Buffer.concat([v4(10, 0, 0, 0), v4(255, 0, 0, 0)]) },
    ],
  },
  {
    type: PayloadType.SA,
    proposals: [
      {
        number: 1,
        protocol: ProtocolId.ESP,
        spi: hex("c0ffee01"),
        transforms: [
          { type: TransformType.ENCR, id: EncrId.ENCR_AES_GCM_16, keyLength: 256, attributes: [{ type: 0x42, value: hex("0102") }] },
          { type: TransformType.ESN, id: 0 },
        ],
      },
      { number: 2, protocol: ProtocolId.AH, spi: hex("c0ffee02"), transforms: [{ type: TransformType.INTEG, id: 12 }] },
    ],
  },
  {
    type: PayloadType.TSi,
    selectors: [
      { type: TsType.TS_IPV4_ADDR_RANGE, ipProtocol: 6, startPort: 80, endPort: 443, startAddress: v4(10, 0, 0, 0), endAddress: v4(10, 0, 0, 255) },
      { type: TsType.TS_SECLABEL, label: Buffer.from("label") },
    ],
  },
  {
    type: PayloadType.TSr,
    selectors: [
      { type: TsType.TS_IPV6_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: bytes(16, 0), endAddress: bytes(16, 0xff) },
    ],
  },
  notify(NotifyType.USE_TRANSPORT_MODE),
  notify(NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED),
];
const otherPayloads: Payload[] = [
  { type: PayloadType.KE, group: DhId.CURVE_25519, data: bytes(32, 9) },
  { type: PayloadType.NONCE, nonce: bytes(32, 7) },
  notify(NotifyType.NAT_DETECTION_SOURCE_IP, bytes(20, 1)),
  notify(NotifyType.COOKIE, bytes(16, 2)),
  { type: PayloadType.NOTIFY, protocol: ProtocolId.ESP, spi: hex("c0ffee01"), notifyType: NotifyType.REKEY_SA, data: Buffer.alloc(0) },
  { type: PayloadType.DELETE, protocol: ProtocolId.ESP, spis: [1, 2, 3] },
  { type: PayloadType.DELETE, protocol: ProtocolId.IKE, spis: [] },
  { type: PayloadType.VENDOR_ID, data: bytes(16, 0x88) },
  { type: PayloadType.EAP, message: hex("0201000a01616c696365") },
];

interface Seed {
  name: string;
  bytes: Buffer;
  cipher?: SkDecrypter;
}

const corpus: Seed[] = [
  { name: "wireshark IKE_SA_INIT", bytes: WIRESHARK_SA_INIT },
  { name: "rusticata IKE_SA_INIT", bytes: RUSTICATA_SA_INIT },
  { name: "rusticata response", bytes: RUSTICATA_RESP },
  { name: "RFC 7634 SK", bytes: CHAPOLY_MESSAGE, cipher: chachaDecrypter },
  { name: "cleartext all types", bytes: encodeMessage({ header, payloads: [...authPayloads, ...otherPayloads] }) },
  { name: "IKE_AUTH in SK", bytes: encodeMessage({ header, encrypted: authPayloads }, identityCipher), cipher: identityCipher },
  {
    name: "CREATE_CHILD_SA in SK",
    bytes: encodeMessage({ header: { ...header, exchangeType: 36 }, encrypted: otherPayloads }, identityCipher),
    cipher: identityCipher,
  },
  ...encodeFragmented({ header, encrypted: authPayloads }, identityCipher, 180).map((b, i) => ({
    name: `SKF fragment ${i + 1}`,
    bytes: b,
    cipher: identityCipher,
  })),
];

/** Offsets of 16-bit length fields (payloads, proposals, transforms, TLV attributes, selectors), found by an
 * independent walk of the valid corpus messages, so that length mutations hit real length fields. */
function lengthFields(msg: Buffer, plaintextSk: boolean): number[] {
  const out: number[] = [];
  const walkSa = (start: number, end: number): void => {
    for (let p = start; p + 8 <= end; p += msg.readUInt16BE(p + 2)) {
      out.push(p + 2);
      const pEnd = p + msg.readUInt16BE(p + 2);
      for (let t = p + 8 + msg[p + 6]!; t + 8 <= pEnd; t += msg.readUInt16BE(t + 2)) {
        out.push(t + 2);
        for (let a = t + 8; a + 4 <= t + msg.readUInt16BE(t + 2); ) {
          if (msg[a]! & 0x80) a += 4;
          else {
            out.push(a + 2);
            a += 4 + msg.readUInt16BE(a + 2);
          }
        }
      }
      if (msg.readUInt16BE(p + 2) === 0) break;
    }
  };
  const walkChain = (start: number, end: number, first: number): void => {
    let type = first;
    for (let p = start; type !== 0 && p + 4 <= end; ) {
      const length = msg.readUInt16BE(p + 2);
      out.push(p + 2);
      if (type === PayloadType.SA) walkSa(p + 4, p + length);
      if (type === PayloadType.TSi || type === PayloadType.TSr) {
        for (let s = p + 8; s + 4 <= p + length; s += msg.readUInt16BE(s + 2)) out.push(s + 2);
      }
      if (type === PayloadType.SK && plaintextSk) walkChain(p + 4, p + length, msg[p]!);
      if (type === PayloadType.SKF && plaintextSk && msg.readUInt16BE(p + 4) === 1) walkChain(p + 8, p + length, msg[p]!);
      type = msg[p]!;
      p += length;
    }
  };
  walkChain(28, msg.length, msg[16]!);
  return out;
}

const INTERESTING_U16 = [0, 1, 3, 4, 5, 7, 8, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING_U8 = [0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xfe, 0xff];

function mutate(rand: () => number, seed: Seed, fields: number[]): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number): number => Math.floor(rand() * n);
  let m = Buffer.from(seed.bytes);
  const kind = int(9);
  switch (kind) {
    case 0: // bit flips
      for (let i = 1 + int(4); i > 0; i--) m[int(m.length)]! ^= 1 << int(8);
      break;
    case 1: // byte changes
      for (let i = 1 + int(3); i > 0; i--) m[int(m.length)] = rand() < 0.5 ? pick(INTERESTING_U8) : int(256);
      break;
    case 2: // truncation
      m = m.subarray(0, int(m.length));
      break;
    case 3: // length field rewrite
    case 4: {
      const at = pick(fields);
      const old = m.readUInt16BE(at);
      const choices = [...INTERESTING_U16, old - 1, old + 1, old + 4, old - 4, old * 2, int(0x10000)];
      m.writeUInt16BE(pick(choices) & 0xffff, at);
      break;
    }
    case 5: {
      // splice with another corpus message
      const other = pick(corpus).bytes;
      m = Buffer.concat([m.subarray(0, 28 + int(m.length - 27)), other.subarray(28 + int(other.length - 27))]);
      break;
    }
    case 6: {
      // cut out or duplicate a region
      const a = 28 + int(m.length - 28);
      const b = a + int(Math.min(64, m.length - a) + 1);
      m = rand() < 0.5 ? Buffer.concat([m.subarray(0, a), m.subarray(b)]) : Buffer.concat([m.subarray(0, b), m.subarray(a)]);
      break;
    }
    case 7: {
      // Retype a payload: the type lives in the previous header (or the IKE header), the critical flag in its own.
      const [typeAt, flagsAt] = rand() < 0.3 ? [16, 29] : [pick(fields) - 2, pick(fields) - 1];
      m[typeAt] = rand() < 0.5 ? 33 + int(22) : int(256);
      m[flagsAt] = rand() < 0.5 ? 0x80 : 0;
      break;
    }
    default: {
      // insert random bytes
      const at = int(m.length + 1);
      const junk = Buffer.from(Array.from({ length: 1 + int(12) }, () => int(256)));
      m = Buffer.concat([m.subarray(0, at), junk, m.subarray(at)]);
    }
  }
  // Usually keep the header length consistent so mutations get past the header check.
  if (m.length >= 28 && rand() < 0.8) m.writeUInt32BE(m.length, 24);
  return m;
}

function checkError(err: unknown, input: Buffer, step: string): void {
  if (!(err instanceof WireError) || err.code === "INTERNAL") {
    assert.fail(`${step}: ${String(err)}\ninput ${input.toString("hex")}`);
  }
}

/** Whatever decodes must survive encode → decode unchanged (the encoder accepts everything the decoder does). */
function checkReencode(m: IkeMessage, input: Buffer): void {
  let again: IkeMessage;
  try {
    again = decodeMessage(encodeMessage({ header: m.header, payloads: m.payloads }));
  } catch (err) {
    assert.fail(`re-encode failed: ${String(err)}\ninput ${input.toString("hex")}`);
  }
  assert.deepEqual(again.payloads, m.payloads, `re-encode of ${input.toString("hex")}`);
}

test("fuzz: 120 000 mutated messages only ever fail with WireError", (t) => {
  for (const seed of corpus) {
    const m = decodeMessage(seed.bytes);
    if (seed.cipher && m.payloads.at(-1)?.type === PayloadType.SK) openEncrypted(m, seed.cipher);
  }
  const fields = corpus.map((s) => lengthFields(s.bytes, s.cipher === identityCipher));
  assert.ok(fields.every((f) => f.length > 0));

  const rand = prng(0x1cc2_7296);
  const ITERATIONS = 120_000;
  const outcomes = { decoded: 0, opened: 0, rejected: new Map<string, number>() };
  const count = (code: string): void => void outcomes.rejected.set(code, (outcomes.rejected.get(code) ?? 0) + 1);

  for (let i = 0; i < ITERATIONS; i++) {
    const which = i % corpus.length;
    const seed = corpus[which]!;
    const input = mutate(rand, seed, fields[which]!);
    // Every third input also goes through the strict settings (reserved bits, a small payload budget).
    const options = i % 3 === 0 ? { strictReserved: true, maxPayloads: 16 } : {};
    let m: IkeMessage;
    try {
      m = decodeMessage(input, options);
    } catch (err) {
      checkError(err, input, `decode #${i}`);
      count((err as WireError).code);
      continue;
    }
    outcomes.decoded++;
    checkReencode(m, input);
    const last = m.payloads.at(-1);
    if (!seed.cipher || (last?.type !== PayloadType.SK && last?.type !== PayloadType.SKF)) continue;
    try {
      const inner = last.type === PayloadType.SK ? openEncrypted(m, seed.cipher, options).payloads : undefined;
      if (last.type === PayloadType.SKF) openFragment(m, seed.cipher);
      outcomes.opened++;
      if (inner && seed.cipher === identityCipher) {
        const sealed = encodeMessage({ header: m.header, encrypted: inner }, identityCipher);
        assert.deepEqual(openEncrypted(decodeMessage(sealed), identityCipher).payloads, inner);
      }
    } catch (err) {
      checkError(err, input, `open #${i}`);
      count((err as WireError).code);
    }
  }
  t.diagnostic(`decoded ${outcomes.decoded}, opened ${outcomes.opened}, rejected ${[...outcomes.rejected].join(" ")}`);
  // The mutations must exercise both outcomes and a spread of checks, or the fuzzer is not testing much.
  assert.ok(outcomes.decoded > ITERATIONS / 20, `only ${outcomes.decoded} decoded`);
  assert.ok(outcomes.opened > 1000, `only ${outcomes.opened} opened`);
  for (const code of [
    "TRUNCATED",
    "BAD_LENGTH",
    "TRAILING_DATA",
    "BAD_COUNT",
    "UNSUPPORTED_CRITICAL_PAYLOAD",
    "TOO_MANY_PAYLOADS",
    "RESERVED_NOT_ZERO",
    "DECRYPT_FAILED",
  ]) {
    assert.ok((outcomes.rejected.get(code) ?? 0) > 0, `no ${code} seen: ${[...outcomes.rejected].join(" ")}`);
  }
});
