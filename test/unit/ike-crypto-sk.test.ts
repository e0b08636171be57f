// AES-CBC / AES-GCM primitives against RFC 3602 and the McGrew & Viega GCM vectors, and the SK payload body
// (RFC 7296 §3.14, RFC 5282) against oracles written here: @noble/ciphers AES-CBC + node:crypto HMAC, and
// node:crypto and @noble/ciphers AES-GCM with the RFC 4106/5282 nonce (salt | IV) and tag truncation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cbc as nobleCbc, gcm as nobleGcm } from "@noble/ciphers/aes.js";
import {
  AUTH_HMAC_SHA2_256_128,
  AUTH_HMAC_SHA2_384_192,
  AUTH_HMAC_SHA2_512_256,
  aesCbc,
  aesGcm,
  IkeCryptoError,
  openSk,
  sealSk,
  skBodyLength,
  SkPayloadError,
  SkSealer,
} from "../../src/ike/crypto/index.js";
import type { AeadCipher, Cipher, GcmIcvLength, Integ, KeySuite, SkKeys, SkPayloadErrorCode } from "../../src/ike/crypto/index.js";

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), "utf8"));
function hex(s: string): Uint8Array {
  assert.equal(s.length % 2, 0);
  return new Uint8Array(Buffer.from(s, "hex"));
}
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const random = (n: number) => new Uint8Array(randomBytes(n));

const CIPHERS: Cipher[] = [aesCbc(128), aesCbc(192), aesCbc(256), ...([128, 192, 256] as const).flatMap((k) => [aesGcm(k, 8), aesGcm(k, 12), aesGcm(k, 16)])];
const INTEGS: Integ[] = [AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256];
const SUITES: KeySuite[] = CIPHERS.flatMap((encr): KeySuite[] => (encr.kind === "aead" ? [{ encr }] : INTEGS.map((integ) => ({ encr, integ }))));
const HASH: Record<number, string> = { 12: "sha256", 13: "sha384", 14: "sha512" };
const suiteName = (s: KeySuite) => `${s.encr.name}${s.integ ? "+" + s.integ.name : ""}`;

const keysFor = (s: KeySuite): SkKeys => ({ encryptionKey: random(s.encr.keyMaterialLength), integrityKey: random(s.integ?.keyLength ?? 0) });
/** IKE header (28 bytes) and SK generic payload header (4 bytes): the unencrypted part up to the IV. */
const aadFor = () => cat(random(28), hex("21000000"));
const skError = (code: SkPayloadErrorCode) => (e: unknown) => e instanceof SkPayloadError && e.code === code;

/** Independent SK body for AES-CBC + HMAC with caller-chosen padding (RFC 7296 §3.14). */
function oracleCbc(s: KeySuite, keys: SkKeys, aad: Uint8Array, iv: Uint8Array, padded: Uint8Array): Uint8Array {
  const ciphertext = nobleCbc(keys.encryptionKey.subarray(0, s.encr.keyLength), iv, { disablePadding: true }).encrypt(padded);
  const signed = cat(iv, ciphertext);
  const icv = createHmac(HASH[s.integ!.id]!, keys.integrityKey!).update(aad).update(signed).digest();
  return cat(signed, icv.subarray(0, s.integ!.icvLength));
}

/** Independent SK body for AES-GCM via node:crypto: nonce = salt (last 4 key bytes) | IV, AAD, truncated tag. */
function oracleGcmNode(encr: AeadCipher, keys: SkKeys, aad: Uint8Array, iv: Uint8Array, padded: Uint8Array): Uint8Array {
  const key = keys.encryptionKey.subarray(0, encr.keyLength);
  const salt = keys.encryptionKey.subarray(encr.keyLength);
  const c = createCipheriv(`aes-${encr.keyBits}-gcm`, key, cat(salt, iv), { authTagLength: encr.icvLength });
  c.setAAD(aad);
  return cat(iv, c.update(padded), c.final(), c.getAuthTag());
}

