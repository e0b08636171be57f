// Whole IKEv2 messages: header + payload chain, and the SK payload's protected inner chain.
import { IKE_HEADER_LENGTH, PayloadType } from "./constants.js";
import { ensure } from "./bytes.js";
import { decodeChain, encodeChain, type ChainContext, type PayloadChain } from "./chain.js";
import { guard, WireError } from "./errors.js";
import { encodeHeader, readHeader, type HeaderFields, type IkeHeader } from "./header.js";
import type { Payload, SkfPayload, SkPayload } from "./payloads/index.js";
import { open, seal, type SkDecrypter, type SkEncrypter } from "./protect.js";

export interface DecodeOptions {
  /** Most payloads per chain (the cleartext chain and each encrypted inner chain). Default 64. */
  maxPayloads?: number;
  /** Reject non-zero reserved fields and flags (default false: RFC 7296 §2.5 says to ignore them). */
  strictReserved?: boolean;
}

export const DEFAULT_MAX_PAYLOADS = 64;

export interface IkeMessage extends PayloadChain {
  header: IkeHeader;
  /** The message bytes as received: what AUTH signs for IKE_SA_INIT, and where the SK prefix comes from. */
  raw: Buffer;
}

export interface OutgoingMessage {
  header: HeaderFields;
  /** Cleartext payloads (all of them in IKE_SA_INIT). */
  payloads?: readonly Payload[];
  /** Payloads to protect: the encrypter seals them into a trailing SK payload. */
  encrypted?: readonly Payload[];
}

export function chainContext(options: DecodeOptions): ChainContext {
  const max = options.maxPayloads;
  ensure(max === undefined || (Number.isInteger(max) && max >= 1), `maxPayloads ${max}`);
  return {
    strictReserved: options.strictReserved ?? false,
    maxPayloads: options.maxPayloads ?? DEFAULT_MAX_PAYLOADS,
  };
}

/**
 * Decode an IKE datagram (Non-ESP marker already removed). Every check failure is a WireError; SK/SKF bodies
 * stay sealed (see openEncrypted / openFragment). The result does not alias `datagram`.
 */
export function decodeMessage(datagram: Uint8Array, options: DecodeOptions = {}): IkeMessage {
  return guard(() => {
    const ctx = chainContext(options);
    const raw = Buffer.from(datagram);
    const header = readHeader(raw, ctx);
    const chain = decodeChain(raw, IKE_HEADER_LENGTH, raw.length, header.nextPayload, ctx, false);
    return { header, ...chain, raw };
  });
}

/** Bytes preceding the body of the trailing SK/SKF payload of a decoded message. */
export function sealedPrefix(msg: IkeMessage, encrypted: SkPayload | SkfPayload): Buffer {
  return msg.raw.subarray(0, msg.raw.length - encrypted.body.length);
}

/**
 * Verify and decrypt the message's SK payload and decode the payloads inside. Fails with MISPLACED_PAYLOAD if the
 * message has no SK payload (a fragment needs openFragment), DECRYPT_FAILED if the decrypter refuses the body.
 */
export function openEncrypted(msg: IkeMessage, decrypter: SkDecrypter, options: DecodeOptions = {}): PayloadChain {
  return guard(() => {
    const sk = msg.payloads.at(-1);
    if (sk?.type !== PayloadType.SK) throw new WireError("MISPLACED_PAYLOAD", "message has no SK payload");
    const inner = open(decrypter, sealedPrefix(msg, sk), sk.body);
    return decodeChain(inner, 0, inner.length, sk.firstPayload, chainContext(options), true);
  });
}

export function checkProtectable(payloads: readonly Payload[]): void {
  for (const p of payloads) {
    ensure(p.type !== PayloadType.SK && p.type !== PayloadType.SKF, "an encrypted payload cannot be encrypted again");
  }
}

/**
 * Encode header, cleartext payloads and a trailing SK/SKF payload built by `trailer` around a placeholder body of
 * the sealed length (so every length field is final), then seal `plaintext` over the bytes before the body.
 */
export function encodeSealed(
  header: HeaderFields,
  payloads: readonly Payload[],
  trailer: (body: Buffer) => SkPayload | SkfPayload,
  plaintext: Buffer,
  encrypter: SkEncrypter,
): Buffer {
  const bodyLength = encrypter.bodyLength(plaintext.length);
  const out = encodeClear(header, [...payloads, trailer(Buffer.alloc(bodyLength))]);
  const aad = out.subarray(0, out.length - bodyLength);
  seal(encrypter, aad, plaintext).copy(out, aad.length);
  return out;
}

function encodeClear(header: HeaderFields, payloads: readonly Payload[]): Buffer {
  const chain = encodeChain(payloads);
  const length = IKE_HEADER_LENGTH + chain.bytes.length;
  return Buffer.concat([encodeHeader(header, chain.first, length), chain.bytes], length);
}

/** Encode a message; with `encrypted`, the encrypter seals those payloads into a trailing SK payload. */
export function encodeMessage(msg: OutgoingMessage, encrypter?: SkEncrypter): Buffer {
  const clear = msg.payloads ?? [];
  if (msg.encrypted === undefined) return encodeClear(msg.header, clear);
  ensure(encrypter !== undefined, "encrypted payloads need an encrypter");
  checkProtectable(msg.encrypted);
  const inner = encodeChain(msg.encrypted);
  const trailer = (body: Buffer): SkPayload => ({ type: PayloadType.SK, firstPayload: inner.first, body });
  return encodeSealed(msg.header, clear, trailer, inner.bytes, encrypter);
}
