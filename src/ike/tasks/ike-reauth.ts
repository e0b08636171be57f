// Reauthentication (RFC 7296 §2.8.3) the make-before-break way, as strongSwan with make_before_break = yes:
// when reauth_time is up, a new IKE SA of the same connection runs IKE_SA_INIT and IKE_AUTH afresh (both
// sides check each other's credentials again) and recreates the old SA's children; only when those
// exchanges are over is the old IKE SA deleted, and its children with it. Traffic flows on the old
// children until the new ones are installed. We start the new SA whatever our role was, as charon does
// ("reauthenticating IKE_SA actively") when it has no virtual IPs or EAP to lose.
import { ExchangeType } from "../wire/index.js";
import { randomSpi64, type IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import { initiateIkeSaInit } from "./ike-sa-init.js";
import { initiateDeleteIke } from "./informational.js";
import { jittered, scheduleIkeRekey } from "./lifecycle.js";

/** A failed reauthentication keeps the old SA and is tried again after this share of reauth_time. */
const RETRY_SHARE = 0.1;
/** Our IKE rekey of the SA is in flight when reauthentication is due: look again this much later. */
const BUSY_DELAY = 1;

interface Reauth { old: IkeSa; fresh: IkeSa }

/** Reauthentications under way, per engine (one per IKE SA at most). */
const underway = new WeakMap<IkeEngine, Set<Reauth>>();

function reauths(engine: IkeEngine): Set<Reauth> {
  let set = underway.get(engine);
  if (!set) {
    underway.set(engine, (set = new Set()));
    engine.on("ike-down", (sa: IkeSa, reason: string) => {
      const r = [...set!].find((x) => x.fresh === sa);
      if (r) failed(engine, r, reason);
    });
  }
  return set;
}

/** `sa` and the SAs that replaced it through IKE rekeys (the peer may rekey an SA we are replacing). */
function chain(sa: IkeSa): IkeSa[] {
  const out = [sa];
  for (let s = sa.successor; s; s = s.successor) out.push(s);
  return out;
}

/** Arms the reauthentication timer of an established SA. The deadline counts from the authentication:
 *  an IKE rekey's successor inherits reauthAt and comes here with it. */
export function scheduleReauth(engine: IkeEngine, sa: IkeSa): void {
  sa.reauthTimer?.cancel();
  const t = sa.conn.reauthTime;
  if (t <= 0) return;
  const now = engine.clock.now();
  if (sa.reauthAt === 0) sa.reauthAt = now + jittered(t, sa.conn.randTime ?? t * 0.1);
  sa.reauthTimer = engine.clock.schedule(Math.max(0, sa.reauthAt - now), () => {
    if (sa.state !== "rekeying") return initiateReauth(engine, sa);
    // Its successor would take the deadline over; if the rekey fails, this SA still needs reauthenticating.
    sa.reauthTimer = engine.clock.schedule(BUSY_DELAY, () => scheduleReauth(engine, sa));
  });
}

/** Start replacing `old` with a freshly authenticated IKE SA; nothing happens unless it is established and
 *  not already being replaced (nor the replacement of one). */
export function initiateReauth(engine: IkeEngine, old: IkeSa): void {
  const set = reauths(engine);
  if (old.state !== "established" || [...set].some((r) => r.fresh === old || chain(r.old).includes(old))) return;
  const conn = old.conn;
  const children = [...old.children.values()]
    .filter((c) => c.state === "installing" || c.state === "installed" || c.state === "rekeying").map((c) => c.config);
  // Where the old SA talks to now (after NAT-T floating), on the configured IKE ports like any initiation.
  const fresh = engine.createSa(conn, true, randomSpi64(), { address: old.local.address, port: conn.localPort },
    { address: old.remote.address, port: conn.remotePort });
  set.add({ old, fresh });
  old.rekeyTimer?.cancel(); // no IKE rekey of an SA on its way out
  engine.log.log("ike", 0, `reauthenticating IKE_SA ${old.name}[${old.uniqueId}] (make-before-break) as IKE_SA [${fresh.uniqueId}], ` +
    `recreating ${children.length} CHILD_SA${children.length === 1 ? "" : "s"}`, old);
  initiateIkeSaInit(engine, fresh, children);
}

/**
 * IKE_AUTH calls this as initiator once `sa` is established and its further children are requested. If `sa`
 * replaces an old SA, that one is deleted after those CREATE_CHILD_SA exchanges, whatever their outcome
 * (charon's ike_reauth_complete task, queued behind them).
 */
export function reauthAuthenticated(engine: IkeEngine, sa: IkeSa): void {
  const set = underway.get(engine);
  const r = set && [...set].find((x) => x.fresh === sa);
  if (!r) return;
  // A request whose builder sends nothing: it runs when the queue gets to it.
  engine.request(sa, ExchangeType.INFORMATIONAL, () => { complete(engine, r); return undefined; }, () => undefined);
}

function complete(engine: IkeEngine, r: Reauth): void {
  reauths(engine).delete(r);
  const live = chain(r.old).at(-1)!;
  engine.log.log("ike", 0, `IKE_SA ${r.old.name}[${r.old.uniqueId}] reauthenticated as [${r.fresh.uniqueId}], deleting ` +
    `${live === r.old ? "it" : `its successor [${live.uniqueId}]`}`, live);
  initiateDeleteIke(engine, live);
}

/** The new SA went down before it replaced the old one: keep the old SA and try again later. */
function failed(engine: IkeEngine, r: Reauth, reason: string): void {
  reauths(engine).delete(r);
  const live = chain(r.old).at(-1)!;
  if (live.state !== "established") return;
  const retry = Math.max(1, live.conn.reauthTime * RETRY_SHARE);
  engine.log.log("ike", 0, `reauthentication of IKE_SA ${live.name}[${live.uniqueId}] failed (${reason}), ` +
    `keeping it and trying again in ${retry} s`, live);
  live.reauthAt = engine.clock.now() + retry;
  scheduleReauth(engine, live);
  if (live === r.old) scheduleIkeRekey(engine, live); // initiateReauth() stopped its rekeying
}
