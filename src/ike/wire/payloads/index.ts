// The payload union and the per-type body codecs (generic payload headers are chain.ts's business).
import { PayloadType } from "../constants.js";
import type { DecodeContext, Reader } from "../bytes.js";
import { decodeAuth, encodeAuth, type AuthPayload } from "./auth.js";
import { decodeCert, decodeCertReq, encodeCert, type CertPayload, type CertReqPayload } from "./cert.js";
import { decodeCp, encodeCp, type CpPayload } from "./cp.js";
import { decodeDelete, encodeDelete, type DeletePayload } from "./delete.js";
import { decodeEap, encodeEap, type EapPayload } from "./eap.js";
import { decodeId, encodeId, type IdPayload } from "./id.js";
import { decodeKe, encodeKe, type KePayload } from "./ke.js";
import { decodeNonce, encodeNonce, type NoncePayload } from "./nonce.js";
import { decodeNotify, encodeNotify, type NotifyPayload } from "./notify.js";
import { decodeSa, encodeSa, type SaPayload } from "./sa.js";
import { decodeSk, decodeSkf, encodeSk, encodeSkf, type SkfPayload, type SkPayload } from "./sk.js";
import { decodeTs, encodeTs, type TsPayload } from "./ts.js";
import { decodeVendorId, encodeVendorId, type VendorIdPayload } from "./vendor.js";

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload<typeof PayloadType.IDi>
  | IdPayload<typeof PayloadType.IDr>
  | CertPayload
  | CertReqPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload<typeof PayloadType.TSi>
  | TsPayload<typeof PayloadType.TSr>
  | SkPayload
  | SkfPayload
  | CpPayload
  | EapPayload;

/** Payload types this codec understands; anything else is "unknown" for the critical-bit rule. */
export type KnownPayloadType = Payload["type"];
export type PayloadOfType<T extends KnownPayloadType> = Extract<Payload, { type: T }>;

const KNOWN: ReadonlySet<number> = new Set<KnownPayloadType>([
  PayloadType.SA,
  PayloadType.KE,
  PayloadType.IDi,
  PayloadType.IDr,
  PayloadType.CERT,
  PayloadType.CERTREQ,
  PayloadType.AUTH,
  PayloadType.NONCE,
  PayloadType.NOTIFY,
  PayloadType.DELETE,
  PayloadType.VENDOR_ID,
  PayloadType.TSi,
  PayloadType.TSr,
  PayloadType.SK,
  PayloadType.SKF,
  PayloadType.CP,
  PayloadType.EAP,
]);

export function isKnownPayloadType(type: number): type is KnownPayloadType {
  return KNOWN.has(type);
}

/** Decode one payload body; `next` is its generic header's Next Payload (the first inner type for SK/SKF). */
export function decodePayloadBody(type: KnownPayloadType, next: number, r: Reader, ctx: DecodeContext): Payload {
  let p: Payload;
  switch (type) {
    case PayloadType.SA: p = decodeSa(r, ctx); break;
    case PayloadType.KE: p = decodeKe(r, ctx); break;
    case PayloadType.IDi:
    case PayloadType.IDr: p = decodeId(type, r, ctx); break;
    case PayloadType.CERT: p = decodeCert(r); break;
    case PayloadType.CERTREQ: p = decodeCertReq(r); break;
    case PayloadType.AUTH: p = decodeAuth(r, ctx); break;
    case PayloadType.NONCE: p = decodeNonce(r); break;
    case PayloadType.NOTIFY: p = decodeNotify(r); break;
    case PayloadType.DELETE: p = decodeDelete(r); break;
    case PayloadType.VENDOR_ID: p = decodeVendorId(r); break;
    case PayloadType.TSi:
    case PayloadType.TSr: p = decodeTs(type, r, ctx); break;
    case PayloadType.SK: p = decodeSk(next, r); break;
    case PayloadType.SKF: p = decodeSkf(next, r); break;
    case PayloadType.CP: p = decodeCp(r, ctx); break;
    case PayloadType.EAP: p = decodeEap(r); break;
  }
  r.done();
  return p;
}

export function encodePayloadBody(p: Payload): Buffer {
  switch (p.type) {
    case PayloadType.SA: return encodeSa(p);
    case PayloadType.KE: return encodeKe(p);
    case PayloadType.IDi:
    case PayloadType.IDr: return encodeId(p);
    case PayloadType.CERT:
    case PayloadType.CERTREQ: return encodeCert(p);
    case PayloadType.AUTH: return encodeAuth(p);
    case PayloadType.NONCE: return encodeNonce(p);
    case PayloadType.NOTIFY: return encodeNotify(p);
    case PayloadType.DELETE: return encodeDelete(p);
    case PayloadType.VENDOR_ID: return encodeVendorId(p);
    case PayloadType.TSi:
    case PayloadType.TSr: return encodeTs(p);
    case PayloadType.SK: return encodeSk(p);
    case PayloadType.SKF: return encodeSkf(p);
    case PayloadType.CP: return encodeCp(p);
    case PayloadType.EAP: return encodeEap(p);
  }
}

export type { AuthPayload, CertPayload, CertReqPayload, CpPayload, DeletePayload, EapPayload, IdPayload, KePayload };
export type { NoncePayload, NotifyPayload, SaPayload, SkfPayload, SkPayload, TsPayload, VendorIdPayload };
