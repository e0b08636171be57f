// Vendor ID payload (RFC 7296 §3.12): opaque bytes.
import { PayloadType } from "../constants.js";
import type { Reader } from "../bytes.js";

export interface VendorIdPayload {
  type: typeof PayloadType.VENDOR_ID;
  data: Buffer;
}

export function decodeVendorId(r: Reader): VendorIdPayload {
  return { type: PayloadType.VENDOR_ID, data: r.rest("vendor ID") };
}

export function encodeVendorId(p: VendorIdPayload): Buffer {
  return p.data;
}
