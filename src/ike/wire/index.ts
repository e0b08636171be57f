// Public surface of the IKEv2 wire codec.
export * from "./constants.js";
export { WireError, type WireErrorCode } from "./errors.js";
export { decodeHeader, encodeHeader, type HeaderFields, type IkeHeader } from "./header.js";
export type { PayloadChain, SkippedPayload } from "./chain.js";
export {
  DEFAULT_MAX_PAYLOADS,
  decodeMessage,
  encodeMessage,
  openEncrypted,
  type DecodeOptions,
  type IkeMessage,
  type OutgoingMessage,
} from "./message.js";
export { encodeFragmented, openFragment, reassemble, type OpenedFragment } from "./fragments.js";
export type { SkDecrypter, SkEncrypter } from "./protect.js";
export {
  addNonEspMarker,
  classifyPort4500,
  NON_ESP_MARKER,
  stripNonEspMarker,
  type Port4500Datagram,
} from "./nat-t.js";
export { findErrorNotify, findNotifies, findNotify, findPayload, findPayloads, hasNotify } from "./lookup.js";
export { isKnownPayloadType, type KnownPayloadType, type Payload, type PayloadOfType } from "./payloads/index.js";
export type { AuthPayload } from "./payloads/auth.js";
export type { CertPayload, CertReqPayload } from "./payloads/cert.js";
export type { CpAttribute, CpPayload } from "./payloads/cp.js";
export type { DeletePayload } from "./payloads/delete.js";
export type { EapPayload } from "./payloads/eap.js";
export type { IdPayload } from "./payloads/id.js";
export type { KePayload } from "./payloads/ke.js";
export { NONCE_MAX, NONCE_MIN, type NoncePayload } from "./payloads/nonce.js";
export { decodeU16List, encodeU16List, notify, type NotifyPayload } from "./payloads/notify.js";
export type { Proposal, SaPayload, Transform, TransformAttribute } from "./payloads/sa.js";
export type { SkfPayload, SkPayload } from "./payloads/sk.js";
export type { AddressRangeSelector, SecLabelSelector, TrafficSelector, TsPayload } from "./payloads/ts.js";
export type { VendorIdPayload } from "./payloads/vendor.js";
