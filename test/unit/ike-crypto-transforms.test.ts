// Transform registry (RFC 7296 §3.3.2 / IANA IDs) and the strongSwan proposal string parser, checked against
// the completion rules of strongSwan's proposal.c (PRF from integrity, AEAD drops integrity, ESP implies noesn).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ATTRIBUTE_KEY_LENGTH,
  CURVE_25519,
  ECP_256,
  ECP_384,
  ECP_521,
  lookupDh,
  lookupEncr,
  lookupInteg,
  lookupKeyword,
  lookupPrf,
  parseProposal,
  parseProposals,
  ProposalError,
  proposalTransforms,
  TRANSFORM_DH,
  TRANSFORM_ENCR,
  TRANSFORM_ESN,
  TRANSFORM_INTEG,
  TRANSFORM_PRF,
} from "../../src/ike/crypto/index.js";
import type { ProposalErrorCode } from "../../src/ike/crypto/index.js";

const fails = (code: ProposalErrorCode, keyword?: string) => (e: unknown) =>
  e instanceof ProposalError && e.code === code && (keyword === undefined || (e.keyword === keyword && e.message.includes(`'${keyword}'`)));

test("transform type numbers and the Key Length attribute (RFC 7296 §3.3.2, §3.3.5)", () => {
  assert.deepEqual([TRANSFORM_ENCR, TRANSFORM_PRF, TRANSFORM_INTEG, TRANSFORM_DH, TRANSFORM_ESN, ATTRIBUTE_KEY_LENGTH], [1, 2, 3, 4, 5, 14]);
});

test("registry: IANA transform IDs map to the implementations and key sizes", () => {
  const encr = (id: number, bits: number) => {
    const c = lookupEncr(id, bits);
    return [c.name, c.keyMaterialLength, c.kind === "aead" ? c.icvLength : 0];
  };
  assert.deepEqual(encr(12, 128), ["AES_CBC_128", 16, 0]);
  assert.deepEqual(encr(12, 256), ["AES_CBC_256", 32, 0]);
  assert.deepEqual(encr(18, 128), ["AES_GCM_8_128", 20, 8]);
  assert.deepEqual(encr(19, 192), ["AES_GCM_12_192", 28, 12]);
  assert.deepEqual(encr(20, 256), ["AES_GCM_16_256", 36, 16]);
  assert.deepEqual([5, 6, 7].map((id) => lookupPrf(id).name), ["PRF_HMAC_SHA2_256", "PRF_HMAC_SHA2_384", "PRF_HMAC_SHA2_512"]);
  assert.deepEqual([12, 13, 14].map((id) => lookupInteg(id).name), ["AUTH_HMAC_SHA2_256_128", "AUTH_HMAC_SHA2_384_192", "AUTH_HMAC_SHA2_512_256"]);
  assert.deepEqual([19, 20, 21, 31].map(lookupDh), [ECP_256, ECP_384, ECP_521, CURVE_25519]);
});

test("registry: unsupported IDs and key lengths", () => {
  assert.throws(() => lookupEncr(3, 128), fails("UNSUPPORTED_TRANSFORM")); // 3DES
  assert.throws(() => lookupEncr(13, 128), fails("UNSUPPORTED_TRANSFORM")); // AES-CTR
  assert.throws(() => lookupEncr(12, 64), fails("UNSUPPORTED_TRANSFORM"));
  assert.throws(() => lookupEncr(12, undefined), fails("MISSING_KEY_LENGTH"));
  assert.throws(() => lookupEncr(20, undefined), fails("MISSING_KEY_LENGTH"));
  assert.throws(() => lookupPrf(2), fails("UNSUPPORTED_TRANSFORM")); // HMAC-SHA1
  assert.throws(() => lookupInteg(2), fails("UNSUPPORTED_TRANSFORM")); // HMAC-SHA1-96
  assert.throws(() => lookupDh(14), fails("UNSUPPORTED_TRANSFORM")); // MODP-2048
});

test("strongSwan keywords", () => {
  const k = (w: string) => {
    const t = lookupKeyword(w);
    return [t.type, t.id, t.keyLength];
  };
  assert.deepEqual(k("aes128"), [1, 12, 128]);
  assert.deepEqual(k("aes256"), [1, 12, 256]);
  assert.deepEqual(k("aes128gcm16"), [1, 20, 128]);
  assert.deepEqual(k("aes256gcm16"), [1, 20, 256]);
  assert.deepEqual(k("aes128gcm8"), [1, 18, 128]);
  assert.deepEqual(k("aes128gcm12"), [1, 19, 128]);
  assert.deepEqual(k("aes128gcm128"), k("aes128gcm16"));
  assert.deepEqual(k("sha256"), [3, 12, undefined]);
  assert.deepEqual(k("sha384"), [3, 13, undefined]);
  assert.deepEqual(k("sha512"), [3, 14, undefined]);
  assert.deepEqual(k("prfsha256"), [2, 5, undefined]);
  assert.deepEqual(k("prfsha384"), [2, 6, undefined]);
  assert.deepEqual(k("prfsha512"), [2, 7, undefined]);
  assert.deepEqual(k("x25519"), [4, 31, undefined]);
  assert.deepEqual(k("curve25519"), [4, 31, undefined]);
  assert.deepEqual([k("ecp256"), k("ecp384"), k("ecp521")], [[4, 19, undefined], [4, 20, undefined], [4, 21, undefined]]);
  assert.deepEqual([k("esn"), k("noesn")], [[5, 1, undefined], [5, 0, undefined]]);
  assert.throws(() => lookupKeyword("aes128ctr"), fails("UNKNOWN_KEYWORD", "aes128ctr"));
});

