// IKEv2 key exchange groups: ECP-256/384/521 (19/20/21, RFC 5903) and Curve25519 (31, RFC 8031).
// KE payload data: ECP x | y, each left-padded to the field size, no SEC1 0x04 prefix (RFC 5903 §7);
// Curve25519 the 32-byte u-coordinate (RFC 8031). Shared secret g^ir: the ECP x coordinate (RFC 5903 §7),
// the 32-byte X25519 output (RFC 8031).
import { x25519 } from "@noble/curves/ed25519.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { KeyExchangeError } from "./errors.js";

export const DH_ECP_256 = 19;
export const DH_ECP_384 = 20;
export const DH_ECP_521 = 21;
export const DH_CURVE_25519 = 31;

export interface DhKeyPair {
  readonly group: DhGroup;
  readonly privateKey: Uint8Array;
  /** Key Exchange Data of our KE payload. */
  readonly publicValue: Uint8Array;
}

export interface DhGroup {
  /** IKEv2 Transform Type 4 ID (the KE payload's Diffie-Hellman Group Num). */
  readonly id: number;
  readonly name: string;
  readonly privateKeyLength: number;
  readonly publicValueLength: number;
  readonly sharedSecretLength: number;
  /** A fresh key pair, or the one for `privateKey` (known-answer tests, stored keys). */
  generateKeyPair(privateKey?: Uint8Array): DhKeyPair;
  /** Throws KeyExchangeError unless `value` is acceptable Key Exchange Data from the peer. */
  validatePublicValue(value: Uint8Array): void;
  /** g^ir from our private key and the peer's Key Exchange Data; validates the latter first. */
  computeSharedSecret(privateKey: Uint8Array, peerPublicValue: Uint8Array): Uint8Array;
}

type Weierstrass = typeof p256;

/** `fieldLength`: bytes of a coordinate, which for these curves is also the size of a private scalar. */
function ecpGroup(id: number, name: string, curve: Weierstrass, fieldLength: number): DhGroup {
  const sec1 = (value: Uint8Array): Uint8Array => {
    const out = new Uint8Array(1 + value.length);
    out[0] = 0x04;
    out.set(value, 1);
    return out;
  };
  const checkPrivate = (privateKey: Uint8Array): void => {
    if (privateKey.length !== fieldLength || !curve.utils.isValidSecretKey(privateKey)) {
      throw new KeyExchangeError("INVALID_PRIVATE_KEY", `${name}: private key must be a scalar in [1, n-1]`);
    }
  };
  const group: DhGroup = {
    id,
    name,
    privateKeyLength: fieldLength,
    publicValueLength: 2 * fieldLength,
    sharedSecretLength: fieldLength,
    generateKeyPair(privateKey = curve.utils.randomSecretKey()) {
      checkPrivate(privateKey);
      return { group, privateKey, publicValue: curve.getPublicKey(privateKey, false).slice(1) };
    },
    validatePublicValue(value) {
      if (value.length !== 2 * fieldLength) {
        throw new KeyExchangeError(
          "INVALID_LENGTH",
          `${name}: Key Exchange Data must be ${2 * fieldLength} bytes, got ${value.length}`,
        );
      }
      // SEC1 has no x|y form of the point at infinity; treat the all-zero value some stacks send as such.
      if (value.every((b) => b === 0)) throw new KeyExchangeError("IDENTITY_POINT", `${name}: point at infinity`);
      try {
        curve.Point.fromBytes(sec1(value)).assertValidity(); // coordinates < p and on the curve
      } catch {
        throw new KeyExchangeError("INVALID_POINT", `${name}: public value is not a point on the curve`);
      }
    },
    computeSharedSecret(privateKey, peerPublicValue) {
      checkPrivate(privateKey);
      group.validatePublicValue(peerPublicValue);
      // Prime-order curves and a scalar in [1, n-1]: the product of a valid point is never the identity.
      return curve.getSharedSecret(privateKey, sec1(peerPublicValue), true).slice(1);
    },
  };
  return group;
}

const curve25519: DhGroup = {
  id: DH_CURVE_25519,
  name: "CURVE_25519",
  privateKeyLength: 32,
  publicValueLength: 32,
  sharedSecretLength: 32,
  generateKeyPair(privateKey = x25519.utils.randomSecretKey()) {
    if (privateKey.length !== 32) throw new KeyExchangeError("INVALID_PRIVATE_KEY", "CURVE_25519: private key must be 32 bytes");
    return { group: curve25519, privateKey, publicValue: x25519.getPublicKey(privateKey) };
  },
  validatePublicValue(value) {
    // Every 32-byte string is a valid u-coordinate (RFC 7748 §5); only the length can be checked up front.
    if (value.length !== 32) {
      throw new KeyExchangeError("INVALID_LENGTH", `CURVE_25519: Key Exchange Data must be 32 bytes, got ${value.length}`);
    }
  },
  computeSharedSecret(privateKey, peerPublicValue) {
    if (privateKey.length !== 32) throw new KeyExchangeError("INVALID_PRIVATE_KEY", "CURVE_25519: private key must be 32 bytes");
    curve25519.validatePublicValue(peerPublicValue);
    let shared: Uint8Array;
    try {
      // noble refuses the low-order u-coordinates before the ladder: exactly the inputs whose output is all zero.
      shared = x25519.getSharedSecret(privateKey, peerPublicValue);
    } catch {
      throw new KeyExchangeError("ZERO_SHARED_SECRET", "CURVE_25519: low-order peer value gives an all-zero shared secret");
    }
    // RFC 8031 mandates this check; kept independent of the library's own screening.
    if (shared.every((b) => b === 0)) {
      throw new KeyExchangeError("ZERO_SHARED_SECRET", "CURVE_25519: all-zero shared secret");
    }
    return shared;
  },
};

export const ECP_256 = ecpGroup(DH_ECP_256, "ECP_256", p256, 32);
export const ECP_384 = ecpGroup(DH_ECP_384, "ECP_384", p384, 48);
export const ECP_521 = ecpGroup(DH_ECP_521, "ECP_521", p521, 66);
export const CURVE_25519 = curve25519;
