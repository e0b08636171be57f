// Notify payload (RFC 7296 §3.10), with data-size rules for the types whose data has a fixed shape.
import { NotifyType, PayloadType, ProtocolId } from "../constants.js";
import { ensureNoProblem, Reader, Writer } from "../bytes.js";
import { WireError } from "../errors.js";

export interface NotifyPayload {
  type: typeof PayloadType.NOTIFY;
  /** ProtocolId; NONE (0) when the notification is not about a specific SA. */
  protocol: number;
  /** Empty, or the 4-byte AH/ESP SPI (e.g. REKEY_SA), or an 8-byte IKE SPI. */
  spi: Buffer;
  notifyType: number;
  data: Buffer;
}

const SHA1_LENGTH = 20;

function notifyProblem(n: Pick<NotifyPayload, "protocol" | "spi" | "notifyType" | "data">): string | undefined {
  if (n.protocol > ProtocolId.ESP) return `protocol ID ${n.protocol}`;
  const spiSize = n.spi.length;
  // RFC 7296 §3.10: protocol is ignored when the SPI is empty; otherwise the SPI must fit the protocol.
  const spiOk =
    spiSize === 0 ||
    (spiSize === 4 && (n.protocol === ProtocolId.AH || n.protocol === ProtocolId.ESP)) ||
    (spiSize === 8 && n.protocol === ProtocolId.IKE);
  if (!spiOk) return `SPI size ${spiSize} for protocol ${n.protocol}`;
  const length = n.data.length;
  switch (n.notifyType) {
    case NotifyType.INVALID_SYNTAX:
    case NotifyType.INVALID_MAJOR_VERSION:
    case NotifyType.NO_PROPOSAL_CHOSEN:
      return length === 0 ? undefined : `${length} data bytes where none are defined`;
    case NotifyType.INVALID_KE_PAYLOAD:
      return length === 2 ? undefined : `INVALID_KE_PAYLOAD with ${length} data bytes (must be 2)`;
    case NotifyType.NAT_DETECTION_SOURCE_IP:
    case NotifyType.NAT_DETECTION_DESTINATION_IP:
      return length === SHA1_LENGTH ? undefined : `NAT detection hash of ${length} bytes (must be 20)`;
    case NotifyType.COOKIE:
      return length >= 1 && length <= 64 ? undefined : `COOKIE of ${length} bytes (must be 1..64)`;
    case NotifyType.SIGNATURE_HASH_ALGORITHMS:
      return length % 2 === 0 ? undefined : `SIGNATURE_HASH_ALGORITHMS of odd length ${length}`;
    case NotifyType.ADDITIONAL_IP4_ADDRESS:
      return length === 4 ? undefined : `ADDITIONAL_IP4_ADDRESS of ${length} bytes`;
    case NotifyType.ADDITIONAL_IP6_ADDRESS:
      return length === 16 ? undefined : `ADDITIONAL_IP6_ADDRESS of ${length} bytes`;
    case NotifyType.AUTH_LIFETIME:
      return length === 4 ? undefined : `AUTH_LIFETIME of ${length} bytes`;
    case NotifyType.IPCOMP_SUPPORTED:
      return length === 3 ? undefined : `IPCOMP_SUPPORTED of ${length} bytes`;
    case NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD:
      return length === 1 ? undefined : `UNSUPPORTED_CRITICAL_PAYLOAD of ${length} bytes (must be 1)`;
    default:
      return undefined;
  }
}

export function decodeNotify(r: Reader): NotifyPayload {
  const protocol = r.u8("protocol ID");
  const spiSize = r.u8("SPI size");
  const notifyType = r.u16("notify message type");
  const spi = r.bytes(spiSize, "SPI");
  const n: NotifyPayload = { type: PayloadType.NOTIFY, protocol, spi, notifyType, data: r.rest("notification data") };
  const problem = notifyProblem(n);
  if (problem) throw new WireError("BAD_NOTIFY", problem);
  return n;
}

export function encodeNotify(n: NotifyPayload): Buffer {
  ensureNoProblem(notifyProblem(n));
  return new Writer()
    .u8(n.protocol, "protocol ID")
    .u8(n.spi.length, "SPI size")
    .u16(n.notifyType, "notify message type")
    .bytes(n.spi)
    .bytes(n.data)
    .toBuffer();
}

/** A notification not about a specific SA (protocol NONE, no SPI). */
export function notify(notifyType: number, data: Uint8Array = Buffer.alloc(0)): NotifyPayload {
  const spi = Buffer.alloc(0);
  return { type: PayloadType.NOTIFY, protocol: ProtocolId.NONE, spi, notifyType, data: Buffer.from(data) };
}

/** Data of SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4): a list of 16-bit hash algorithm identifiers. */
export function decodeU16List(data: Buffer): number[] {
  if (data.length % 2 !== 0) throw new WireError("BAD_NOTIFY", `u16 list of odd length ${data.length}`);
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) out.push(data.readUInt16BE(i));
  return out;
}

export function encodeU16List(values: readonly number[]): Buffer {
  const w = new Writer();
  for (const v of values) w.u16(v, "list entry");
  return w.toBuffer();
}
