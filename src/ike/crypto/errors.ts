// Errors raised by the IKEv2 crypto layer. Each carries a stable `code` so that the exchange code can
// map a failure to the right notification (INVALID_KE_PAYLOAD, INVALID_SYNTAX, NO_PROPOSAL_CHOSEN, ...)
// without parsing messages.

export type KeyExchangeErrorCode =
  | "INVALID_LENGTH" // Key Exchange Data of the wrong size for the group
  | "INVALID_POINT" // not on the curve, or a coordinate out of range
  | "IDENTITY_POINT" // the point at infinity (all-zero encoding)
  | "INVALID_PRIVATE_KEY"
  | "ZERO_SHARED_SECRET"; // X25519 low-order peer value (RFC 7748 §6.1, RFC 8031)

/** Problems with a received SK payload body. */
export type SkPayloadErrorCode =
  | "TOO_SHORT" // body cannot hold IV, one block / pad length byte and ICV
  | "BAD_LENGTH" // CBC ciphertext is not a whole number of blocks
  | "AUTH_FAILED" // ICV mismatch (integrity checksum or AEAD tag)
  | "BAD_PADDING"; // pad length larger than the decrypted data

export type ProposalErrorCode =
  | "UNKNOWN_KEYWORD"
  | "UNSUPPORTED_TRANSFORM"
  | "MISSING_KEY_LENGTH"
  | "INVALID_PROPOSAL";

/** Misuse by the caller (wrong key or IV size, inconsistent suite), never caused by peer data. */
export type CryptoErrorCode =
  | "INVALID_KEY_LENGTH"
  | "INVALID_IV_LENGTH"
  | "INVALID_SUITE" // AEAD with an integrity algorithm, or IKE CBC without one
  | "PRF_PLUS_TOO_LONG";

export class IkeCryptoError extends Error {
  constructor(
    readonly code: CryptoErrorCode | KeyExchangeErrorCode | SkPayloadErrorCode | ProposalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class KeyExchangeError extends IkeCryptoError {
  declare readonly code: KeyExchangeErrorCode;
  constructor(code: KeyExchangeErrorCode, message: string) {
    super(code, message);
  }
}

export class SkPayloadError extends IkeCryptoError {
  declare readonly code: SkPayloadErrorCode;
  constructor(code: SkPayloadErrorCode, message: string) {
    super(code, message);
  }
}

export class ProposalError extends IkeCryptoError {
  declare readonly code: ProposalErrorCode;
  constructor(
    code: ProposalErrorCode,
    message: string,
    /** The offending keyword, for UNKNOWN_KEYWORD. */
    readonly keyword?: string,
  ) {
    super(code, message);
  }
}
