// IKEv2 cryptographic primitives and key derivation (RFC 7296, RFC 4868, RFC 5282, RFC 5903, RFC 8031).
export * from "./errors.js";
export * from "./prf.js";
export * from "./integ.js";
export * from "./encr.js";
export * from "./dh.js";
export * from "./keys.js";
export * from "./sk.js";
export * from "./transforms.js";
