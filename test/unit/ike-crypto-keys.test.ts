// SKEYSEED, IKE SA keys, rekeyed SKEYSEED and Child SA KEYMAT against the NIST CAVS IKEv2 KDF vectors
// (SP 800-135), and the key splitting of RFC 7296 §2.14/§2.17 for every cipher/integrity combination.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  AUTH_HMAC_SHA2_256_128,
  AUTH_HMAC_SHA2_384_192,
  AUTH_HMAC_SHA2_512_256,
  aesCbc,
  aesGcm,
  deriveChildSaKeys,
  deriveIkeSaKeys,
  IkeCryptoError,
  PRF_HMAC_SHA2_256,
  PRF_HMAC_SHA2_384,
  PRF_HMAC_SHA2_512,
  prfPlus,
  rekeySkeyseed,
  skeyseed,
} from "../../src/ike/crypto/index.js";
import type { Cipher, IkeSaKeys, Integ, KeySuite, Prf } from "../../src/ike/crypto/index.js";

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), "utf8"));
function hex(s: string): Uint8Array {
  assert.equal(s.length % 2, 0);
  return new Uint8Array(Buffer.from(s, "hex"));
}
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

const PRFS: Record<string, Prf> = { HMAC_SHA2_256: PRF_HMAC_SHA2_256, HMAC_SHA2_384: PRF_HMAC_SHA2_384, HMAC_SHA2_512: PRF_HMAC_SHA2_512 };
const CIPHERS: Cipher[] = [aesCbc(128), aesCbc(192), aesCbc(256), ...([128, 192, 256] as const).flatMap((k) => [aesGcm(k, 8), aesGcm(k, 12), aesGcm(k, 16)])];
const INTEGS: Integ[] = [AUTH_HMAC_SHA2_256_128, AUTH_HMAC_SHA2_384_192, AUTH_HMAC_SHA2_512_256];
/** Every legal suite: each CBC cipher with each integrity algorithm, each AEAD cipher alone. */
const SUITES: KeySuite[] = CIPHERS.flatMap((encr): KeySuite[] => (encr.kind === "aead" ? [{ encr }] : INTEGS.map((integ) => ({ encr, integ }))));

const ikeKeyList = (k: IkeSaKeys) => [k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr];

test("NIST CAVS IKEv2 KDF: SKEYSEED, DKM, Child SA DKM (with and without PFS) and rekeyed SKEYSEED", () => {
  const { vectors: list } = vectors("ike-cavs-ikev2-kdf.json");
  assert.equal(list.length, 30);
  for (const v of list) {
    const prf = PRFS[v.prf]!;
    const label = `${v.prf} count ${v.count} (|Ni| = ${v.ni.length / 2})`;
    const [ni, nr] = [hex(v.ni), hex(v.nr)];
    const seed = skeyseed(prf, ni, nr, hex(v.gir));
    assert.equal(toHex(seed), v.skeyseed, label);

    // The DKM is prf+(SKEYSEED, Ni | Nr | SPIi | SPIr); derived IKE SA keys are its consecutive slices.
    const dkm = prfPlus(prf, seed, cat(ni, nr, hex(v.spiI), hex(v.spiR)), v.dkm.length / 2);
    assert.equal(toHex(dkm), v.dkm, label);
    const skD = dkm.subarray(0, prf.keyLength);
    for (const suite of [
      { prf, encr: aesCbc(256), integ: AUTH_HMAC_SHA2_512_256 },
      { prf, encr: aesGcm(128, 16) },
    ]) {
      const keys = deriveIkeSaKeys(suite, seed, ni, nr, hex(v.spiI), hex(v.spiR));
      const all = toHex(cat(...ikeKeyList(keys)));
      const common = Math.min(all.length, v.dkm.length);
      assert.equal(all.slice(0, common), v.dkm.slice(0, common), `${label} ${suite.encr.name}`);
      assert.equal(toHex(keys.skD), toHex(skD));
    }

    // Child SA KEYMAT: encryption then integrity key, initiator→responder first.
    const espSuite = { encr: aesCbc(128), integ: AUTH_HMAC_SHA2_256_128 };
    for (const [girNew, expected] of [[undefined, v.dkmChild], [hex(v.girNew), v.dkmChildDh]] as const) {
      const child = deriveChildSaKeys(prf, skD, espSuite, ni, nr, girNew);
      const { initiatorToResponder: i2r, responderToInitiator: r2i } = child;
      const all = toHex(cat(i2r.encryptionKey, i2r.integrityKey, r2i.encryptionKey, r2i.integrityKey));
      assert.equal(all.length, 2 * 2 * (16 + 32));
      assert.equal(all, expected.slice(0, all.length), label);
      assert.equal(toHex(prfPlus(prf, skD, girNew ? cat(girNew, ni, nr) : cat(ni, nr), expected.length / 2)), expected, label);
    }

    assert.equal(toHex(rekeySkeyseed(prf, skD, hex(v.girNew), ni, nr)), v.skeyseedRekey, label);
  }
});