/** The same with @noble/ciphers, whose 16-byte tag is truncated to the ICV length. */
function oracleGcmNoble(encr: AeadCipher, keys: SkKeys, aad: Uint8Array, iv: Uint8Array, padded: Uint8Array): Uint8Array {
  const key = keys.encryptionKey.subarray(0, encr.keyLength);
  const salt = keys.encryptionKey.subarray(encr.keyLength);
  const sealed = nobleGcm(key, cat(salt, iv), aad).encrypt(padded);
  return cat(iv, sealed.subarray(0, sealed.length - 16 + encr.icvLength));
}

function oracle(s: KeySuite, keys: SkKeys, aad: Uint8Array, iv: Uint8Array, padded: Uint8Array): Uint8Array {
  return s.encr.kind === "aead" ? oracleGcmNode(s.encr, keys, aad, iv, padded) : oracleCbc(s, keys, aad, iv, padded);
}

/** payload | zero padding | pad length, padded to the cipher's block size with `extra` more blocks. */
function pad(s: KeySuite, payload: Uint8Array, extraBlocks = 0): Uint8Array {
  const block = s.encr.blockSize;
  const length = Math.ceil((payload.length + 1) / block) * block + extraBlocks * block;
  const padded = new Uint8Array(length);
  padded.set(payload);
  padded[length - 1] = length - payload.length - 1;
  return padded;
}

test("AES-CBC: RFC 3602 test cases", () => {
  const { cbc } = vectors("ike-aes-cbc-gcm.json");
  assert.equal(cbc.length, 6);
  for (const v of cbc) {
    const cipher = aesCbc((v.key.length * 4) as 128);
    assert.equal(toHex(cipher.encrypt(hex(v.key), hex(v.iv), hex(v.plain))), v.cipher, v.name);
    assert.equal(toHex(cipher.decrypt(hex(v.key), hex(v.iv), hex(v.cipher))), v.plain, v.name);
  }
});

test("AES-GCM 8/12/16: McGrew & Viega test cases with the RFC 4106 salt | IV nonce", () => {
  const { gcm } = vectors("ike-aes-cbc-gcm.json");
  assert.ok(gcm.length >= 20);
  for (const v of gcm) {
    const cipher = aesGcm((v.key.length * 4) as 128, v.icvLength as GcmIcvLength);
    const keyMaterial = hex(v.key + v.salt);
    assert.equal(toHex(cipher.seal(keyMaterial, hex(v.iv), hex(v.aad), hex(v.plain))), v.cipher, v.name);
    assert.equal(toHex(cipher.open(keyMaterial, hex(v.iv), hex(v.aad), hex(v.cipher))!), v.plain, v.name);
    const tampered = hex(v.cipher);
    tampered[tampered.length - 1]! ^= 0x80;
    assert.equal(cipher.open(keyMaterial, hex(v.iv), hex(v.aad), tampered), null, v.name);
  }
});

test("transform IDs and sizes of the ciphers (RFC 7296 §3.3.2, RFC 5282)", () => {
  assert.deepEqual(
    CIPHERS.map((c) => [c.name, c.id, c.keyMaterialLength, c.ivLength, c.blockSize]),
    [
      ["AES_CBC_128", 12, 16, 16, 16], ["AES_CBC_192", 12, 24, 16, 16], ["AES_CBC_256", 12, 32, 16, 16],
      ["AES_GCM_8_128", 18, 20, 8, 1], ["AES_GCM_12_128", 19, 20, 8, 1], ["AES_GCM_16_128", 20, 20, 8, 1],
      ["AES_GCM_8_192", 18, 28, 8, 1], ["AES_GCM_12_192", 19, 28, 8, 1], ["AES_GCM_16_192", 20, 28, 8, 1],
      ["AES_GCM_8_256", 18, 36, 8, 1], ["AES_GCM_12_256", 19, 36, 8, 1], ["AES_GCM_16_256", 20, 36, 8, 1],
    ],
  );
});

