// PRF, prf+ and integrity algorithms against RFC 4231, RFC 4868 §2.7 and strongSwan's prf+ (CAVP) vectors,
// plus an independent prf+ written here over node:crypto createHmac.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  AUTH_HMAC_SHA2_256_128,
  AUTH_HMAC_SHA2_384_192,
  AUTH_HMAC_SHA2_512_256,
  IkeCryptoError,
  PRF_HMAC_SHA2_256,
  PRF_HMAC_SHA2_384,
  PRF_HMAC_SHA2_512,
  prfPlus,
} from "../../src/ike/crypto/index.js";
import type { Integ, Prf } from "../../src/ike/crypto/index.js";

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), "utf8"));
function hex(s: string): Uint8Array {
  assert.equal(s.length % 2, 0); // Buffer.from would silently drop an odd nibble
  return new Uint8Array(Buffer.from(s, "hex"));
}
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const PRFS: Record<string, Prf> = {
  sha256: PRF_HMAC_SHA2_256,
  sha384: PRF_HMAC_SHA2_384,
  sha512: PRF_HMAC_SHA2_512,
  PRF_HMAC_SHA2_256,
  PRF_HMAC_SHA2_384,
  PRF_HMAC_SHA2_512,
};
const INTEGS: Record<string, Integ> = { AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256 };

test("transform IDs and sizes (RFC 4868 §2.1, IANA)", () => {
  assert.deepEqual(
    [PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512].map((p) => [p.id, p.outputLength, p.keyLength]),
    [[5, 32, 32], [6, 48, 48], [7, 64, 64]],
  );
  assert.deepEqual(
    [AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256].map((i) => [i.id, i.keyLength, i.icvLength]),
    [[12, 32, 16], [13, 48, 24], [14, 64, 32]],
  );
});

test("RFC 4231 test cases 1-7 through the PRF wrappers", () => {
  const { cases } = vectors("ike-rfc4231-hmac-sha2.json");
  assert.equal(cases.length, 7);
  for (const c of cases) {
    for (const h of ["sha256", "sha384", "sha512"]) {
      let out = PRFS[h]!.compute(hex(c.key), hex(c.data));
      if (c.truncatedTo) out = out.subarray(0, c.truncatedTo); // test case 5: left-most 128 bits
      assert.equal(toHex(out), c[h], `RFC 4231 case ${c.case} HMAC-${h}`);
    }
  }
});

test("RFC 4868 §2.7.1 PRF vectors", () => {
  const { prf } = vectors("ike-rfc4868-hmac-sha2.json");
  assert.ok(prf.length >= 6);
  for (const v of prf) assert.equal(toHex(PRFS[v.alg]!.compute(hex(v.key), hex(v.data))), v.out, v.name);
});

test("RFC 4868 §2.7.2 truncated authenticator vectors: compute and verify", () => {
  const { auth } = vectors("ike-rfc4868-hmac-sha2.json");
  assert.ok(auth.length >= 9);
  for (const v of auth) {
    const integ = INTEGS[v.alg]!;
    const [key, data, icv] = [hex(v.key), hex(v.data), hex(v.icv)];
    assert.equal(toHex(integ.compute(key, data)), v.icv, v.name);
    assert.equal(integ.verify(key, data, icv), true, v.name);
    // Any single flipped bit, a truncated or an over-long ICV must fail.
    for (let bit = 0; bit < icv.length * 8; bit += 7) {
      const bad = icv.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(integ.verify(key, data, bad), false);
    }
    assert.equal(integ.verify(key, data, icv.subarray(0, icv.length - 1)), false);
    assert.equal(integ.verify(key, data, new Uint8Array([...icv, 0])), false);
    const otherData = data.length ? data.slice(1) : new Uint8Array([0]);
    assert.equal(integ.verify(key, otherData, icv), false);
  }
});

test("integrity keys must have the RFC 4868 fixed length", () => {
  for (const integ of Object.values(INTEGS)) {
    for (const n of [0, integ.keyLength - 1, integ.keyLength + 1]) {
      assert.throws(
        () => integ.compute(new Uint8Array(n), new Uint8Array(1)),
        (e: unknown) => e instanceof IkeCryptoError && e.code === "INVALID_KEY_LENGTH",
      );
    }
  }
});

test("prf+ against strongSwan's vectors (RFC 4868-derived and NIST CAVP IKEv2)", () => {
  const { vectors: list } = vectors("ike-prf-plus.json");
  assert.equal(list.length, 7);
  for (const v of list) {
    const out = prfPlus(PRFS[v.prf]!, hex(v.key), hex(v.seed), v.out.length / 2);
    assert.equal(toHex(out), v.out, v.name);
  }
});

/** prf+ as RFC 7296 §2.13 spells it, over node:crypto. */
function referencePrfPlus(hash: string, key: Uint8Array, seed: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let n = 1; Buffer.concat(blocks).length < length; n++) {
    t = createHmac(hash, key).update(t).update(seed).update(Buffer.from([n])).digest();
    blocks.push(t);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

test("prf+ matches an independent node:crypto implementation at every length boundary", () => {
  const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const seed = new Uint8Array(Buffer.from("Ni | Nr | SPIi | SPIr stand-in seed"));
  for (const [hash, prf] of [["sha256", PRF_HMAC_SHA2_256], ["sha384", PRF_HMAC_SHA2_384], ["sha512", PRF_HMAC_SHA2_512]] as const) {
    const h = prf.outputLength;
    for (const length of [0, 1, h - 1, h, h + 1, 3 * h + 5, 255 * h]) {
      assert.equal(toHex(prfPlus(prf, key, seed, length)), referencePrfPlus(hash, key, seed, length).toString("hex"), `${hash} ${length}`);
    }
    // An empty seed and a key longer than the hash block are legal.
    const longKey = new Uint8Array(200).fill(0xaa);
    assert.equal(toHex(prfPlus(prf, longKey, new Uint8Array(0), 2 * h)), referencePrfPlus(hash, longKey, new Uint8Array(0), 2 * h).toString("hex"));
  }
});

test("prf+ refuses more than 255 blocks and malformed lengths", () => {
  for (const prf of [PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512]) {
    assert.equal(prfPlus(prf, new Uint8Array(4), new Uint8Array(4), 255 * prf.outputLength).length, 255 * prf.outputLength);
    for (const length of [255 * prf.outputLength + 1, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => prfPlus(prf, new Uint8Array(4), new Uint8Array(4), length),
        (e: unknown) => e instanceof IkeCryptoError && e.code === "PRF_PLUS_TOO_LONG",
      );
    }
  }
});