test("IKE SA key lengths for every suite, and the split order SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr", () => {
  const [ni, nr, spiI, spiR] = [hex("01".repeat(32)), hex("02".repeat(32)), hex("0123456789abcdef"), hex("fedcba9876543210")];
  const gir = hex("55".repeat(32));
  for (const prf of Object.values(PRFS)) {
    const seed = skeyseed(prf, ni, nr, gir);
    for (const s of SUITES) {
      const keys = deriveIkeSaKeys({ prf, ...s }, seed, ni, nr, spiI, spiR);
      const a = s.integ?.keyLength ?? 0;
      const e = s.encr.kind === "aead" ? s.encr.keyLength + 4 : s.encr.keyLength;
      assert.deepEqual(ikeKeyList(keys).map((k) => k.length), [prf.keyLength, a, a, e, e, prf.keyLength, prf.keyLength], s.encr.name);
      const total = 3 * prf.keyLength + 2 * a + 2 * e;
      assert.equal(toHex(cat(...ikeKeyList(keys))), toHex(prfPlus(prf, seed, cat(ni, nr, spiI, spiR), total)));
    }
  }
});

test("Child SA KEYMAT lengths for every suite; AES-GCM key material carries the 4-byte salt", () => {
  const [ni, nr] = [hex("aa".repeat(16)), hex("bb".repeat(16))];
  const skD = hex("cc".repeat(32));
  for (const s of SUITES) {
    const child = deriveChildSaKeys(PRF_HMAC_SHA2_256, skD, s, ni, nr);
    const e = s.encr.kind === "aead" ? s.encr.keyLength + 4 : s.encr.keyLength;
    const a = s.integ?.keyLength ?? 0;
    const { initiatorToResponder: i2r, responderToInitiator: r2i } = child;
    assert.deepEqual([i2r.encryptionKey.length, i2r.integrityKey.length, r2i.encryptionKey.length, r2i.integrityKey.length], [e, a, e, a]);
    const all = cat(i2r.encryptionKey, i2r.integrityKey, r2i.encryptionKey, r2i.integrityKey);
    assert.equal(toHex(all), toHex(prfPlus(PRF_HMAC_SHA2_256, skD, cat(ni, nr), 2 * (e + a))));
  }
  // ESP may run AES-CBC without integrity; only the encryption keys are taken then.
  const encOnly = deriveChildSaKeys(PRF_HMAC_SHA2_256, skD, { encr: aesCbc(128) }, ni, nr);
  assert.deepEqual([encOnly.initiatorToResponder.integrityKey.length, encOnly.responderToInitiator.encryptionKey.length], [0, 16]);
});

test("suites that cannot exist are refused", () => {
  const [ni, nr, spi] = [hex("01".repeat(16)), hex("02".repeat(16)), hex("00".repeat(8))];
  const invalid = (e: unknown) => e instanceof IkeCryptoError && e.code === "INVALID_SUITE";
  assert.throws(() => deriveChildSaKeys(PRF_HMAC_SHA2_256, ni, { encr: aesGcm(128, 16), integ: AUTH_HMAC_SHA2_256_128 }, ni, nr), invalid);
  assert.throws(() => deriveIkeSaKeys({ prf: PRF_HMAC_SHA2_256, encr: aesGcm(256, 16), integ: AUTH_HMAC_SHA2_256_128 }, ni, ni, nr, spi, spi), invalid);
  // An IKE SA with a classic cipher needs an integrity algorithm (RFC 7296 §3.3.3).
  assert.throws(() => deriveIkeSaKeys({ prf: PRF_HMAC_SHA2_256, encr: aesCbc(128) }, ni, ni, nr, spi, spi), invalid);
});
