// IKEv2 registry values (RFC 7296 §3 and the IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registry).
// Each table is a plain `as const` object so its values are literal types (usable as discriminants) and a
// same-named type is the union of its values. Wire fields stay `number`: peers send values we do not know.

/** IKE header: the only version this codec speaks (major 2, minor 0). */
export const IKE_MAJOR_VERSION = 2;
export const IKE_HEADER_LENGTH = 28;
export const GENERIC_PAYLOAD_HEADER_LENGTH = 4;

/** IKE header flag bits (RFC 7296 §3.1). Other bits are reserved. */
export const HeaderFlag = {
  INITIATOR: 0x08,
  VERSION: 0x10,
  RESPONSE: 0x20,
} as const;

export const ExchangeType = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
  IKE_SESSION_RESUME: 38, // RFC 5723
  GSA_AUTH: 39, // G-IKEv2
  GSA_REGISTRATION: 40,
  GSA_REKEY: 41,
  IKE_INTERMEDIATE: 43, // RFC 9242
  IKE_FOLLOWUP_KE: 44, // RFC 9370
} as const;
export type ExchangeType = (typeof ExchangeType)[keyof typeof ExchangeType];

export const PayloadType = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  GSPM: 49, // RFC 6467
  IDg: 50, // G-IKEv2
  GSA: 51,
  KD: 52,
  SKF: 53, // RFC 7383
  PS: 54, // RFC 8019
} as const;
export type PayloadType = (typeof PayloadType)[keyof typeof PayloadType];

/** Protocol IDs of proposals, notifications and deletes (RFC 7296 §3.3.1). 0 = none (notify only). */
export const ProtocolId = {
  NONE: 0,
  IKE: 1,
  AH: 2,
  ESP: 3,
} as const;
export type ProtocolId = (typeof ProtocolId)[keyof typeof ProtocolId];

/** Transform types (RFC 7296 §3.3.2; type 4 is "Key Exchange Method" and 6..12 exist since RFC 9370). */
export const TransformType = {
  ENCR: 1,
  PRF: 2,
  INTEG: 3,
  DH: 4,
  ESN: 5,
  ADDKE1: 6,
  ADDKE2: 7,
  ADDKE3: 8,
  ADDKE4: 9,
  ADDKE5: 10,
  ADDKE6: 11,
  ADDKE7: 12,
} as const;
export type TransformType = (typeof TransformType)[keyof typeof TransformType];

export const EncrId = {
  ENCR_DES_IV64: 1,
  ENCR_DES: 2,
  ENCR_3DES: 3,
  ENCR_RC5: 4,
  ENCR_IDEA: 5,
  ENCR_CAST: 6,
  ENCR_BLOWFISH: 7,
  ENCR_3IDEA: 8,
  ENCR_DES_IV32: 9,
  ENCR_NULL: 11,
  ENCR_AES_CBC: 12,
  ENCR_AES_CTR: 13,
  ENCR_AES_CCM_8: 14,
  ENCR_AES_CCM_12: 15,
  ENCR_AES_CCM_16: 16,
  ENCR_AES_GCM_8: 18,
  ENCR_AES_GCM_12: 19,
  ENCR_AES_GCM_16: 20,
  ENCR_NULL_AUTH_AES_GMAC: 21,
  ENCR_CAMELLIA_CBC: 23,
  ENCR_CAMELLIA_CTR: 24,
  ENCR_CAMELLIA_CCM_8: 25,
  ENCR_CAMELLIA_CCM_12: 26,
  ENCR_CAMELLIA_CCM_16: 27,
  ENCR_CHACHA20_POLY1305: 28, // RFC 7634
} as const;

export const PrfId = {
  PRF_HMAC_MD5: 1,
  PRF_HMAC_SHA1: 2,
  PRF_HMAC_TIGER: 3,
  PRF_AES128_XCBC: 4,
  PRF_HMAC_SHA2_256: 5,
  PRF_HMAC_SHA2_384: 6,
  PRF_HMAC_SHA2_512: 7,
  PRF_AES128_CMAC: 8,
} as const;

export const IntegId = {
  NONE: 0,
  AUTH_HMAC_MD5_96: 1,
  AUTH_HMAC_SHA1_96: 2,
  AUTH_DES_MAC: 3,
  AUTH_KPDK_MD5: 4,
  AUTH_AES_XCBC_96: 5,
  AUTH_HMAC_MD5_128: 6,
  AUTH_HMAC_SHA1_160: 7,
  AUTH_AES_CMAC_96: 8,
  AUTH_AES_128_GMAC: 9,
  AUTH_AES_192_GMAC: 10,
  AUTH_AES_256_GMAC: 11,
  AUTH_HMAC_SHA2_256_128: 12,
  AUTH_HMAC_SHA2_384_192: 13,
  AUTH_HMAC_SHA2_512_256: 14,
} as const;

