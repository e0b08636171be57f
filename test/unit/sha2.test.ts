// The data plane's SHA-2 and HMAC (assembly/crypto/sha2.ts), used by AH: published vectors (FIPS 180-2
// examples, RFC 4231, RFC 4868 §2.7.2) and a differential test against node:crypto over every padding
// boundary and key length class (shorter than, equal to, longer than the block).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { instantiate, constant } from "../../src/dataplane/wasm.js";

const { memory, exports: ex } = instantiate();
const ALG = { sha256: constant(ex, "SHA256"), sha384: constant(ex, "SHA384"), sha512: constant(ex, "SHA512") };
type Hash = keyof typeof ALG;
const HASHES = Object.keys(ALG) as Hash[];
const DIGEST = { sha256: 32, sha384: 48, sha512: 64 };
const CTX_SIZE = constant(ex, "HMAC_CTX_SIZE");

// Scratch areas above the module's static data (no layout is formatted in this memory).
const MSG = (ex.layoutBase() as number) + 1024;
const OUT = MSG + (1 << 21);
const KEY = OUT + 256;
const CTX = KEY + 1024;
if (memory.buffer.byteLength < CTX + CTX_SIZE) memory.grow(Math.ceil((CTX + CTX_SIZE - memory.buffer.byteLength) / 65536));
const mem = () => new Uint8Array(memory.buffer);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));

function digest(h: Hash, msg: Uint8Array): string {
  mem().set(msg, MSG);
  ex.sha2Digest(ALG[h], MSG, msg.length, OUT);
  return hex(mem().subarray(OUT, OUT + DIGEST[h]));
}

function hmac(h: Hash, key: Uint8Array, msg: Uint8Array): string {
  mem().set(key, KEY);
  assert.equal(ex.hmacInit(CTX, ALG[h], KEY, key.length), 1);
  mem().set(msg, MSG);
  ex.hmacMac(CTX, ALG[h], MSG, msg.length, OUT);
  return hex(mem().subarray(OUT, OUT + DIGEST[h]));
}

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), "utf8"));

// FIPS 180-2 Appendices B, C and D: one-block ("abc"), multi-block and long (10^6 × "a") messages.
const M448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const M896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
const FIPS: [Hash, string, string][] = [
  ["sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["sha256", M448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ["sha256", "a".repeat(1e6), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"],
  ["sha384", "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"],
  ["sha384", M896, "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"],
  ["sha384", "a".repeat(1e6), "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985"],
  ["sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"],
  ["sha512", M896, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"],
  ["sha512", "a".repeat(1e6), "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"],
];

test("FIPS 180-2 example digests: one block, several blocks, one million bytes", () => {
  for (const [h, msg, want] of FIPS) assert.equal(digest(h, Buffer.from(msg)), want, `${h} of ${msg.length} bytes`);
});

test("RFC 4231 test cases 1-7 (keys shorter than, and longer than, the block; case 5 truncated)", () => {
  const { cases } = vectors("ike-rfc4231-hmac-sha2.json");
  assert.equal(cases.length, 7);
  for (const c of cases) {
    for (const h of HASHES) {
      let mac = hmac(h, unhex(c.key), unhex(c.data));
      if (c.truncatedTo) mac = mac.slice(0, 2 * c.truncatedTo);
      assert.equal(mac, c[h], `RFC 4231 case ${c.case} HMAC-${h}`);
    }
  }
});

test("RFC 4868 §2.7.2 authenticator vectors: AH's truncated ICVs with full-length keys", () => {
  const { auth } = vectors("ike-rfc4868-hmac-sha2.json");
  const byAlg: Record<string, Hash> = {
    AUTH_HMAC_SHA2_256_128: "sha256", AUTH_HMAC_SHA2_384_192: "sha384", AUTH_HMAC_SHA2_512_256: "sha512",
  };
  assert.ok(auth.length >= 6);
  for (const v of auth) {
    const h = byAlg[v.alg];
    assert.ok(h, v.alg);
    assert.equal(unhex(v.key).length, DIGEST[h], `${v.name}: the key is as long as the digest`);
    assert.equal(hmac(h, unhex(v.key), unhex(v.data)).slice(0, v.icv.length), v.icv, v.name);
  }
});

test("differential against node:crypto: every length 0..300, keys of 0..200 bytes", () => {
  for (const h of HASHES) {
    for (let len = 0; len <= 300; len++) {
      const msg = randomBytes(len);
      assert.equal(digest(h, msg), createHash(h).update(msg).digest("hex"), `${h} of ${len} bytes`);
      const key = randomBytes((len * 7) % 201);
      assert.equal(hmac(h, key, msg), createHmac(h, key).update(msg).digest("hex"), `HMAC-${h}, ${key.length}-byte key, ${len} bytes`);
    }
  }
});

test("the message is never written to; an unknown algorithm leaves the context alone", () => {
  const msg = randomBytes(200);
  mem().set(msg, MSG);
  ex.hmacMac(CTX, ALG.sha512, MSG, msg.length, OUT);
  ex.sha2Digest(ALG.sha256, MSG, msg.length, OUT);
  assert.deepEqual(mem().subarray(MSG, MSG + msg.length), Uint8Array.from(msg));
  const before = Uint8Array.from(mem().subarray(CTX, CTX + CTX_SIZE));
  for (const bad of [0, 4, 0xffffffff]) assert.equal(ex.hmacInit(CTX, bad, KEY, 32), 0);
  assert.deepEqual(mem().subarray(CTX, CTX + CTX_SIZE), before);
});
