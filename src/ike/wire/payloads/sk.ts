// Encrypted (SK, RFC 7296 §3.14) and Encrypted Fragment (SKF, RFC 7383 §2.5) payloads, kept as sealed bytes.
// Opening and sealing them is protect.ts; the cipher itself belongs to the key-derivation side.
import { PayloadType } from "../constants.js";
import { ensure, ensureNoProblem, Reader, Writer } from "../bytes.js";
import { WireError } from "../errors.js";

export interface SkPayload {
  type: typeof PayloadType.SK;
  /** Type of the first payload inside (the SK generic header's Next Payload field). */
  firstPayload: number;
  /** IV, ciphertext (inner payloads, padding, pad length) and ICV. */
  body: Buffer;
}

export interface SkfPayload {
  type: typeof PayloadType.SKF;
  /** First inner payload type; only fragment 1 carries it, later fragments have 0 (RFC 7383 §2.5). */
  firstPayload: number;
  /** 1-based. */
  fragmentNumber: number;
  totalFragments: number;
  body: Buffer;
}

function fragmentProblem(number: number, total: number): string | undefined {
  return number < 1 || number > total ? `fragment ${number} of ${total}` : undefined;
}

export function decodeSk(firstPayload: number, r: Reader): SkPayload {
  return { type: PayloadType.SK, firstPayload, body: r.rest("encrypted body") };
}

export function decodeSkf(firstPayload: number, r: Reader): SkfPayload {
  const fragmentNumber = r.u16("fragment number");
  const totalFragments = r.u16("total fragments");
  const problem = fragmentProblem(fragmentNumber, totalFragments);
  if (problem) throw new WireError("BAD_FRAGMENT", problem);
  return {
    type: PayloadType.SKF,
    // RFC 7383 says later fragments MUST send 0; like strongSwan we ignore what they carry instead of failing.
    firstPayload: fragmentNumber === 1 ? firstPayload : PayloadType.NONE,
    fragmentNumber,
    totalFragments,
    body: r.rest("encrypted body"),
  };
}

export function encodeSk(p: SkPayload): Buffer {
  return p.body;
}

export function encodeSkf(p: SkfPayload): Buffer {
  ensureNoProblem(fragmentProblem(p.fragmentNumber, p.totalFragments));
  ensure(p.fragmentNumber === 1 || p.firstPayload === PayloadType.NONE, "only fragment 1 names the first payload");
  return new Writer()
    .u16(p.fragmentNumber, "fragment number")
    .u16(p.totalFragments, "total fragments")
    .bytes(p.body)
    .toBuffer();
}