test("SK body equals the independent oracles and round-trips, for every suite and payload length", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    for (const length of [0, 1, 14, 15, 16, 17, 31, 32, 100, 1500]) {
      const aad = aadFor();
      const payload = random(length);
      const iv = random(s.encr.ivLength);
      const body = sealSk(s, keys, aad, payload, iv);
      assert.equal(body.length, skBodyLength(s, length), suiteName(s));
      assert.equal(toHex(body), toHex(oracle(s, keys, aad, iv, pad(s, payload))), `${suiteName(s)} ${length}`);
      if (s.encr.kind === "aead") {
        assert.equal(toHex(body), toHex(oracleGcmNoble(s.encr, keys, aad, iv, pad(s, payload))), `${suiteName(s)} ${length}`);
      }
      assert.equal(toHex(openSk(s, keys, aad, body)), toHex(payload), `${suiteName(s)} ${length}`);
    }
  }
});

test("a receiver accepts any padding that aligns (RFC 7296 §3.14): longer padding, non-zero pad bytes", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    const aad = aadFor();
    const payload = random(21);
    for (const extra of [1, 3]) {
      const padded = pad(s, payload, extra);
      padded.fill(0xa5, payload.length, padded.length - 1);
      const body = oracle(s, keys, aad, random(s.encr.ivLength), padded);
      assert.equal(toHex(openSk(s, keys, aad, body)), toHex(payload), suiteName(s));
    }
  }
});

test("tampering with the AAD, IV, ciphertext or ICV fails authentication", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    const aad = aadFor();
    const body = sealSk(s, keys, aad, random(40), random(s.encr.ivLength));
    const icv = s.encr.kind === "aead" ? s.encr.icvLength : s.integ!.icvLength;
    // One position in each region: IV, first and last ciphertext byte, first and last ICV byte.
    for (const at of [0, s.encr.ivLength, body.length - icv - 1, body.length - icv, body.length - 1]) {
      const bad = body.slice();
      bad[at]! ^= 0x01;
      assert.throws(() => openSk(s, keys, aad, bad), skError("AUTH_FAILED"), `${suiteName(s)} byte ${at}`);
    }
    for (const at of [0, 17, aad.length - 1]) {
      const badAad = aad.slice();
      badAad[at]! ^= 0x40;
      assert.throws(() => openSk(s, keys, badAad, body), skError("AUTH_FAILED"), `${suiteName(s)} aad ${at}`);
    }
    const otherKeys = keysFor(s);
    if (s.integ) {
      assert.throws(() => openSk(s, { ...keys, integrityKey: otherKeys.integrityKey }, aad, body), skError("AUTH_FAILED"));
    } else {
      assert.throws(() => openSk(s, { encryptionKey: otherKeys.encryptionKey }, aad, body), skError("AUTH_FAILED"));
    }
  }
});

test("truncated and misaligned bodies give TOO_SHORT / BAD_LENGTH", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    const aad = aadFor();
    const icv = s.encr.kind === "aead" ? s.encr.icvLength : s.integ!.icvLength;
    const minimum = s.encr.ivLength + s.encr.blockSize + icv;
    const body = sealSk(s, keys, aad, new Uint8Array(0), random(s.encr.ivLength));
    assert.equal(body.length, minimum, suiteName(s));
    for (let n = 0; n < minimum; n++) {
      assert.throws(() => openSk(s, keys, aad, body.subarray(0, n)), skError("TOO_SHORT"), `${suiteName(s)} ${n}`);
    }
    if (s.encr.kind === "cbc") {
      const long = sealSk(s, keys, aad, random(40), random(16));
      for (const cut of [1, 15]) {
        assert.throws(() => openSk(s, keys, aad, long.subarray(0, long.length - cut)), skError("BAD_LENGTH"), suiteName(s));
      }
      assert.throws(() => openSk(s, keys, aad, cat(long, random(5))), skError("BAD_LENGTH"), suiteName(s));
    } else {
      // GCM needs no alignment: a body one byte shorter or longer is well-formed but no longer authentic.
      const long = sealSk(s, keys, aad, random(40), random(8));
      assert.throws(() => openSk(s, keys, aad, long.subarray(0, long.length - 1)), skError("AUTH_FAILED"), suiteName(s));
      assert.throws(() => openSk(s, keys, aad, cat(long, random(1))), skError("AUTH_FAILED"), suiteName(s));
    }
  }
});

