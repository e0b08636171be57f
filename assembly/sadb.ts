// SA database: fixed-size records addressed by handle, plus an open-addressing hash table that maps
// inbound SPIs to handles in O(1). Only the control plane (one thread) installs and deletes; workers
// look up concurrently, so slot writes are ordered (SPI, then handle) and deletes leave tombstones; when
// tombstones pass a quarter of the slots the table is rebuilt into a second one and the two swapped.
import {
  gBase, gHash, gHash2, gHashMask, gMaxSAs, HDR_HASH_ACTIVE, HDR_TOMBSTONES, saPtr, SA_STATE, SA_SPI, SA_FLAGS, SA_KEY_LEN, SA_ICV_LEN, SA_REPLAY,
  SA_REPLAY_WINDOW, SA_GCM, SA_KEY, SA_SIZE, SA_GENERATION, SA_INTEG, SA_AF, SA_AUTH, SA_AUTH_KEY, AUTH_KEY_MAX,
  SAF_OUTBOUND, SAF_ESN, SAF_TUNNEL, SAF_AH, INTEG_HMAC_SHA256, INTEG_HMAC_SHA384, INTEG_HMAC_SHA512, INTEG_AES_GMAC,
} from "./layout";
import { gcmInit, gcmWipe } from "./crypto/gcm";
import { digestLength, hmacInit } from "./crypto/sha2";
import { replayInit, REPLAY_MAX_WINDOW } from "./replay";

const TOMBSTONE: u32 = 0xffffffff;

// Slot: u32 spi, u32 handle+1 (0 = never used, TOMBSTONE = deleted).
// @ts-ignore: decorator
@inline function slotOf(spi: u32): u32 {
  return (spi * 0x9e3779b1) >>> 7; // multiplicative hash; SPIs are chosen by us (random), not by the peer
}

// @ts-ignore: decorator
@inline function activeTable(): usize {
  return atomic.load<u32>(gBase + HDR_HASH_ACTIVE) != 0 ? gHash2 : gHash;
}

/** Inbound SA handle for `spi`, or -1. Probes at most every slot once, so it always terminates; the
 *  table is rebuilt before tombstones make misses (unknown SPIs, a cheap attack) long. */
export function saLookup(spi: u32): i32 {
  const table = activeTable();
  let i = slotOf(spi) & gHashMask;
  for (let n: u32 = 0; n <= gHashMask; n++) {
    const slot = table + (<usize>i << 3);
    const h = atomic.load<u32>(slot + 4);
    if (h == 0) return -1;
    if (h != TOMBSTONE && atomic.load<u32>(slot) == spi) return <i32>(h - 1);
    i = (i + 1) & gHashMask;
  }
  return -1;
}

function hashInsert(table: usize, spi: u32, handle: u32): bool {
  let i = slotOf(spi) & gHashMask;
  for (let n: u32 = 0; n <= gHashMask; n++) {
    const slot = table + (<usize>i << 3);
    const h = load<u32>(slot + 4);
    if (h == 0 || h == TOMBSTONE) {
      if (h == TOMBSTONE) store<u32>(gBase + HDR_TOMBSTONES, load<u32>(gBase + HDR_TOMBSTONES) - 1);
      atomic.store<u32>(slot, spi);
      atomic.store<u32>(slot + 4, handle + 1);
      return true;
    }
    i = (i + 1) & gHashMask;
  }
  return false;
}

function hashRemove(spi: u32, handle: u32): void {
  const table = activeTable();
  let i = slotOf(spi) & gHashMask;
  for (let n: u32 = 0; n <= gHashMask; n++) {
    const slot = table + (<usize>i << 3);
    const h = load<u32>(slot + 4);
    if (h == 0) return;
    if (h == handle + 1 && load<u32>(slot) == spi) {
      atomic.store<u32>(slot + 4, TOMBSTONE);
      const t = load<u32>(gBase + HDR_TOMBSTONES) + 1;
      store<u32>(gBase + HDR_TOMBSTONES, t);
      if (t > (gHashMask + 1) >> 2) rebuild(table);
      return;
    }
    i = (i + 1) & gHashMask;
  }
}

// Re-insert every live inbound SA into the idle table, then flip: readers never see a half-built table.
function rebuild(current: usize): void {
  const next = current == gHash ? gHash2 : gHash;
  memory.fill(next, 0, (<usize>gHashMask + 1) << 3);
  store<u32>(gBase + HDR_TOMBSTONES, 0);
  for (let h: u32 = 0; h < gMaxSAs; h++) {
    const sa = saPtr(h);
    if (atomic.load<u32>(sa + SA_STATE) == 1 && (load<u32>(sa + SA_FLAGS) & SAF_OUTBOUND) == 0) {
      hashInsert(next, load<u32>(sa + SA_SPI), h);
    }
  }
  atomic.store<u32>(gBase + HDR_HASH_ACTIVE, next == gHash2 ? 1 : 0);
}

