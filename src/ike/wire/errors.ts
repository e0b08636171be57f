// The single exception type of the IKEv2 wire codec. Decoders throw nothing else on any input.
import { NotifyType } from "./constants.js";

export type WireErrorCode =
  /** A structure runs past the end of the datagram or of its enclosing payload. */
  | "TRUNCATED"
  /** A length field is impossible (below its minimum, or disagreeing with the bytes it describes). */
  | "BAD_LENGTH"
  /** Bytes left over after a structure that declared itself complete. */
  | "TRAILING_DATA"
  /** IKE major version is not 2. */
  | "BAD_VERSION"
  /** More payloads than DecodeOptions.maxPayloads (bounded so hostile input cannot blow up work). */
  | "TOO_MANY_PAYLOADS"
  /** A payload type we do not understand, with the critical bit set (RFC 7296 §2.5). */
  | "UNSUPPORTED_CRITICAL_PAYLOAD"
  /** A declared count (proposals, transforms, selectors, SPIs, fragments) disagrees with the contents. */
  | "BAD_COUNT"
  /** A substructure's "last"/"more" marker is not the defined value or disagrees with the remaining bytes. */
  | "BAD_SUBSTRUCTURE"
  | "BAD_PROPOSAL_NUMBER"
  /** Protocol ID outside IKE/AH/ESP (or NONE where allowed). */
  | "BAD_PROTOCOL"
  /** SPI size not allowed for the protocol (IKE 0 or 8, AH/ESP 4). */
  | "BAD_SPI_SIZE"
  /** Nonce data outside 16..256 bytes (RFC 7296 §3.9). */
  | "BAD_NONCE_LENGTH"
  /** ID data whose size contradicts its ID type. */
  | "BAD_ID"
  /** Transform or configuration attribute malformed. */
  | "BAD_ATTRIBUTE"
  | "BAD_TRAFFIC_SELECTOR"
  /** Notification data of a size its type does not allow. */
  | "BAD_NOTIFY"
  | "BAD_EAP"
  /** SKF fragment number/total invalid, or a fragment set that does not reassemble. */
  | "BAD_FRAGMENT"
  /** SK/SKF not last, nested inside an encrypted payload, or missing where required. */
  | "MISPLACED_PAYLOAD"
  /** A reserved field is not zero (only with DecodeOptions.strictReserved). */
  | "RESERVED_NOT_ZERO"
  /** The SK decrypter refused the body (length, ICV or padding). The message must be dropped silently. */
  | "DECRYPT_FAILED"
  /** Port 4500 datagram without the 4-byte Non-ESP marker (it is ESP or a NAT keepalive). */
  | "NO_NON_ESP_MARKER"
  /** Encoding was asked to produce something the wire format cannot carry. */
  | "BAD_VALUE"
  /** A codec bug, turned into a WireError at the API boundary so that no other exception type escapes. */
  | "INTERNAL";

export interface WireErrorOptions {
  /** Overrides the notify derived from the code; `null` means "drop silently". */
  notify?: number | null;
  notifyData?: Buffer;
  cause?: unknown;
}

const SILENT: ReadonlySet<WireErrorCode> = new Set<WireErrorCode>([
  "DECRYPT_FAILED",
  "NO_NON_ESP_MARKER",
  "BAD_VALUE",
  "INTERNAL",
]);

export class WireError extends Error {
  override readonly name = "WireError";
  readonly code: WireErrorCode;
  /**
   * Notify message type RFC 7296 says to answer with, or undefined if the message is to be dropped.
   * INVALID_SYNTAX may only be sent once the message's ICV has been verified (RFC 7296 §3.10.1); the
   * exchange layer decides that, this codec only reports what the answer would be.
   */
  readonly notify: number | undefined;
  /** Notification data for `notify` (UNSUPPORTED_CRITICAL_PAYLOAD carries the one-octet payload type). */
  readonly notifyData: Buffer | undefined;

  constructor(code: WireErrorCode, message: string, options: WireErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.notify === null) this.notify = undefined;
    else if (options.notify !== undefined) this.notify = options.notify;
    else if (code === "UNSUPPORTED_CRITICAL_PAYLOAD") this.notify = NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD;
    else this.notify = SILENT.has(code) ? undefined : NotifyType.INVALID_SYNTAX;
    this.notifyData = options.notifyData;
  }
}

/** Run `fn`; any non-WireError escaping it is a codec bug, reported as WireError("INTERNAL") rather than leaked. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError("INTERNAL", `unexpected ${String(err)}`, { cause: err });
  }
}