/** Key exchange methods (transform type 4 and 6..12). */
export const DhId = {
  NONE: 0,
  MODP_768: 1,
  MODP_1024: 2,
  MODP_1536: 5,
  MODP_2048: 14,
  MODP_3072: 15,
  MODP_4096: 16,
  MODP_6144: 17,
  MODP_8192: 18,
  ECP_256: 19,
  ECP_384: 20,
  ECP_521: 21,
  MODP_1024_160: 22,
  MODP_2048_224: 23,
  MODP_2048_256: 24,
  ECP_192: 25,
  ECP_224: 26,
  ECP_224_BP: 27,
  ECP_256_BP: 28,
  ECP_384_BP: 29,
  ECP_512_BP: 30,
  CURVE_25519: 31, // RFC 8031
  CURVE_448: 32,
  GOST3410_2012_256: 33,
  GOST3410_2012_512: 34,
  ML_KEM_512: 35, // ML-KEM in IKEv2 (RFC 9370 framework)
  ML_KEM_768: 36,
  ML_KEM_1024: 37,
} as const;

export const EsnId = {
  NO_ESN: 0,
  ESN: 1,
} as const;

/** Transform attribute types (RFC 7296 §3.3.5). Key Length is the only one defined, always in TV format. */
export const TransformAttributeType = {
  KEY_LENGTH: 14,
} as const;

export const IdType = {
  ID_IPV4_ADDR: 1,
  ID_FQDN: 2,
  ID_RFC822_ADDR: 3,
  ID_IPV6_ADDR: 5,
  ID_DER_ASN1_DN: 9,
  ID_DER_ASN1_GN: 10,
  ID_KEY_ID: 11,
  ID_FC_NAME: 12, // RFC 4595
  ID_NULL: 13, // RFC 7619
} as const;

export const AuthMethod = {
  RSA_SIG: 1,
  PSK: 2, // "Shared Key Message Integrity Code"
  DSS_SIG: 3,
  ECDSA_SHA256_P256: 9, // RFC 4754
  ECDSA_SHA384_P384: 10,
  ECDSA_SHA512_P521: 11,
  GSPAM: 12, // RFC 6467
  NULL: 13, // RFC 7619
  DIGITAL_SIGNATURE: 14, // RFC 7427
} as const;

export const CertEncoding = {
  PKCS7_X509: 1,
  PGP: 2,
  DNS_SIGNED_KEY: 3,
  X509_SIGNATURE: 4,
  KERBEROS_TOKEN: 6,
  CRL: 7,
  ARL: 8,
  SPKI: 9,
  X509_ATTRIBUTE: 10,
  RAW_RSA_KEY: 11,
  HASH_URL_X509_CERT: 12,
  HASH_URL_X509_BUNDLE: 13,
  OCSP_CONTENT: 14, // RFC 4806
  RAW_PUBLIC_KEY: 15, // RFC 7670
} as const;

export const TsType = {
  TS_IPV4_ADDR_RANGE: 7,
  TS_IPV6_ADDR_RANGE: 8,
  TS_FC_ADDR_RANGE: 9, // RFC 4595, not supported by this codec
  TS_SECLABEL: 10, // RFC 9478
} as const;

/** Configuration payload types (RFC 7296 §3.15). */
export const CfgType = {
  CFG_REQUEST: 1,
  CFG_REPLY: 2,
  CFG_SET: 3,
  CFG_ACK: 4,
} as const;

export const CpAttributeType = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
  MIP6_HOME_PREFIX: 16,
  INTERNAL_IP6_LINK: 17,
  INTERNAL_IP6_PREFIX: 18,
  HOME_AGENT_ADDRESS: 19,
  P_CSCF_IP4_ADDRESS: 20,
  P_CSCF_IP6_ADDRESS: 21,
  FTT_KAT: 22,
  EXTERNAL_SOURCE_IP4_NAT_INFO: 23,
  TIMEOUT_PERIOD_FOR_LIVENESS_CHECK: 24,
  INTERNAL_DNS_DOMAIN: 25,
  INTERNAL_DNSSEC_TA: 26,
} as const;

/** Hash algorithms announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §7, RFC 8420). */
export const HashAlgorithm = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  IDENTITY: 5,
} as const;

