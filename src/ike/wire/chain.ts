// The payload chain: generic payload headers (RFC 7296 §3.2) linking payload bodies, plus the critical-bit rule.
import { GENERIC_PAYLOAD_HEADER_LENGTH, PayloadType, payloadTypeName } from "./constants.js";
import { ensure, Reader, Writer, type DecodeContext } from "./bytes.js";
import { WireError } from "./errors.js";
import { decodePayloadBody, encodePayloadBody, isKnownPayloadType, type Payload } from "./payloads/index.js";

/** A payload of a type we do not understand whose critical bit was clear, so it was skipped (kept for logging). */
export interface SkippedPayload {
  type: number;
  data: Buffer;
}

export interface PayloadChain {
  /** Understood payloads in wire order; an SK/SKF payload, if any, is last. */
  payloads: Payload[];
  skipped: SkippedPayload[];
}

export interface ChainContext extends DecodeContext {
  /** Most payloads (understood or skipped) one chain may hold. */
  readonly maxPayloads: number;
}

const CRITICAL = 0x80;
const MAX_PAYLOAD_LENGTH = 0xffff;

const isEncrypted = (type: number): boolean => type === PayloadType.SK || type === PayloadType.SKF;

/**
 * Decode the chain in `buf[start, end)` beginning with payload type `first`. `inner` marks the plaintext of an
 * SK/SKF payload, where another encrypted payload is not allowed. Every iteration consumes at least 4 bytes and
 * the count is bounded, so hostile input costs time linear in its size.
 */
export function decodeChain(
  buf: Buffer,
  start: number,
  end: number,
  first: number,
  ctx: ChainContext,
  inner: boolean,
): PayloadChain {
  const r = new Reader(buf, inner ? "encrypted payload chain" : "payload chain", start, end);
  const payloads: Payload[] = [];
  const skipped: SkippedPayload[] = [];
  let type = first;
  let count = 0;
  while (type !== PayloadType.NONE) {
    if (++count > ctx.maxPayloads) throw new WireError("TOO_MANY_PAYLOADS", `more than ${ctx.maxPayloads} payloads`);
    const name = payloadTypeName(type);
    const next = r.u8(`${name} next payload`);
    const flags = r.u8(`${name} flags`);
    const length = r.u16(`${name} length`);
    r.reserved(ctx, flags & ~CRITICAL, `${name} reserved flags`);
    if (length < GENERIC_PAYLOAD_HEADER_LENGTH) throw new WireError("BAD_LENGTH", `${name} payload length ${length}`);
    const body = r.sub(length - GENERIC_PAYLOAD_HEADER_LENGTH, `${name} payload`);

    if (!isKnownPayloadType(type)) {
      if (flags & CRITICAL) {
        throw new WireError("UNSUPPORTED_CRITICAL_PAYLOAD", `critical payload type ${type}`, {
          notifyData: Buffer.from([type]),
        });
      }
      skipped.push({ type, data: body.rest("payload data") });
      type = next;
      continue;
    }
    if (isEncrypted(type)) {
      if (inner) throw new WireError("MISPLACED_PAYLOAD", `${name} inside an encrypted payload`);
      payloads.push(decodePayloadBody(type, next, body, ctx));
      // RFC 7296 §3.14, RFC 7383 §2.5: it is the last payload; its Next Payload names the first inner one.
      if (r.remaining > 0) throw new WireError("MISPLACED_PAYLOAD", `${r.remaining} bytes after the ${name} payload`);
      return { payloads, skipped };
    }
    payloads.push(decodePayloadBody(type, next, body, ctx));
    type = next;
  }
  r.done();
  return { payloads, skipped };
}

/** Encode payloads with their generic headers; `first` is the type for the preceding Next Payload field. */
export function encodeChain(payloads: readonly Payload[]): { first: number; bytes: Buffer } {
  const w = new Writer();
  payloads.forEach((p, i) => {
    const body = encodePayloadBody(p);
    let next: number;
    if (p.type === PayloadType.SK || p.type === PayloadType.SKF) {
      ensure(i === payloads.length - 1, `${payloadTypeName(p.type)} must be the last payload`);
      next = p.firstPayload;
    } else {
      next = payloads[i + 1]?.type ?? PayloadType.NONE;
    }
    ensure(GENERIC_PAYLOAD_HEADER_LENGTH + body.length <= MAX_PAYLOAD_LENGTH, `${payloadTypeName(p.type)} too long`);
    w.u8(next, "next payload").u8(0, "flags").u16(GENERIC_PAYLOAD_HEADER_LENGTH + body.length, "payload length");
    w.bytes(body);
  });
  return { first: payloads[0]?.type ?? PayloadType.NONE, bytes: w.toBuffer() };
}
