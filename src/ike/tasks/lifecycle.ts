// What happens when an IKE or Child SA comes up: timers for rekeying (with jitter, RFC 7296 §2.8),
// hard expiry, and liveness checks (DPD), and the events the daemon and tests listen to.
import type { IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import type { ChildSa } from "../child-sa.js";
import { formatIdentity } from "../identity.js";

/** Seconds until a rekey: the configured time minus up to `rand` seconds of jitter, so both peers
 *  rarely start at once. */
export function jittered(rekey: number, rand: number): number {
  return Math.max(1, rekey - Math.random() * Math.max(0, rand));
}

export function ikeEstablished(engine: IkeEngine, sa: IkeSa): void {
  sa.state = "established";
  sa.establishedAt = engine.clock.now();
  sa.halfOpenTimer?.cancel();
  for (const [k, v] of engine.halfOpen) if (v === sa) engine.halfOpen.delete(k);
  engine.log.log("ike", 0, `IKE_SA ${sa.name}[${sa.uniqueId}] established between ${sa.local.address}[${formatIdentity(sa.localId!)}]` +
    `...${sa.remote.address}[${formatIdentity(sa.remoteId!)}]`, sa);
  scheduleIkeRekey(engine, sa);
  scheduleDpd(engine, sa);
  engine.emit("ike-up", sa);
}

export function scheduleIkeRekey(engine: IkeEngine, sa: IkeSa): void {
  sa.rekeyTimer?.cancel();
  if (sa.conn.rekeyTime > 0) {
    sa.rekeyTimer = engine.clock.schedule(jittered(sa.conn.rekeyTime, sa.conn.rekeyTime * 0.1), () => engine.rekeyIke(sa));
  }
}

export function scheduleDpd(engine: IkeEngine, sa: IkeSa): void {
  sa.dpdTimer?.cancel();
  const delay = sa.conn.dpdDelay;
  if (delay <= 0) return;
  sa.dpdTimer = engine.clock.schedule(delay, () => {
    if (sa.state !== "established") return;
    // Only probe when nothing arrived from the peer for a whole interval (RFC 7296 §2.4).
    const idle = engine.clock.now() - sa.lastInbound;
    if (idle >= delay && !sa.pending) engine.dpd(sa);
    scheduleDpd(engine, sa);
  });
}

export function childInstalled(engine: IkeEngine, sa: IkeSa, child: ChildSa): void {
  const c = child.config;
  const now = engine.clock.now();
  child.installedAt = now;
  const life = c.lifeTime ?? Math.round(c.rekeyTime * 1.1);
  if (c.rekeyTime > 0) {
    const at = jittered(c.rekeyTime, c.randTime ?? life - c.rekeyTime);
    child.rekeyAt = now + at;
    child.rekeyTimer = engine.clock.schedule(at, () => engine.rekeyChild(sa, child));
  }
  if (life > 0) {
    child.expireAt = now + life;
    child.expireTimer = engine.clock.schedule(life, () => {
      if (child.state !== "deleted") engine.terminateChild(sa, child);
    });
  }
  engine.emit("child-up", sa, child);
}