/** Notify message types: errors are < 16384, status types >= 16384 (RFC 7296 §3.10.1). */
export const NotifyType = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  UNACCEPTABLE_ADDRESSES: 40, // RFC 4555
  UNEXPECTED_NAT_DETECTED: 41,
  USE_ASSIGNED_HoA: 42, // RFC 5026
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  INVALID_GROUP_ID: 45,
  AUTHORIZATION_FAILED: 46,
  STATE_NOT_FOUND: 47, // RFC 9370
  TS_MAX_QUEUE: 48, // RFC 9611

  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396, // RFC 4555
  ADDITIONAL_IP4_ADDRESS: 16397,
  ADDITIONAL_IP6_ADDRESS: 16398,
  NO_ADDITIONAL_ADDRESSES: 16399,
  UPDATE_SA_ADDRESSES: 16400,
  COOKIE2: 16401,
  NO_NATS_ALLOWED: 16402,
  AUTH_LIFETIME: 16403, // RFC 4478
  MULTIPLE_AUTH_SUPPORTED: 16404, // RFC 4739
  ANOTHER_AUTH_FOLLOWS: 16405,
  REDIRECT_SUPPORTED: 16406, // RFC 5685
  REDIRECT: 16407,
  REDIRECTED_FROM: 16408,
  TICKET_LT_OPAQUE: 16409, // RFC 5723
  TICKET_REQUEST: 16410,
  TICKET_ACK: 16411,
  TICKET_NACK: 16412,
  TICKET_OPAQUE: 16413,
  LINK_ID: 16414,
  USE_WESP_MODE: 16415,
  ROHC_SUPPORTED: 16416,
  EAP_ONLY_AUTHENTICATION: 16417, // RFC 5998
  CHILDLESS_IKEV2_SUPPORTED: 16418, // RFC 6023
  QUICK_CRASH_DETECTION: 16419,
  IKEV2_MESSAGE_ID_SYNC_SUPPORTED: 16420, // RFC 6311
  IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED: 16421,
  IKEV2_MESSAGE_ID_SYNC: 16422,
  IPSEC_REPLAY_COUNTER_SYNC: 16423,
  SECURE_PASSWORD_METHODS: 16424,
  PSK_PERSIST: 16425,
  PSK_CONFIRM: 16426,
  ERX_SUPPORTED: 16427,
  IFOM_CAPABILITY: 16428,
  SENDER_REQUEST_ID: 16429,
  IKEV2_FRAGMENTATION_SUPPORTED: 16430, // RFC 7383
  SIGNATURE_HASH_ALGORITHMS: 16431, // RFC 7427
  CLONE_IKE_SA_SUPPORTED: 16432,
  CLONE_IKE_SA: 16433,
  PUZZLE: 16434, // RFC 8019
  USE_PPK: 16435, // RFC 8784
  PPK_IDENTITY: 16436,
  NO_PPK_AUTH: 16437,
  INTERMEDIATE_EXCHANGE_SUPPORTED: 16438, // RFC 9242
  IP4_ALLOWED: 16439, // RFC 8983
  IP6_ALLOWED: 16440,
  ADDITIONAL_KEY_EXCHANGE: 16441, // RFC 9370
  USE_AGGFRAG: 16442, // RFC 9347
  SUPPORTED_AUTH_METHODS: 16443, // RFC 9593
  SA_RESOURCE_INFO: 16444, // RFC 9611
} as const;

/** Notify types below this value are errors (RFC 7296 §3.10.1). */
export const NOTIFY_STATUS_MIN = 16384;

type Table = Readonly<Record<string, number>>;
const reverseCache = new WeakMap<Table, Map<number, string>>();

/** Registry name of `value` in `table`, or "UNKNOWN(value)". First key wins if two share a value. */
export function nameOf(table: Table, value: number): string {
  let reverse = reverseCache.get(table);
  if (!reverse) {
    reverse = new Map();
    for (const [key, v] of Object.entries(table)) if (!reverse.has(v)) reverse.set(v, key);
    reverseCache.set(table, reverse);
  }
  return reverse.get(value) ?? `UNKNOWN(${value})`;
}

const transformIdTables: Readonly<Record<number, Table>> = {
  [TransformType.ENCR]: EncrId,
  [TransformType.PRF]: PrfId,
  [TransformType.INTEG]: IntegId,
  [TransformType.ESN]: EsnId,
};

export const payloadTypeName = (v: number): string => nameOf(PayloadType, v);
export const exchangeTypeName = (v: number): string => nameOf(ExchangeType, v);
export const notifyTypeName = (v: number): string => nameOf(NotifyType, v);
export const protocolName = (v: number): string => nameOf(ProtocolId, v);
export const transformTypeName = (v: number): string => nameOf(TransformType, v);
export const idTypeName = (v: number): string => nameOf(IdType, v);
export const authMethodName = (v: number): string => nameOf(AuthMethod, v);
export const tsTypeName = (v: number): string => nameOf(TsType, v);
export const certEncodingName = (v: number): string => nameOf(CertEncoding, v);
export const cfgTypeName = (v: number): string => nameOf(CfgType, v);
export const cpAttributeName = (v: number): string => nameOf(CpAttributeType, v);

/** Name of a transform ID within its type, e.g. (ENCR, 20) → "ENCR_AES_GCM_16", (DH, 31) → "CURVE_25519". */
export function transformIdName(type: number, id: number): string {
  const isKeyExchange = type === TransformType.DH || (type >= TransformType.ADDKE1 && type <= TransformType.ADDKE7);
  const table = isKeyExchange ? DhId : transformIdTables[type];
  return table ? nameOf(table, id) : `UNKNOWN(${id})`;
}
