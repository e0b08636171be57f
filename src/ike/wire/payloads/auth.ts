// Authentication payload (RFC 7296 §3.8).
import { PayloadType } from "../constants.js";
import { Reader, Writer, type DecodeContext } from "../bytes.js";

export interface AuthPayload {
  type: typeof PayloadType.AUTH;
  /** AuthMethod. */
  method: number;
  data: Buffer;
}

export function decodeAuth(r: Reader, ctx: DecodeContext): AuthPayload {
  const method = r.u8("auth method");
  r.reserved(ctx, r.u8("reserved") | r.u16("reserved"), "reserved");
  return { type: PayloadType.AUTH, method, data: r.rest("authentication data") };
}

export function encodeAuth(p: AuthPayload): Buffer {
  return new Writer().u8(p.method, "auth method").u8(0, "reserved").u16(0, "reserved").bytes(p.data).toBuffer();
}
