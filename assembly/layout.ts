// The data plane's shared-memory layout: one header, the inbound SPI hash table, the SA records.
// Everything here lives in the shared WebAssembly.Memory, written by the control plane and read by
// every worker. Module globals are per instance, so each instance caches the layout via dpAttach().
import { REPLAY_STATE_SIZE } from "./replay";
import { GCM_CTX_SIZE } from "./crypto/gcm";
import { HMAC_CTX_SIZE, SHA256, SHA384, SHA512 } from "./crypto/sha2";

export const LAYOUT_MAGIC: u32 = 0x53504957; // "WIPS"
export const LAYOUT_VERSION: u32 = 3;
export const COUNTER_SLOTS: i32 = 24; // >= NDROP, u64 each

// ---- header (at layoutBase()) ----
export const HDR_MAGIC: i32 = 0;
export const HDR_VERSION: i32 = 4;
export const HDR_MAX_SAS: i32 = 8;
export const HDR_HASH_SLOTS: i32 = 12;
export const HDR_HASH_OFF: i32 = 16;
export const HDR_SA_OFF: i32 = 20;
export const HDR_SA_SIZE: i32 = 24;
export const HDR_END: i32 = 28;          // first byte after the layout: batch arenas start here
export const HDR_ARENA_NEXT: i32 = 32;   // u32, next free arena byte (atomic bump allocation from any thread)
export const HDR_HASH_OFF2: i32 = 36;    // second SPI table: deletes leave tombstones, so the control plane
export const HDR_HASH_ACTIVE: i32 = 40;  // rebuilds into the idle table and flips this index (0/1) atomically
export const HDR_TOMBSTONES: i32 = 44;   // tombstones in the active table (control plane only)
export const HDR_SPD: i32 = 48;          // u32, address of the outbound SPD region (spd.ts), 0 = none (atomic)
export const HDR_DROPS: i32 = 64;        // u64[COUNTER_SLOTS]: drops with no SA (unknown SPI, bad handle, ...)
export const HDR_SIZE: i32 = 256;

// ---- SA record ----
export const SA_STATE: i32 = 0;          // u32: 0 free, 1 active
export const SA_SPI: i32 = 4;            // u32, numeric value of the SPI as on the wire (big-endian there)
export const SA_FLAGS: i32 = 8;          // u32: SAF_*
export const SA_KEY_LEN: i32 = 12;       // u32: AES key 16, 24 or 32; AH HMAC key 32, 48 or 64
export const SA_ICV_LEN: i32 = 16;       // u32: ESP 8, 12 or 16; AH 16, 24 or 32 (fixed by SA_INTEG)
export const SA_SALT: i32 = 20;          // 4 bytes, RFC 4106 / RFC 4543 salt (wire order)
export const SA_REPLAY_WINDOW: i32 = 24; // u32, informational (the replay state holds the live value)
export const SA_GENERATION: i32 = 28;    // u32, bumped at every install
export const SA_SEQ_OUT: i32 = 32;       // u64: last sequence number sent (atomic)
export const SA_SOFT_PACKETS: i32 = 40;  // u64 limits, 0 = none
export const SA_SOFT_BYTES: i32 = 48;
export const SA_HARD_PACKETS: i32 = 56;
export const SA_HARD_BYTES: i32 = 64;
export const SA_EXPIRE: i32 = 72;        // u32: EXP_SOFT | EXP_HARD (atomic or)
export const SA_TS_COUNT: i32 = 76;      // u16 local count, u16 remote count (0 = any)
export const SA_PACKETS: i32 = 80;       // u64 packets processed OK
export const SA_BYTES: i32 = 88;         // u64 inner bytes processed OK
export const SA_DROPS: i32 = 96;         // u64[COUNTER_SLOTS]
export const SA_AF: i32 = 288;           // u32: 4 or 6 — outer endpoints (transport-mode header rebuild, I/O)
export const SA_LOCAL_PORT: i32 = 292;   // u16 (host order), UDP encapsulation
export const SA_REMOTE_PORT: i32 = 294;  // u16
export const SA_LOCAL_ADDR: i32 = 296;   // 16 bytes, IPv4 in the first 4
export const SA_REMOTE_ADDR: i32 = 312;  // 16 bytes
export const SA_TS: i32 = 328;           // TS_MAX local selectors, then TS_MAX remote selectors
export const TS_MAX: i32 = 16;           // per side; an SA with more selectors is refused at install
export const TS_SIZE: i32 = 40;          // u8 ipVersion (4/6), u8 proto (0 any), u16 pad, u16 portLo, u16 portHi,
                                         // u8[16] addrLo, u8[16] addrHi  (ports host order; addresses wire order)