test("an authentic body whose pad length exceeds the decrypted data gives BAD_PADDING", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    const aad = aadFor();
    const block = s.encr.blockSize === 1 ? 4 : s.encr.blockSize; // GCM: any length; use 4 bytes
    for (const padLength of [block, 0xff]) {
      const padded = new Uint8Array(block);
      padded[block - 1] = padLength; // needs padLength + 1 <= block bytes
      const body = oracle(s, keys, aad, random(s.encr.ivLength), padded);
      assert.throws(() => openSk(s, keys, aad, body), skError("BAD_PADDING"), `${suiteName(s)} ${padLength}`);
    }
    // padLength + 1 == decrypted length: an empty payload chain.
    const exact = new Uint8Array(block);
    exact[block - 1] = block - 1;
    assert.equal(openSk(s, keys, aad, oracle(s, keys, aad, random(s.encr.ivLength), exact)).length, 0);
  }
});

test("random bodies only ever raise SkPayloadError", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    const aad = aadFor();
    for (let i = 0; i < 40; i++) {
      const body = random(Math.floor(Math.random() * 120));
      assert.throws(() => openSk(s, keys, aad, body), (e: unknown) => e instanceof SkPayloadError, suiteName(s));
    }
  }
});

test("SkSealer: random CBC IVs, sequential GCM IVs, lengths and round trips", () => {
  for (const s of SUITES) {
    const keys = keysFor(s);
    const sealer = new SkSealer(s, keys);
    const aad = aadFor();
    const ivs: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const payload = random(i * 7);
      const body = sealer.seal(aad, payload);
      assert.equal(body.length, sealer.bodyLength(payload.length));
      assert.equal(toHex(openSk(s, keys, aad, body)), toHex(payload));
      ivs.push(BigInt("0x" + toHex(body.subarray(0, s.encr.ivLength))));
    }
    assert.equal(new Set(ivs).size, ivs.length, suiteName(s));
    if (s.encr.kind === "aead") {
      for (let i = 1; i < ivs.length; i++) assert.equal(ivs[i], (ivs[i - 1]! + 1n) % 2n ** 64n, suiteName(s));
    }
  }
});

test("misuse: wrong key or IV sizes and impossible suites throw IkeCryptoError", () => {
  const code = (c: string) => (e: unknown) => e instanceof IkeCryptoError && !(e instanceof SkPayloadError) && e.code === c;
  const aad = aadFor();
  const cbc = { encr: aesCbc(128), integ: AUTH_HMAC_SHA2_256_128 };
  const gcm = { encr: aesGcm(128, 16) };
  const cbcKeys = keysFor(cbc);
  const gcmKeys = keysFor(gcm);
  assert.throws(() => sealSk(cbc, { ...cbcKeys, encryptionKey: random(24) }, aad, random(3), random(16)), code("INVALID_KEY_LENGTH"));
  assert.throws(() => sealSk(cbc, { ...cbcKeys, integrityKey: random(31) }, aad, random(3), random(16)), code("INVALID_KEY_LENGTH"));
  assert.throws(() => openSk(gcm, { encryptionKey: random(16) }, aad, random(40)), code("INVALID_KEY_LENGTH")); // salt missing
  assert.throws(() => sealSk(gcm, { ...gcmKeys, integrityKey: random(32) }, aad, random(3), random(8)), code("INVALID_KEY_LENGTH"));
  assert.throws(() => sealSk(cbc, cbcKeys, aad, random(3), random(8)), code("INVALID_IV_LENGTH"));
  assert.throws(() => sealSk(gcm, gcmKeys, aad, random(3), random(12)), code("INVALID_IV_LENGTH"));
  assert.throws(() => new SkSealer({ encr: aesCbc(128) }, { encryptionKey: random(16) }), code("INVALID_SUITE"));
  assert.throws(() => openSk({ ...gcm, integ: AUTH_HMAC_SHA2_256_128 }, { ...gcmKeys, integrityKey: random(32) }, aad, random(40)), code("INVALID_SUITE"));
});