test("IKE proposals: explicit PRF, PRF implied by the integrity algorithm, AEAD", () => {
  assert.deepEqual(parseProposal("aes128-sha256-x25519", "ike"), {
    protocol: "ike", encr: [{ id: 12, keyBits: 128 }], prf: [5], integ: [12], dh: [31], esn: [],
  });
  assert.deepEqual(parseProposal("aes256gcm16-prfsha384-ecp384", "ike"), {
    protocol: "ike", encr: [{ id: 20, keyBits: 256 }], prf: [6], integ: [], dh: [20], esn: [],
  });
  // With AEAD an integrity keyword only supplies the PRF and is then dropped.
  assert.deepEqual(parseProposal("aes128gcm16-sha512-ecp521", "ike"), {
    protocol: "ike", encr: [{ id: 20, keyBits: 128 }], prf: [7], integ: [], dh: [21], esn: [],
  });
  // Several algorithms per type keep their order; repetitions collapse.
  assert.deepEqual(parseProposal("aes256-aes128-sha384-sha256-prfsha512-ecp256-x25519-x25519", "ike"), {
    protocol: "ike", encr: [{ id: 12, keyBits: 256 }, { id: 12, keyBits: 128 }], prf: [7], integ: [13, 12], dh: [19, 31], esn: [],
  });
  assert.deepEqual(
    proposalTransforms(parseProposal("aes128-sha256-x25519", "ike")),
    [{ type: 1, id: 12, keyLength: 128 }, { type: 2, id: 5 }, { type: 3, id: 12 }, { type: 4, id: 31 }],
  );
});

test("ESP proposals: noesn implied, esn kept, PFS group, PRF dropped", () => {
  assert.deepEqual(parseProposal("aes128gcm16", "esp"), {
    protocol: "esp", encr: [{ id: 20, keyBits: 128 }], prf: [], integ: [], dh: [], esn: [0],
  });
  assert.deepEqual(parseProposal("aes128gcm16-esn", "esp"), {
    protocol: "esp", encr: [{ id: 20, keyBits: 128 }], prf: [], integ: [], dh: [], esn: [1],
  });
  assert.deepEqual(parseProposal("aes256-sha512-prfsha512-ecp384-esn-noesn", "esp"), {
    protocol: "esp", encr: [{ id: 12, keyBits: 256 }], prf: [], integ: [14], dh: [20], esn: [1, 0],
  });
  assert.deepEqual(
    proposalTransforms(parseProposal("aes128gcm16-esn", "esp")),
    [{ type: 1, id: 20, keyLength: 128 }, { type: 5, id: 1 }],
  );
  assert.deepEqual(
    parseProposals("aes128gcm16-esn, aes256 - sha256", "esp").map((p) => [p.encr[0]!.id, p.integ[0]]),
    [[20, undefined], [12, 12]],
  );
});

test("unknown keywords are named in the error", () => {
  for (const [text, keyword] of [
    ["aes128-sha1-modp2048", "sha1"],
    ["aes128-sha256-modp2048", "modp2048"],
    ["AES128-sha256-x25519", "AES128"],
    ["aes128--sha256-x25519", ""],
    ["3des-sha256-x25519", "3des"],
  ] as const) {
    assert.throws(() => parseProposal(text, "ike"), fails("UNKNOWN_KEYWORD", keyword), text);
  }
  assert.throws(() => parseProposals("aes128-sha256-x25519,aes256-sha256-ecp999", "ike"), fails("UNKNOWN_KEYWORD", "ecp999"));
});

test("incomplete or inconsistent proposals are refused", () => {
  const invalid = fails("INVALID_PROPOSAL");
  assert.throws(() => parseProposal("sha256-x25519", "ike"), invalid); // no cipher
  assert.throws(() => parseProposal("aes128-x25519", "ike"), invalid); // classic cipher without integrity
  assert.throws(() => parseProposal("aes128-prfsha256-x25519", "ike"), invalid); // same, PRF does not count
  assert.throws(() => parseProposal("aes128gcm16-x25519", "ike"), invalid); // no PRF
  assert.throws(() => parseProposal("aes128-sha256", "ike"), invalid); // no key exchange
  assert.throws(() => parseProposal("aes128gcm16-aes128-sha256-x25519", "ike"), invalid); // AEAD mixed with classic
  assert.throws(() => parseProposal("aes128-sha256-x25519-esn", "ike"), invalid); // ESN is ESP/AH only
  assert.throws(() => parseProposal("sha256", "esp"), invalid);
  assert.throws(() => parseProposal("aes128gcm16-aes256", "esp"), invalid);
});