export const TS_VERSION: i32 = 0;
export const TS_PROTO: i32 = 1;
export const TS_PORT_LO: i32 = 4;
export const TS_PORT_HI: i32 = 6;
export const TS_ADDR_LO: i32 = 8;
export const TS_ADDR_HI: i32 = 24;
export const SA_KEY: i32 = SA_TS + 2 * TS_MAX * TS_SIZE; // 32 bytes raw AES key (JS backends, AH's GMAC)
export const SA_INTEG: i32 = SA_KEY + 32;   // u32: AH integrity transform, INTEG_* (0 for ESP)
export const SA_REPLAY: i32 = (SA_INTEG + 4 + 63) & ~63;
export const SA_GCM: i32 = (SA_REPLAY + REPLAY_STATE_SIZE + 63) & ~63;
export const SA_SIZE: i32 = (SA_GCM + GCM_CTX_SIZE + 63) & ~63;
// AH with HMAC needs no AES-GCM context, so its integrity context lives in that region: the HMAC inner and
// outer states, and behind them the raw key as the control plane writes it (activation turns it into the
// states and wipes it). AH with AES-GMAC uses the region as the AES-GCM context, as ESP does.
export const SA_AUTH: i32 = SA_GCM;
export const SA_AUTH_KEY: i32 = SA_AUTH + HMAC_CTX_SIZE;
export const AUTH_KEY_MAX: i32 = 64;     // bytes at SA_AUTH_KEY: the longest RFC 4868 key (HMAC-SHA-512)

// ---- batch descriptor: the fields beyond ESP's (esp.ts defines DESC_SIZE and D_IN_OFF..D_ROOM) ----
// Bytes 24..59 are ESP's crypto job (D_DATA_OFF..D_AAD). A packet ESP does not encrypt reuses them, each use
// in bytes of its own, so no step's output is another's scratch: the SPD's verdict stays readable however
// the packet ends, and AH's scratch cannot clobber it.
export const D_POLICY: i32 = 24;     // out (spd.ts): id of the policy behind BYPASS/TRAP/DROP, or SPD_NONE
export const D_AH_SCRATCH: i32 = 28; // AH (ah.ts), up to esp.ts's D_ROOM (60): the received ICV (HMAC,
                                     // ≤ 32 bytes) or the GMAC nonce ‖ tag (28)

// SA_FLAGS bits
export const SAF_OUTBOUND: u32 = 1;
export const SAF_TUNNEL: u32 = 2;
export const SAF_ESN: u32 = 4;
export const SAF_UDP_ENCAP: u32 = 8;
export const SAF_AH: u32 = 16;       // AH (RFC 4302) instead of ESP

// SA_INTEG values (AH). The HMAC ids are the SHA-2 ids of crypto/sha2.ts; ICVs are truncated to half the
// digest (RFC 4868). GMAC's key size is SA_KEY_LEN.
export const INTEG_HMAC_SHA256: u32 = SHA256; // HMAC-SHA2-256-128
export const INTEG_HMAC_SHA384: u32 = SHA384; // HMAC-SHA2-384-192
export const INTEG_HMAC_SHA512: u32 = SHA512; // HMAC-SHA2-512-256
export const INTEG_AES_GMAC: u32 = 4;         // AES-GMAC, RFC 4543 (16-byte ICV, 8-byte IV)

export const EXP_SOFT: u32 = 1;
export const EXP_HARD: u32 = 2;
export const EXP_SEQ: u32 = 4;  // sequence numbers exhausted (also sets EXP_HARD)