/** Activate SA `handle` after the control plane wrote its fields (SPI, flags, key, key/ICV length,
 *  salt, window, limits, selectors; AH: integrity transform, and an HMAC key at SA_AUTH_KEY). Expands
 *  the key (HMAC: into its inner/outer states, wiping the raw key), initialises the replay window and,
 *  for inbound SAs, publishes the SPI. Returns 0 or a negative error:
 *  -1 bad handle, -2 already active, -3 bad key length, -4 bad ICV length, -5 bad window,
 *  -6 SPI already in use / reserved (< 256), -7 hash table full, -8 bad integrity transform,
 *  -9 outbound AH tunnel without endpoints (the outer header is built from them). */
export function saActivate(handle: u32): i32 {
  const sa = saPtr(handle);
  if (sa == 0) return -1;
  if (atomic.load<u32>(sa + SA_STATE) != 0) return -2;
  const flags = load<u32>(sa + SA_FLAGS);
  const keyLen = load<u32>(sa + SA_KEY_LEN);
  const icv = load<u32>(sa + SA_ICV_LEN);
  const integ = load<u32>(sa + SA_INTEG);
  const hmac = integ == INTEG_HMAC_SHA256 || integ == INTEG_HMAC_SHA384 || integ == INTEG_HMAC_SHA512;
  if ((flags & SAF_AH) == 0) {
    if (integ != 0) return -8;
    if (keyLen != 16 && keyLen != 24 && keyLen != 32) return -3;
    if (icv != 8 && icv != 12 && icv != 16) return -4;
  } else if (hmac) {
    if (keyLen != digestLength(integ)) return -3;     // RFC 4868 §2.1.2: the key is as long as the digest
    if (icv != digestLength(integ) >> 1) return -4;   // RFC 4868 §2.3: truncated to half
  } else if (integ == INTEG_AES_GMAC) {
    if (keyLen != 16 && keyLen != 24 && keyLen != 32) return -3;
    if (icv != 16) return -4;                         // RFC 4543 §4
  } else return -8;
  if ((flags & (SAF_AH | SAF_TUNNEL | SAF_OUTBOUND)) == (SAF_AH | SAF_TUNNEL | SAF_OUTBOUND)) {
    const af = load<u32>(sa + SA_AF);
    if (af != 4 && af != 6) return -9;
  }
  const win = load<u32>(sa + SA_REPLAY_WINDOW);
  if (win != 0 && (win < 32 || win > REPLAY_MAX_WINDOW)) return -5;
  const spi = load<u32>(sa + SA_SPI);
  const inbound = (flags & SAF_OUTBOUND) == 0;
  if (spi < 256) return -6; // RFC 4303 §2.1 / RFC 4302 §2.4: 1..255 reserved, 0 local use
  if (inbound && saLookup(spi) >= 0) return -6;
  if (hmac) {
    hmacInit(sa + SA_AUTH, integ, sa + SA_AUTH_KEY, keyLen);
    memory.fill(sa + SA_AUTH_KEY, 0, AUTH_KEY_MAX);
  } else {
    gcmInit(sa + SA_GCM, sa + SA_KEY, <i32>keyLen);
  }
  replayInit(sa + SA_REPLAY, win, (flags & SAF_ESN) != 0);
  store<u32>(sa + SA_GENERATION, load<u32>(sa + SA_GENERATION) + 1);
  atomic.store<u32>(sa + SA_STATE, 1);
  if (inbound && !hashInsert(activeTable(), spi, handle)) {
    atomic.store<u32>(sa + SA_STATE, 0);
    return -7;
  }
  return 0;
}

/** Delete SA `handle`: unpublish the SPI, mark free, zero the whole record (keys included). */
export function saDelete(handle: u32): i32 {
  const sa = saPtr(handle);
  if (sa == 0) return -1;
  const gen = load<u32>(sa + SA_GENERATION);
  if (atomic.load<u32>(sa + SA_STATE) != 0) {
    atomic.store<u32>(sa + SA_STATE, 0); // first, so a rebuild triggered below leaves it out
    if ((load<u32>(sa + SA_FLAGS) & SAF_OUTBOUND) == 0) hashRemove(load<u32>(sa + SA_SPI), handle);
  }
  gcmWipe(sa + SA_GCM);
  memory.fill(sa, 0, SA_SIZE);
  store<u32>(sa + SA_GENERATION, gen); // keep the generation so stale handles can be told apart
  return 0;
}

/** Number of SA records the layout holds. */
export function saCapacity(): u32 {
  return gMaxSAs;
}
