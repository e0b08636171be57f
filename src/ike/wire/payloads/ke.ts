// Key Exchange payload (RFC 7296 §3.4). The data length per group is checked by the key exchange, not here.
import { PayloadType } from "../constants.js";
import { Reader, Writer, type DecodeContext } from "../bytes.js";

export interface KePayload {
  type: typeof PayloadType.KE;
  /** Key exchange method (DhId). */
  group: number;
  data: Buffer;
}

export function decodeKe(r: Reader, ctx: DecodeContext): KePayload {
  const group = r.u16("DH group");
  r.reserved(ctx, r.u16("reserved"), "reserved");
  return { type: PayloadType.KE, group, data: r.rest("key exchange data") };
}

export function encodeKe(p: KePayload): Buffer {
  return new Writer().u16(p.group, "DH group").u16(0, "reserved").bytes(p.data).toBuffer();
}