// Per-instance cache of the layout (globals are not shared between instances).
export let gBase: usize = 0;
export let gMaxSAs: u32 = 0;
export let gHash: usize = 0;
export let gHash2: usize = 0;
export let gHashMask: u32 = 0;
export let gSA: usize = 0;

/** Where the layout starts: the first 64-byte boundary after the module's static data. */
export function layoutBase(): usize {
  return (__heap_base + 63) & ~<usize>63;
}

function hashSlotsFor(maxSAs: u32): u32 {
  let s: u32 = 16;
  while (s < maxSAs * 2) s <<= 1;
  return s;
}

/** Bytes of memory the layout needs for maxSAs, counted from address 0. The control plane grows
 *  the memory to this before calling dpFormat. */
export function dpLayoutEnd(maxSAs: u32): f64 {
  const slots = hashSlotsFor(maxSAs);
  return <f64>layoutBase() + <f64>HDR_SIZE + <f64>slots * 16 + <f64>maxSAs * <f64>SA_SIZE + 128;
}

/** Format a fresh layout (control plane, once). Returns the arena start, or 0 if maxSAs is invalid. */
export function dpFormat(maxSAs: u32): usize {
  if (maxSAs == 0 || maxSAs > 1000000) return 0;
  const base = layoutBase();
  const slots = hashSlotsFor(maxSAs);
  const hashOff = HDR_SIZE;
  const hashOff2 = hashOff + slots * 8;
  const saOff = (hashOff2 + slots * 8 + 63) & ~63;
  const end = (base + saOff + <usize>maxSAs * SA_SIZE + 63) & ~<usize>63;
  if (<f64>end > <f64>memory.size() * 65536) return 0;
  memory.fill(base, 0, end - base);
  store<u32>(base + HDR_MAX_SAS, maxSAs);
  store<u32>(base + HDR_HASH_SLOTS, slots);
  store<u32>(base + HDR_HASH_OFF, hashOff);
  store<u32>(base + HDR_HASH_OFF2, hashOff2);
  store<u32>(base + HDR_SA_OFF, saOff);
  store<u32>(base + HDR_SA_SIZE, SA_SIZE);
  store<u32>(base + HDR_END, <u32>end);
  store<u32>(base + HDR_ARENA_NEXT, <u32>end);
  store<u32>(base + HDR_VERSION, LAYOUT_VERSION);
  atomic.store<u32>(base + HDR_MAGIC, LAYOUT_MAGIC);
  return dpAttach();
}

/** Attach this instance to a layout formatted by another instance. Returns the arena start or 0. */
export function dpAttach(): usize {
  const base = layoutBase();
  if (atomic.load<u32>(base + HDR_MAGIC) != LAYOUT_MAGIC) return 0;
  if (load<u32>(base + HDR_VERSION) != LAYOUT_VERSION || load<u32>(base + HDR_SA_SIZE) != <u32>SA_SIZE) return 0;
  gBase = base;
  gMaxSAs = load<u32>(base + HDR_MAX_SAS);
  gHash = base + load<u32>(base + HDR_HASH_OFF);
  gHash2 = base + load<u32>(base + HDR_HASH_OFF2);
  gHashMask = load<u32>(base + HDR_HASH_SLOTS) - 1;
  gSA = base + load<u32>(base + HDR_SA_OFF);
  return <usize>load<u32>(base + HDR_END);
}

/** Address of SA record `handle`, or 0 if the handle is out of range. */
// @ts-ignore: decorator
@inline export function saPtr(handle: u32): usize {
  return handle < gMaxSAs ? gSA + <usize>handle * SA_SIZE : 0;
}

/** Address of SA record `handle` for the control plane (0 if out of range). */
export function saAddress(handle: u32): usize {
  return saPtr(handle);
}

// @ts-ignore: decorator
@inline export function countGlobal(reason: u32): void {
  atomic.add<u64>(gBase + HDR_DROPS + (<usize>reason << 3), 1);
}

// @ts-ignore: decorator
@inline export function countSA(sa: usize, reason: u32): void {
  atomic.add<u64>(sa + SA_DROPS + (<usize>reason << 3), 1);
}
