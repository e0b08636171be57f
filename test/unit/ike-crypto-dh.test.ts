// Key exchange groups 19/20/21 against RFC 5903 §8 and group 31 against RFC 7748 / RFC 8031, plus rejection of
// malformed, off-curve, identity and low-order peer values; node:crypto ECDH serves as an independent oracle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createECDH } from "node:crypto";
import { readFileSync } from "node:fs";
import { CURVE_25519, ECP_256, ECP_384, ECP_521, KeyExchangeError, lookupDh } from "../../src/ike/crypto/index.js";
import type { DhGroup, KeyExchangeErrorCode } from "../../src/ike/crypto/index.js";

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), "utf8"));
function hex(s: string): Uint8Array {
  assert.equal(s.length % 2, 0); // Buffer.from would silently drop an odd nibble
  return new Uint8Array(Buffer.from(s, "hex"));
}
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const rejects = (code: KeyExchangeErrorCode) => (e: unknown) => e instanceof KeyExchangeError && e.code === code;

const ECP: Record<number, { group: DhGroup; curve: string; p: bigint }> = {
  19: { group: ECP_256, curve: "prime256v1", p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n },
  20: { group: ECP_384, curve: "secp384r1", p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n },
  21: { group: ECP_521, curve: "secp521r1", p: 2n ** 521n - 1n },
};
function be(n: bigint, length: number): Uint8Array {
  const h = n.toString(16).padStart(length * 2, "0");
  assert.equal(h.length, length * 2, "value does not fit");
  return hex(h);
}
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  for (base = mod(base, m); exp > 0n; exp >>= 1n, base = (base * base) % m) if (exp & 1n) result = (result * base) % m;
  return result;
}

test("group sizes (RFC 5903 §7, RFC 8031)", () => {
  assert.deepEqual(
    [ECP_256, ECP_384, ECP_521, CURVE_25519].map((g) => [g.id, g.publicValueLength, g.sharedSecretLength, lookupDh(g.id) === g]),
    [[19, 64, 32, true], [20, 96, 48, true], [21, 132, 66, true], [31, 32, 32, true]],
  );
});

test("RFC 5903 §8 ECP-256/384/521: public values and g^ir", () => {
  const { groups } = vectors("ike-rfc5903-ecp.json");
  assert.equal(groups.length, 3);
  for (const v of groups) {
    const group = ECP[v.group]!.group;
    const initiator = group.generateKeyPair(hex(v.i));
    const responder = group.generateKeyPair(hex(v.r));
    // KE payload data is x | y, without the SEC1 0x04 prefix.
    assert.equal(toHex(initiator.publicValue), v.gix + v.giy, `group ${v.group} g^i`);
    assert.equal(toHex(responder.publicValue), v.grx + v.gry, `group ${v.group} g^r`);
    // The shared secret is the x coordinate only.
    assert.equal(toHex(group.computeSharedSecret(hex(v.i), hex(v.grx + v.gry))), v.girx, `group ${v.group} initiator g^ir`);
    assert.equal(toHex(group.computeSharedSecret(hex(v.r), hex(v.gix + v.giy))), v.girx, `group ${v.group} responder g^ir`);
  }
});

test("ECP round trips agree with node:crypto ECDH", () => {
  for (const { group, curve } of Object.values(ECP)) {
    for (let i = 0; i < 3; i++) {
      const ours = group.generateKeyPair();
      assert.equal(ours.publicValue.length, group.publicValueLength);
      const node = createECDH(curve);
      node.generateKeys();
      const nodePublic = new Uint8Array(node.getPublicKey().subarray(1)); // drop 0x04
      const fromOurs = group.computeSharedSecret(ours.privateKey, nodePublic);
      const fromNode = node.computeSecret(Buffer.concat([Buffer.from([4]), ours.publicValue]));
      assert.equal(toHex(fromOurs), fromNode.toString("hex"));
      assert.equal(fromOurs.length, group.sharedSecretLength);
    }
  }
});

