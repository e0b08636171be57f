// IKE header (RFC 7296 §3.1): 28 bytes in front of every IKEv2 message.
import { HeaderFlag, IKE_HEADER_LENGTH, IKE_MAJOR_VERSION, NotifyType } from "./constants.js";
import { Reader, Writer, type DecodeContext } from "./bytes.js";
import { guard, WireError } from "./errors.js";

export interface IkeHeader {
  /** IKE SPIs as unsigned 64-bit integers (network byte order on the wire); usable as Map keys. */
  spiI: bigint;
  spiR: bigint;
  /** Type of the first payload (0 = none). */
  nextPayload: number;
  /** Received minor version, for logging only: RFC 7296 §3.1 says to ignore it; we always send 0. */
  minorVersion: number;
  exchangeType: number;
  /** I flag: sent by the original initiator of the IKE SA. */
  initiator: boolean;
  /** R flag: this message is a response. */
  response: boolean;
  /** V flag: the sender can speak a higher major version. */
  higherVersion: boolean;
  messageId: number;
  /** Total message length in bytes, header included. */
  length: number;
}

/** What a sender chooses; next payload and length are computed by the message encoder. */
export interface HeaderFields {
  spiI: bigint;
  spiR: bigint;
  exchangeType: number;
  initiator: boolean;
  response: boolean;
  higherVersion?: boolean;
  messageId: number;
}

const DEFINED_FLAGS = HeaderFlag.INITIATOR | HeaderFlag.VERSION | HeaderFlag.RESPONSE;

/**
 * Decode and check the header of an IKE datagram (Non-ESP marker already removed): version 2.x and a length
 * field equal to the datagram length. The I/O layer can use it alone to route a datagram before a full decode.
 * Errors here carry no notify (nothing about the sender can be trusted yet), except INVALID_MAJOR_VERSION for a
 * higher major version (RFC 7296 §2.5).
 */
export function decodeHeader(bytes: Uint8Array, options: { strictReserved?: boolean } = {}): IkeHeader {
  const datagram = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return guard(() => readHeader(datagram, { strictReserved: options.strictReserved ?? false }));
}

/** decodeHeader for the message decoder, which already holds a Buffer and a context. */
export function readHeader(datagram: Buffer, ctx: DecodeContext): IkeHeader {
  const r = new Reader(datagram, "IKE header");
  if (datagram.length < IKE_HEADER_LENGTH) {
    throw new WireError("TRUNCATED", `datagram of ${datagram.length} bytes is shorter than the IKE header`, {
      notify: null,
    });
  }
  const spiI = r.u64("initiator SPI");
  const spiR = r.u64("responder SPI");
  const nextPayload = r.u8("next payload");
  const version = r.u8("version");
  const exchangeType = r.u8("exchange type");
  const flags = r.u8("flags");
  const messageId = r.u32("message ID");
  const length = r.u32("length");

  const major = version >> 4;
  if (major !== IKE_MAJOR_VERSION) {
    throw new WireError("BAD_VERSION", `major version ${major}`, {
      notify: major > IKE_MAJOR_VERSION ? NotifyType.INVALID_MAJOR_VERSION : null,
    });
  }
  r.reserved(ctx, flags & ~DEFINED_FLAGS, "flags");
  if (length < IKE_HEADER_LENGTH) {
    throw new WireError("BAD_LENGTH", `header length ${length} is below ${IKE_HEADER_LENGTH}`, { notify: null });
  }
  if (length > datagram.length) {
    throw new WireError("TRUNCATED", `header length ${length} exceeds datagram of ${datagram.length}`, {
      notify: null,
    });
  }
  if (length < datagram.length) {
    throw new WireError("TRAILING_DATA", `header length ${length} is less than datagram of ${datagram.length}`, {
      notify: null,
    });
  }
  return {
    spiI,
    spiR,
    nextPayload,
    minorVersion: version & 0x0f,
    exchangeType,
    initiator: (flags & HeaderFlag.INITIATOR) !== 0,
    response: (flags & HeaderFlag.RESPONSE) !== 0,
    higherVersion: (flags & HeaderFlag.VERSION) !== 0,
    messageId,
    length,
  };
}

export function encodeHeader(h: HeaderFields, nextPayload: number, length: number): Buffer {
  const flags =
    (h.initiator ? HeaderFlag.INITIATOR : 0) |
    (h.response ? HeaderFlag.RESPONSE : 0) |
    (h.higherVersion ? HeaderFlag.VERSION : 0);
  return new Writer()
    .u64(h.spiI, "initiator SPI")
    .u64(h.spiR, "responder SPI")
    .u8(nextPayload, "next payload")
    .u8(IKE_MAJOR_VERSION << 4, "version")
    .u8(h.exchangeType, "exchange type")
    .u8(flags, "flags")
    .u32(h.messageId, "message ID")
    .u32(length, "length")
    .toBuffer();
}
