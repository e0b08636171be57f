// Pre-shared-key authentication (RFC 7296 §2.15):
//   AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets> )
//   SignedOctets = RealMessage | NonceOfPeer | prf(SK_p, RestOfIDPayload)
import { timingSafeEqual } from "node:crypto";
import type { Prf } from "../crypto/prf.js";
import type { Identity } from "../identity.js";

const KEY_PAD = Buffer.from("Key Pad for IKEv2");

/** The octets an AUTH payload covers: our IKE_SA_INIT message, the peer's nonce, prf(SK_p, ID'). */
export function signedOctets(prf: Prf, realMessage: Uint8Array, peerNonce: Uint8Array, skP: Uint8Array, id: Identity): Buffer {
  const restOfId = Buffer.concat([Buffer.from([id.type, 0, 0, 0]), id.data]);
  return Buffer.concat([realMessage, peerNonce, prf.compute(skP, restOfId)]);
}

export function pskAuth(prf: Prf, secret: Uint8Array, octets: Uint8Array): Buffer {
  return Buffer.from(prf.compute(prf.compute(secret, KEY_PAD), octets));
}

export function pskVerify(prf: Prf, secret: Uint8Array, octets: Uint8Array, received: Uint8Array): boolean {
  const expected = pskAuth(prf, secret, octets);
  return expected.length === received.length && timingSafeEqual(expected, received);
}
