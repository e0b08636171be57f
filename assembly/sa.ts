// Per-SA bookkeeping shared by ESP and AH: drop counting, lifetime accounting, outbound sequence numbers
// and the names of the anti-replay verdicts. One mechanism for both protocols.
import {
  countGlobal, countSA, SA_SEQ_OUT, SA_EXPIRE, SA_SOFT_PACKETS, SA_SOFT_BYTES, SA_HARD_PACKETS, SA_HARD_BYTES,
  SA_PACKETS, SA_BYTES, SAF_ESN, EXP_SOFT, EXP_HARD, EXP_SEQ,
} from "./layout";
import { DROP_REPLAY, DROP_REPLAY_OLD, DROP_BAD_SEQ } from "./status";

/** Count a drop against the SA, or globally when no SA is known (sa == 0); returns the reason. */
// @ts-ignore: decorator
@inline export function fail(sa: usize, reason: u32): u32 {
  if (sa != 0) countSA(sa, reason); else countGlobal(reason);
  return reason;
}

/** Count a processed packet and raise the lifetime flags the control plane polls. */
export function account(sa: usize, bytes: u64): void {
  const packets = atomic.add<u64>(sa + SA_PACKETS, 1) + 1;
  const total = atomic.add<u64>(sa + SA_BYTES, bytes) + bytes;
  const sp = load<u64>(sa + SA_SOFT_PACKETS), sb = load<u64>(sa + SA_SOFT_BYTES);
  const hp = load<u64>(sa + SA_HARD_PACKETS), hb = load<u64>(sa + SA_HARD_BYTES);
  let e: u32 = 0;
  if ((sp != 0 && packets >= sp) || (sb != 0 && total >= sb)) e |= EXP_SOFT;
  if ((hp != 0 && packets >= hp) || (hb != 0 && total >= hb)) e |= EXP_HARD;
  if (e != 0 && (load<u32>(sa + SA_EXPIRE) & e) != e) atomic.or<u32>(sa + SA_EXPIRE, e);
}

/** The next outbound sequence number, or 0 when they are exhausted: they never wrap (RFC 4303 §3.3.3,
 *  RFC 4302 §3.3.2), so the SA then flags itself hard-expired. CAS, so several workers get unique numbers. */
export function nextSeq(sa: usize, flags: u32): u64 {
  const limit: u64 = (flags & SAF_ESN) != 0 ? <u64>0xffffffffffffffff : <u64>0xffffffff;
  let cur = atomic.load<u64>(sa + SA_SEQ_OUT);
  while (true) {
    if (cur >= limit) {
      if ((load<u32>(sa + SA_EXPIRE) & EXP_SEQ) == 0) atomic.or<u32>(sa + SA_EXPIRE, EXP_SEQ | EXP_HARD);
      return 0;
    }
    const prev = atomic.cmpxchg<u64>(sa + SA_SEQ_OUT, cur, cur + 1);
    if (prev == cur) return cur + 1;
    cur = prev;
  }
}

/** Drop reason for a non-zero replayCheck/replayUpdate verdict. */
export function replayReason(r: i32): u32 {
  return r == 1 ? DROP_REPLAY : r == 2 ? DROP_REPLAY_OLD : DROP_BAD_SEQ;
}
