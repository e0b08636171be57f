// Per-packet status codes. A non-zero code below NDROP is a drop reason and also the index of
// the counter it increments (per SA, or global when no SA could be identified).
export const ST_OK: u32 = 0;
export const DROP_UNKNOWN_SPI: u32 = 1;   // no inbound SA with this SPI (global counter)
export const DROP_REPLAY: u32 = 2;        // sequence number already seen
export const DROP_REPLAY_OLD: u32 = 3;    // sequence number left of the anti-replay window
export const DROP_BAD_SEQ: u32 = 4;       // sequence number 0, never valid
export const DROP_AUTH_FAILED: u32 = 5;   // ICV did not verify
export const DROP_BAD_PADDING: u32 = 6;   // pad length too long or padding bytes not 1,2,3,...
export const DROP_BAD_NEXT_HEADER: u32 = 7; // next header not allowed for the SA's mode
export const DROP_MALFORMED: u32 = 8;     // inner packet fails sanity checks / misaligned ciphertext
export const DROP_TOO_SHORT: u32 = 9;     // truncated packet
export const DROP_SEQ_EXHAUSTED: u32 = 10; // outbound counter would wrap: the SA must be rekeyed
export const DROP_EXPIRED: u32 = 11;      // hard lifetime (packets/bytes) reached
export const DROP_POLICY: u32 = 12;       // inner packet does not match the SA's traffic selectors
export const DROP_DUMMY: u32 = 13;        // next header 59: TFC dummy packet, dropped silently
export const DROP_BAD_SA: u32 = 14;       // handle not an active SA of the right direction (global counter)
export const DROP_NO_ROOM: u32 = 15;      // packet too large for its buffer slot / ESP's 16-bit limits
export const DROP_UNSUPPORTED: u32 = 16;  // e.g. IPv6 extension headers in transport mode
export const NDROP: u32 = 17;
/** Crypto left to a JavaScript backend (node:crypto / noble); not a drop. */
export const ST_NEED_CRYPTO: u32 = 0x100;
/** Set by a JavaScript backend after it verified and decrypted a packet, before espDecapFinish. */
export const ST_CRYPTO_OK: u32 = 0x101;
/** Set by a JavaScript backend when the ICV did not verify, before espDecapFinish. */
export const ST_CRYPTO_FAILED: u32 = 0x102;
/** Outbound SPD (spd.ts): a BYPASS policy matched; the packet is left for the caller, unchanged. */
export const ST_BYPASS: u32 = 0x200;
/** Outbound SPD: a TRAP policy without an SA matched; the caller queues the packet and asks for an SA. */
export const ST_TRAP: u32 = 0x201;
