// Nonce payload (RFC 7296 §3.9): 16..256 bytes.
import { PayloadType } from "../constants.js";
import { ensure, Reader } from "../bytes.js";
import { WireError } from "../errors.js";

export interface NoncePayload {
  type: typeof PayloadType.NONCE;
  nonce: Buffer;
}

export const NONCE_MIN = 16;
export const NONCE_MAX = 256;

const nonceOk = (length: number): boolean => length >= NONCE_MIN && length <= NONCE_MAX;

export function decodeNonce(r: Reader): NoncePayload {
  const nonce = r.rest("nonce");
  if (!nonceOk(nonce.length)) throw new WireError("BAD_NONCE_LENGTH", `nonce of ${nonce.length} bytes`);
  return { type: PayloadType.NONCE, nonce };
}

export function encodeNonce(p: NoncePayload): Buffer {
  ensure(nonceOk(p.nonce.length), `nonce of ${p.nonce.length} bytes`);
  return p.nonce;
}
