// The TypeScript mirror of the data plane's shared-memory layout. Every number is read from the WASM
// module's exported constants, so the two sides cannot drift apart.
import { constant, type RawExports } from "./wasm.js";
import { parseAddress, type TrafficSelector } from "./selectors.js";

/** Drop reasons in counter order; the index is the status code the data plane returns. */
export const DROP_REASONS = [
  "ok", "unknown_spi", "replay", "replay_old", "bad_seq", "auth_failed", "bad_padding", "bad_next_header",
  "malformed", "too_short", "seq_exhausted", "expired", "policy", "dummy", "bad_sa", "no_room", "unsupported",
] as const;
export type DropReason = Exclude<(typeof DROP_REASONS)[number], "ok">;

const NAMES = [
  "COUNTER_SLOTS", "HDR_DROPS", "HDR_END", "HDR_ARENA_NEXT", "NDROP", "ST_OK", "ST_NEED_CRYPTO", "ST_CRYPTO_OK", "ST_CRYPTO_FAILED",
  "SA_STATE", "SA_SPI", "SA_FLAGS", "SA_KEY_LEN", "SA_ICV_LEN", "SA_SALT", "SA_REPLAY_WINDOW", "SA_GENERATION",
  "SA_SEQ_OUT", "SA_SOFT_PACKETS", "SA_SOFT_BYTES", "SA_HARD_PACKETS", "SA_HARD_BYTES", "SA_EXPIRE", "SA_TS_COUNT",
  "SA_PACKETS", "SA_BYTES", "SA_DROPS", "SA_AF", "SA_LOCAL_PORT", "SA_REMOTE_PORT", "SA_LOCAL_ADDR",
  "SA_REMOTE_ADDR", "SA_TS", "TS_MAX", "TS_SIZE", "TS_VERSION", "TS_PROTO", "TS_PORT_LO", "TS_PORT_HI",
  "TS_ADDR_LO", "TS_ADDR_HI", "SA_KEY", "SA_REPLAY", "SA_GCM", "SA_SIZE", "SAF_OUTBOUND", "SAF_TUNNEL", "SAF_ESN",
  "SAF_UDP_ENCAP", "SAF_AH", "SA_INTEG", "SA_AUTH", "SA_AUTH_KEY", "INTEG_HMAC_SHA256", "INTEG_HMAC_SHA384",
  "INTEG_HMAC_SHA512", "INTEG_AES_GMAC", "HMAC_CTX_SIZE",
  "EXP_SOFT", "EXP_HARD", "EXP_SEQ", "REPLAY_MAX_WINDOW", "GCM_CTX_SIZE", "REPLAY_STATE_SIZE",
  "DESC_SIZE", "D_IN_OFF", "D_IN_LEN", "D_SA", "D_STATUS", "D_OUT_OFF", "D_OUT_LEN", "D_DATA_OFF", "D_DATA_LEN",
  "D_NONCE", "D_AAD_LEN", "D_AAD", "D_ROOM", "ESP_HDR",
  "ST_BYPASS", "ST_TRAP", "SA_BY_POLICY", "SPD_NONE", "D_POLICY", "D_AH_SCRATCH", "PA_PROTECT", "PA_BYPASS", "PA_DROP", "PA_TRAP",
  "SPD_CAPACITY", "SPD_ACTIVE", "SPD_COUNT",
  "SPD_NOMATCH", "SPD_HDR_SIZE", "SPE_ID", "SPE_ACTION", "SPE_SA", "SPE_PRIORITY", "SPE_LOCAL", "SPE_REMOTE", "SPE_SIZE",
] as const;

export type Layout = { readonly [K in (typeof NAMES)[number]]: number };

export function readLayout(exports: RawExports): Layout {
  const out: Record<string, number> = {};
  for (const n of NAMES) out[n] = constant(exports, n);
  for (let i = 1; i < DROP_REASONS.length; i++) {
    const v = constant(exports, "DROP_" + DROP_REASONS[i].toUpperCase());
    if (v !== i) throw new Error(`layout mismatch: DROP_${DROP_REASONS[i].toUpperCase()} is ${v}, expected ${i}`);
  }
  if (out.NDROP !== DROP_REASONS.length) throw new Error("layout mismatch: NDROP");
  // An object given ~100 properties by computed key is left in dictionary mode, making every L.X in the
  // packet loops a hash lookup; JSON.parse builds it with fast properties.
  return JSON.parse(JSON.stringify(out)) as Layout;
}

/** Encode a traffic selector in the 40-byte TS_* layout shared by SA records and SPD entries. The
 *  caller has checked that both ends are of one address family. */
export function writeSelector(L: Layout, u8: Uint8Array, dv: DataView, at: number, ts: TrafficSelector): void {
  const lo = parseAddress(ts.start), hi = parseAddress(ts.end);
  u8.fill(0, at, at + L.TS_SIZE);
  u8[at + L.TS_VERSION] = lo.version;
  u8[at + L.TS_PROTO] = ts.protocol ?? 0;
  dv.setUint16(at + L.TS_PORT_LO, ts.portStart ?? 0, true);
  dv.setUint16(at + L.TS_PORT_HI, ts.portEnd ?? 0xffff, true);
  u8.set(lo.bytes, at + L.TS_ADDR_LO);
  u8.set(hi.bytes, at + L.TS_ADDR_HI);
}
