// Identification payloads IDi/IDr (RFC 7296 §3.5).
import { IdType, PayloadType } from "../constants.js";
import { ensureNoProblem, Reader, Writer, type DecodeContext } from "../bytes.js";
import { WireError } from "../errors.js";

export type IdPayloadType = typeof PayloadType.IDi | typeof PayloadType.IDr;

export interface IdPayload<T extends IdPayloadType = IdPayloadType> {
  type: T;
  idType: number;
  /** Raw identification data: 4/16 address bytes, an FQDN or RFC 822 string, DER, or an opaque key ID. */
  data: Buffer;
}

function idProblem(idType: number, length: number): string | undefined {
  if (idType === IdType.ID_IPV4_ADDR && length !== 4) return `ID_IPV4_ADDR of ${length} bytes`;
  if (idType === IdType.ID_IPV6_ADDR && length !== 16) return `ID_IPV6_ADDR of ${length} bytes`;
  return undefined;
}

export function decodeId<T extends IdPayloadType>(type: T, r: Reader, ctx: DecodeContext): IdPayload<T> {
  const idType = r.u8("ID type");
  r.reserved(ctx, r.u8("reserved") | r.u16("reserved"), "reserved");
  const data = r.rest("identification data");
  const problem = idProblem(idType, data.length);
  if (problem) throw new WireError("BAD_ID", problem);
  return { type, idType, data };
}

export function encodeId(p: IdPayload): Buffer {
  ensureNoProblem(idProblem(p.idType, p.data.length));
  return new Writer().u8(p.idType, "ID type").u8(0, "reserved").u16(0, "reserved").bytes(p.data).toBuffer();
}
