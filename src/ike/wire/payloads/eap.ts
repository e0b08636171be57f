// EAP payload (RFC 7296 §3.16): one EAP message (RFC 3748), whose own length must match the payload.
import { PayloadType } from "../constants.js";
import { ensureNoProblem, Reader } from "../bytes.js";
import { WireError } from "../errors.js";

export interface EapPayload {
  type: typeof PayloadType.EAP;
  /** The whole EAP message: code, identifier, length, then type and type data for requests/responses. */
  message: Buffer;
}

const EAP_REQUEST = 1;
const EAP_RESPONSE = 2;
const EAP_SUCCESS = 3;
const EAP_FAILURE = 4;

function eapProblem(m: Buffer): string | undefined {
  if (m.length < 4) return `EAP message of ${m.length} bytes`;
  const length = m.readUInt16BE(2);
  if (length !== m.length) return `EAP length ${length} in a ${m.length}-byte payload`;
  switch (m[0]) {
    case EAP_REQUEST:
    case EAP_RESPONSE:
      return m.length > 4 ? undefined : "EAP request/response without a type";
    case EAP_SUCCESS:
    case EAP_FAILURE:
      return m.length === 4 ? undefined : "EAP success/failure with data";
    default:
      return `EAP code ${m[0]}`;
  }
}

export function decodeEap(r: Reader): EapPayload {
  const message = r.rest("EAP message");
  const problem = eapProblem(message);
  if (problem) throw new WireError("BAD_EAP", problem);
  return { type: PayloadType.EAP, message };
}

export function encodeEap(p: EapPayload): Buffer {
  ensureNoProblem(eapProblem(p.message));
  return p.message;
}
