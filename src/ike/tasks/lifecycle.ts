// What happens when an IKE or Child SA comes up: timers for rekeying (with jitter, RFC 7296 §2.8),
// hard expiry, and liveness checks (DPD), and the events the daemon and tests listen to.
import type { IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import type { ChildSa } from "../child-sa.js";
import { formatIdentity } from "../identity.js";
import { scheduleReauth } from "./ike-reauth.js";

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
  scheduleReauth(engine, sa);
  scheduleExpiry(engine, sa);
  scheduleDpd(engine, sa);
  scheduleKeepalive(engine, sa);
  engine.emit("ike-up", sa);
}

export function scheduleIkeRekey(engine: IkeEngine, sa: IkeSa): void {
  sa.rekeyTimer?.cancel();
  sa.rekeyAt = 0;
  const t = sa.conn.rekeyTime;
  if (t > 0) {
    const delay = jittered(t, sa.conn.randTime ?? t * 0.1);
    sa.rekeyAt = engine.clock.now() + delay;
    sa.rekeyTimer = engine.clock.schedule(delay, () => engine.rekeyIke(sa));
  }
}

/** The hard lifetime (swanctl over_time, like strongSwan's): if neither rekeying nor reauthentication has
 *  replaced the SA by then (the peer kept refusing, say), it is deleted rather than kept forever. */
export function scheduleExpiry(engine: IkeEngine, sa: IkeSa): void {
  sa.expireTimer?.cancel();
  const due = [sa.rekeyAt, sa.reauthAt].filter((t) => t > 0);
  if (due.length === 0) return;
  const c = sa.conn;
  sa.expireAt = Math.min(...due) + (c.overTime ?? Math.floor(Math.max(c.rekeyTime, c.reauthTime) / 10));
  sa.expireTimer = engine.clock.schedule(Math.max(0, sa.expireAt - engine.clock.now()), () => {
    if (sa.state !== "established" && sa.state !== "rekeying") return; // replaced or on its way out
    engine.log.log("ike", 0, `IKE_SA ${sa.name}[${sa.uniqueId}] reached its hard lifetime, deleting it`, sa);
    engine.terminateIke(sa);
  });
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

/**
 * NAT keepalives (RFC 3948 §4): behind a NAT (a real one, not the one encap fakes: strongSwan's COND_NAT_HERE),
 * a one-byte 0xFF datagram to the peer whenever nothing else went out for `keepalive` seconds, so the NAT
 * keeps the mapping. Outbound IKE is timed exactly (IkeSa.lastOutbound); outbound ESP only through the data
 * plane's packet counters, sampled at least every half interval and dated to the sample before the change,
 * so that no silence exceeds the interval.
 */
export function scheduleKeepalive(engine: IkeEngine, sa: IkeSa): void {
  sa.keepaliveTimer?.cancel();
  const interval = sa.conn.keepalive ?? engine.timers.keepalive;
  if (!(interval > 0) || !sa.natLocal || sa.natFake) return;
  const clock = engine.clock;
  // The exchange that established the SA just went out (for a rekey's successor, on its predecessor).
  let sampledAt = clock.now(), packets = espPacketsOut(engine, sa), lastEsp = 0, lastOwn = sampledAt;
  const arm = (last: number, now: number) => {
    const due = last + interval - now;
    sa.keepaliveTimer = clock.schedule(due > 0 ? Math.min(due, interval / 2) : interval / 2, tick);
  };
  const tick = () => {
    if (sa.state === "destroyed") return;
    const now = clock.now(), p = espPacketsOut(engine, sa);
    if (p !== packets) lastEsp = sampledAt;
    packets = p;
    sampledAt = now;
    let last = Math.max(sa.lastOutbound, lastEsp, lastOwn);
    if (now - last >= interval && sa.state === "established") {
      if (!engine.sendKeepalive(sa)) return; // the transport cannot send them
      engine.log.log("net", 2, `sending keep alive to ${sa.remote.address}[${sa.remote.port}]`, sa);
      last = lastOwn = now;
    }
    arm(last, now);
  };
  arm(sampledAt, sampledAt);
}

function espPacketsOut(engine: IkeEngine, sa: IkeSa): bigint {
  let n = 0n;
  for (const c of sa.children.values()) if (c.handles) n += engine.installer.usage?.(c.handles).packetsOut ?? 0n;
  return n;
}

export function childInstalled(engine: IkeEngine, sa: IkeSa, child: ChildSa): void {
  const c = child.config;
  const now = engine.clock.now();
  child.installedAt = now;
  const life = c.lifeTime ?? Math.round(c.rekeyTime * 1.1);
  if (c.rekeyTime > 0) {
    const at = jittered(c.rekeyTime, c.randTime ?? life - c.rekeyTime);
    child.rekeyAt = now + at;
    // Through the owner at that time: an IKE rekey moves children to another IKE SA.
    child.rekeyTimer = engine.clock.schedule(at, () => {
      const owner = engine.ownerOf(child);
      if (owner) engine.rekeyChild(owner, child);
    });
  }
  if (life > 0) {
    child.expireAt = now + life;
    child.expireTimer = engine.clock.schedule(life, () => {
      const owner = engine.ownerOf(child);
      if (owner) engine.terminateChild(owner, child);
    });
  }
  engine.emit("child-up", sa, child);
}
