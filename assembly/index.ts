// wasm-ipsec data plane: everything exported to TypeScript. Constants are exported so the TypeScript
// side mirrors the layout from the module itself rather than from a second copy of the numbers.
export { GCM_CTX_SIZE, gcmInit, gcmSeal, gcmOpen, gcmWipe } from "./crypto/gcm";
export { SHA256, SHA384, SHA512, HMAC_CTX_SIZE, sha2Digest, hmacInit, hmacMac } from "./crypto/sha2";
export { REPLAY_STATE_SIZE, REPLAY_MAX_WINDOW, replayInit, replayInfer, replayCheck, replayUpdate, replayHighest } from "./replay";
export * from "./status";
export {
  LAYOUT_VERSION, COUNTER_SLOTS, HDR_DROPS, HDR_END, HDR_ARENA_NEXT, HDR_SIZE,
  SA_STATE, SA_SPI, SA_FLAGS, SA_KEY_LEN, SA_ICV_LEN, SA_SALT, SA_REPLAY_WINDOW, SA_GENERATION, SA_SEQ_OUT,
  SA_SOFT_PACKETS, SA_SOFT_BYTES, SA_HARD_PACKETS, SA_HARD_BYTES, SA_EXPIRE, SA_TS_COUNT, SA_PACKETS, SA_BYTES,
  SA_DROPS, SA_AF, SA_LOCAL_PORT, SA_REMOTE_PORT, SA_LOCAL_ADDR, SA_REMOTE_ADDR, SA_TS, TS_MAX, TS_SIZE,
  TS_VERSION, TS_PROTO, TS_PORT_LO, TS_PORT_HI, TS_ADDR_LO, TS_ADDR_HI, SA_KEY, SA_REPLAY, SA_GCM, SA_SIZE,
  SA_INTEG, SA_AUTH, SA_AUTH_KEY, SAF_OUTBOUND, SAF_TUNNEL, SAF_ESN, SAF_UDP_ENCAP, SAF_AH, EXP_SOFT, EXP_HARD, EXP_SEQ,
  INTEG_HMAC_SHA256, INTEG_HMAC_SHA384, INTEG_HMAC_SHA512, INTEG_AES_GMAC, D_AH_SCRATCH,
  layoutBase, saAddress, dpLayoutEnd, dpFormat, dpAttach,
} from "./layout";
export { saActivate, saDelete, saLookup, saCapacity } from "./sadb";
export {
  DESC_SIZE, D_IN_OFF, D_IN_LEN, D_SA, D_STATUS, D_OUT_OFF, D_OUT_LEN, D_DATA_OFF, D_DATA_LEN, D_NONCE,
  D_AAD_LEN, D_AAD, D_ROOM, ESP_HDR,
} from "./esp";
export { encapBatch, espDecapBatch, espDecapFinish, ahEncapBatch, ahDecapBatch, copyBytes } from "./batch";
export {
  SA_BY_POLICY, SPD_NONE, D_POLICY, PA_PROTECT, PA_BYPASS, PA_DROP, PA_TRAP, SPD_CAPACITY, SPD_ACTIVE, SPD_COUNT,
  SPD_NOMATCH, SPD_HDR_SIZE, SPE_ID, SPE_ACTION, SPE_SA, SPE_PRIORITY, SPE_LOCAL, SPE_REMOTE, SPE_SIZE,
  spdRegionSize, spdFormat, spdPublish, spdRegion, spdBegin, spdCommit, spdSetHandle,
} from "./spd";
export { VNET_HDR_LEN, STAGING_DATA, TSO_IN_PLACE, TSO_TRUNCATED, TSO_MALFORMED, tsoRead, tsoSplit, groPlan, groScratchSize } from "./offload";
