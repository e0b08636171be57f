// Inbound anti-replay window: RFC 4303 §3.4.3, ESN inference per RFC 4303 Appendix A2.2,
// bitmap kept as the RFC 6479 ring of 64-bit blocks: no shifting; sliding forward zeroes only the ring slots that
// the blocks leaving the window hand over to the blocks entering it.
//
// All state lives at `st` (8-byte aligned, REPLAY_STATE_SIZE bytes, inside the SA record): the module is shared by
// several threads over one memory, so there is no static state. replayUpdate is a read-modify-write: the caller
// must serialise updates of one SA (the SA's owning thread or its lock).
//
// Layout at st:
const HIGHEST = 0; // u64  highest authenticated sequence number; 0 = none yet (seq 0 is never valid)
const WINDOW = 8; //  u32  window in packets as configured; 0 = anti-replay disabled
const MASK = 12; //   u32  ring blocks - 1 (the ring is a power of two, sized for the window)
const ESN = 16; //    u32  1 = 64-bit extended sequence numbers
const RING = 24; //   u64[ring blocks]: bit (s & 63) of block (s >> 6) & MASK marks sequence number s as seen

const BLOCK_SHIFT: u64 = 6;
const RING_BLOCKS_MAX: u32 = 256;

const REPLAY_OK: i32 = 0;
const REPLAY_DUPLICATE: i32 = 1;
const REPLAY_TOO_OLD: i32 = 2;
const REPLAY_INVALID: i32 = 3;

// A window of W packets spans at most ceil((W - 1) / 64) + 1 blocks; 256 blocks hold (256 - 1) * 64 = 16320.
export const REPLAY_MAX_WINDOW: u32 = (RING_BLOCKS_MAX - 1) << <u32>BLOCK_SHIFT;
export const REPLAY_STATE_SIZE: i32 = RING + <i32>RING_BLOCKS_MAX * 8;

// With anti-replay disabled any order is accepted, so ESN inference picks the subspace nearest the highest seen.
const INFER_WINDOW_DISABLED: u32 = 0x80000000;

/**
 * Reset the state for a new SA. Any window 1..REPLAY_MAX_WINDOW is honoured exactly (RFC 4303 asks for 32 or more);
 * a larger one is clamped, so no input writes outside the state (the control plane validates it).
 */
export function replayInit(st: usize, window: u32, esn: bool): void {
  const w = min(window, REPLAY_MAX_WINDOW);
  const span = w == 0 ? 1 : ((w - 1 + 63) >> <u32>BLOCK_SHIFT) + 1; // most blocks the window can touch
  const blocks: u32 = 1 << (32 - clz(span - 1)); // next power of two
  store<u64>(st, 0, HIGHEST);
  store<u32>(st, w, WINDOW);
  store<u32>(st, blocks - 1, MASK);
  store<u32>(st, esn ? 1 : 0, ESN);
  memory.fill(st + RING, 0, blocks << 3);
}

/** Full sequence number of a received packet: non-ESN the 32 bits as sent; ESN Seqh inferred per RFC 4303 A2.2. */
export function replayInfer(st: usize, seqLow: u32): u64 {
  return inferSeq(st, seqLow);
}

// Inlined into the ESP per-packet path, where the call overhead shows at small packet sizes.
// @ts-ignore: decorator
@inline export function inferSeq(st: usize, seqLow: u32): u64 {
  if (load<u32>(st, ESN) == 0) return <u64>seqLow;
  const t = load<u64>(st, HIGHEST);
  const th = <u32>(t >> 32);
  const tl = <u32>t;
  const configured = load<u32>(st, WINDOW);
  const w = configured == 0 ? INFER_WINDOW_DISABLED : configured;
  const bl = tl - w + 1; // bottom of the window, low 32 bits (wraps in case B)
  let seqh = th;
  if (tl >= w - 1) {
    // Case A: the window lies within one subspace; a number below it belongs to the next subspace.
    // At Th = 2^32 - 1 there is no next subspace: keep Th, which the check then rejects as too old.
    if (seqLow < bl && th != 0xffffffff) seqh = th + 1;
  } else {
    // Case B: the window spans Th - 1 and Th. At Th = 0 there is no subspace below: keep 0 (a jump ahead whose
    // ICV, computed with Seqh = 0, decides).
    if (seqLow >= bl && th != 0) seqh = th - 1;
  }
  return (<u64>seqh << 32) | <u64>seqLow;
}

/** Pre-check before ICV verification; does not modify the state. */
export function replayCheck(st: usize, seq: u64): i32 {
  return checkSeq(st, seq);
}

// @ts-ignore: decorator
@inline export function checkSeq(st: usize, seq: u64): i32 {
  if (!valid(st, seq)) return REPLAY_INVALID;
  const w = load<u32>(st, WINDOW);
  const highest = load<u64>(st, HIGHEST);
  if (w == 0 || seq > highest) return REPLAY_OK;
  if (highest - seq >= <u64>w) return REPLAY_TOO_OLD;
  return (load<u64>(blockAt(st, seq)) & bitOf(seq)) != 0 ? REPLAY_DUPLICATE : REPLAY_OK;
}

/** After the ICV verified: check again (another packet may have been accepted meanwhile) and mark as seen. */
export function replayUpdate(st: usize, seq: u64): i32 {
  return updateSeq(st, seq);
}

// @ts-ignore: decorator
@inline export function updateSeq(st: usize, seq: u64): i32 {
  const verdict = checkSeq(st, seq);
  if (verdict != REPLAY_OK) return verdict;
  const highest = load<u64>(st, HIGHEST);
  if (seq > highest) store<u64>(st, seq, HIGHEST);
  if (load<u32>(st, WINDOW) == 0) return REPLAY_OK; // disabled: only the highest is tracked
  if (seq > highest) {
    // Zero the blocks entering the window; at most the whole ring, however far the jump.
    const mask = load<u32>(st, MASK);
    const from = highest >> BLOCK_SHIFT;
    const entering = min((seq >> BLOCK_SHIFT) - from, <u64>mask + 1);
    for (let i: u64 = 1; i <= entering; i++) {
      store<u64>(st + RING + ((<usize>(from + i) & mask) << 3), 0);
    }
  }
  const block = blockAt(st, seq);
  store<u64>(block, load<u64>(block) | bitOf(seq));
  return REPLAY_OK;
}

export function replayHighest(st: usize): u64 {
  return load<u64>(st, HIGHEST);
}

// Seq 0 never appears on the wire (the first packet is 1); without ESN only 32-bit numbers exist.
@inline function valid(st: usize, seq: u64): bool {
  return seq != 0 && (seq <= 0xffffffff || load<u32>(st, ESN) != 0);
}

@inline function blockAt(st: usize, seq: u64): usize {
  return st + RING + ((<usize>(seq >> BLOCK_SHIFT) & load<u32>(st, MASK)) << 3);
}

@inline function bitOf(seq: u64): u64 {
  return <u64>1 << (seq & 63);
}
