// Rekey collisions (RFC 7296 §2.8.1, §2.8.2): when both peers rekey the same SA at once, both exchanges
// complete, and "the SA created with the lowest of the four nonces used in the two exchanges" is redundant
// and is deleted by the peer that created it; the winner deletes the old SA. Rekeys refused with
// TEMPORARY_FAILURE (§2.25) are retried after a random delay, as strongSwan does.
import type { IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";

/** Octet-by-octet comparison over the common length ("not as large integers", §2.8.1; strongSwan's memcmp). */
function compareNonces(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  return Buffer.compare(a.subarray(0, n), b.subarray(0, n));
}

/** The lower of one exchange's two nonces. */
export function lowerNonce(a: Buffer, b: Buffer): Buffer {
  return compareNonces(a, b) < 0 ? a : b;
}

/** True if our exchange (nonces ni, nr) holds the lowest of the four nonces, i.e. created the redundant SA;
 *  `theirs` is the lower nonce of the peer's exchange. */
export function lostCollision(ni: Buffer, nr: Buffer, theirs: Buffer): boolean {
  return compareNonces(lowerNonce(ni, nr), theirs) < 0;
}

/** strongSwan's RETRY_INTERVAL and RETRY_JITTER (sa/ike_sa.h): a rekey refused for now is retried 5-15 s later,
 *  the jitter making it unlikely that both peers collide again. */
export const RETRY_INTERVAL = 15;
export const RETRY_JITTER = 10;

export function retryDelay(): number {
  return RETRY_INTERVAL - Math.random() * RETRY_JITTER;
}

/** strongSwan: how long an IKE SA replaced by the peer's rekey waits for the peer's DELETE before it goes anyway. */
export const REKEYED_IKE_TIMEOUT = 90;

/** `sa` (replaced, or the peer's redundant rekey) waits for the peer's DELETE; it is dropped locally if none comes. */
export function awaitDelete(engine: IkeEngine, sa: IkeSa, seconds: number): void {
  sa.state = "rekeyed";
  for (const t of [sa.rekeyTimer, sa.dpdTimer, sa.deleteTimer]) t?.cancel();
  sa.deleteTimer = engine.clock.schedule(seconds, () => engine.destroy(sa, "the peer did not delete it after the rekey"));
}