test("ECP peer values: wrong length, off curve, coordinate >= p, identity", () => {
  const { groups } = vectors("ike-rfc5903-ecp.json");
  for (const v of groups) {
    const { group, p } = ECP[v.group]!;
    const n = group.sharedSecretLength;
    const good = hex(v.grx + v.gry);
    const me = hex(v.i);
    group.validatePublicValue(good);
    for (const bad of [good.subarray(1), new Uint8Array([...good, 0]), new Uint8Array([4, ...good]), new Uint8Array(0)]) {
      assert.throws(() => group.computeSharedSecret(me, bad), rejects("INVALID_LENGTH"));
    }
    // y flipped in its last bit: off the curve (an invalid-curve attack point).
    const offCurve = good.slice();
    offCurve[offCurve.length - 1]! ^= 1;
    assert.throws(() => group.computeSharedSecret(me, offCurve), rejects("INVALID_POINT"));
    // Non-canonical coordinates: a valid point (x, y) with small x, sent as (x + p, y). b comes from the RFC point.
    const gx = BigInt("0x" + v.gix);
    const gy = BigInt("0x" + v.giy);
    const b = mod(gy * gy - gx ** 3n + 3n * gx, p);
    let x = 1n;
    let y = 0n;
    for (; ; x++) {
      const rhs = mod(x ** 3n - 3n * x + b, p);
      y = modPow(rhs, (p + 1n) / 4n, p); // p ≡ 3 (mod 4) for all three primes
      if (mod(y * y, p) === rhs) break;
    }
    group.validatePublicValue(new Uint8Array([...be(x, n), ...be(y, n)]));
    assert.throws(() => group.validatePublicValue(new Uint8Array([...be(x + p, n), ...be(y, n)])), rejects("INVALID_POINT"));
    if (y + p < 1n << BigInt(8 * n)) {
      // Only ECP-521 has room above p in its 66-byte coordinates for a y + p.
      assert.throws(() => group.validatePublicValue(new Uint8Array([...be(x, n), ...be(y + p, n)])), rejects("INVALID_POINT"));
    }
    // (0, 0), the all-zero value some implementations use for the point at infinity.
    assert.throws(() => group.computeSharedSecret(me, new Uint8Array(2 * n)), rejects("IDENTITY_POINT"));
  }
});

test("ECP private keys must be in [1, n-1]", () => {
  for (const { group } of Object.values(ECP)) {
    const peer = group.generateKeyPair().publicValue;
    for (const bad of [new Uint8Array(group.privateKeyLength), new Uint8Array(group.privateKeyLength).fill(0xff), new Uint8Array(5)]) {
      assert.throws(() => group.generateKeyPair(bad), rejects("INVALID_PRIVATE_KEY"));
      assert.throws(() => group.computeSharedSecret(bad, peer), rejects("INVALID_PRIVATE_KEY"));
    }
  }
});

test("X25519: RFC 7748 §6.1 and RFC 8031 Diffie-Hellman vectors", () => {
  const { dh } = vectors("ike-x25519.json");
  assert.equal(dh.length, 2);
  for (const v of dh) {
    const i = CURVE_25519.generateKeyPair(hex(v.privateI));
    const r = CURVE_25519.generateKeyPair(hex(v.privateR));
    assert.equal(toHex(i.publicValue), v.publicI, v.source);
    assert.equal(toHex(r.publicValue), v.publicR, v.source);
    assert.equal(toHex(CURVE_25519.computeSharedSecret(i.privateKey, r.publicValue)), v.shared, v.source);
    assert.equal(toHex(CURVE_25519.computeSharedSecret(r.privateKey, i.publicValue)), v.shared, v.source);
  }
});

test("X25519: RFC 7748 §5.2 scalar multiplication (incl. a u with the top bit set) and the iterated ladder", () => {
  const { scalarMult, iterated } = vectors("ike-x25519.json");
  for (const v of scalarMult) assert.equal(toHex(CURVE_25519.computeSharedSecret(hex(v.scalar), hex(v.u))), v.out);
  let k: Uint8Array = hex(iterated.start);
  let u: Uint8Array = hex(iterated.start);
  for (let i = 1; i <= 1000; i++) {
    [k, u] = [CURVE_25519.computeSharedSecret(k, u), k];
    if (i === 1) assert.equal(toHex(k), iterated.after1);
  }
  assert.equal(toHex(k), iterated.after1000);
});

test("X25519: low-order peer values give ZERO_SHARED_SECRET, with or without the masked top bit", () => {
  const { lowOrder } = vectors("ike-x25519.json");
  assert.equal(lowOrder.length, 7);
  const me = CURVE_25519.generateKeyPair();
  for (const h of lowOrder) {
    const u = hex(h);
    assert.throws(() => CURVE_25519.computeSharedSecret(me.privateKey, u), rejects("ZERO_SHARED_SECRET"), h);
    const high = u.slice();
    high[31]! |= 0x80; // RFC 7748 §5: the top bit is ignored
    assert.throws(() => CURVE_25519.computeSharedSecret(me.privateKey, high), rejects("ZERO_SHARED_SECRET"), h);
  }
});

test("X25519: length checks and round trips", () => {
  const a = CURVE_25519.generateKeyPair();
  const b = CURVE_25519.generateKeyPair();
  assert.equal(toHex(CURVE_25519.computeSharedSecret(a.privateKey, b.publicValue)), toHex(CURVE_25519.computeSharedSecret(b.privateKey, a.publicValue)));
  for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
    assert.throws(() => CURVE_25519.computeSharedSecret(a.privateKey, bad), rejects("INVALID_LENGTH"));
    assert.throws(() => CURVE_25519.computeSharedSecret(bad, b.publicValue), rejects("INVALID_PRIVATE_KEY"));
  }
});
