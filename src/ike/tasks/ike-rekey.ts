// Rekeying the IKE SA (RFC 7296 §2.18): a CREATE_CHILD_SA with IKE proposals, fresh nonces and a new
// key exchange. SKEYSEED = prf(SK_d(old), g^ir(new) | Ni | Nr); the Child SAs move to the new IKE SA,
// and whoever started the rekey deletes the old one. Collisions (§2.8.2, §2.25.2) as strongSwan's
// ike_rekey.c: a rekey crossing ours is answered and settled by the nonces once our response is in.
import { ExchangeType, NotifyType, PayloadType, TransformType, findErrorNotify, findPayload, notify,
  type IkeMessage, type Payload, type Proposal as WireProposal } from "../wire/index.js";
import { lookupDh, rekeySkeyseed, deriveIkeSaKeys, type DhKeyPair } from "../crypto/index.js";
import { offerProposals, selectProposal, checkSelected, describeProposal } from "../proposals.js";
import { IkeSa, ikeAlgorithms, randomSpi64, spiBytes, type IkeAlgorithms, type IkeRekey } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import { initiateDeleteIke } from "./informational.js";
import { ikeEstablished } from "./lifecycle.js";
import { awaitDelete, lostCollision, lowerNonce, retryDelay, REKEYED_IKE_TIMEOUT } from "./collisions.js";

/** The IKE SA a rekey exchange creates: registered so the peer can reach it, but the children stay on
 *  `old` until adopt() moves them (a collision may make it the redundant one). */
function derive(engine: IkeEngine, old: IkeSa, initiator: boolean, spiI: bigint, spiR: bigint, algs: IkeAlgorithms,
                gir: Uint8Array, ni: Buffer, nr: Buffer): IkeSa {
  const sa = engine.createSa(old.conn, initiator, spiI, { ...old.local }, { ...old.remote });
  sa.spiR = spiR;
  sa.ni = ni;
  sa.nr = nr;
  const seed = rekeySkeyseed(old.algs!.prf, old.keys!.skD, gir, ni, nr);
  sa.setKeys(algs, deriveIkeSaKeys({ prf: algs.prf, encr: algs.encr, integ: algs.integ }, seed, ni, nr, spiBytes(spiI), spiBytes(spiR)));
  seed.fill(0);
  gir.fill(0);
  sa.localId = old.localId;
  sa.remoteId = old.remoteId;
  sa.natLocal = old.natLocal;
  sa.natRemote = old.natRemote;
  sa.natFake = old.natFake;
  sa.reauthAt = old.reauthAt; // a rekey does not authenticate: the reauthentication deadline stands
  sa.peerFragmentation = old.peerFragmentation;
  sa.lastInbound = engine.clock.now();
  engine.index(sa);
  engine.keylog?.ike(sa);
  return sa;
}

/** `sa` replaces `old`: the children move over and it is established; `old` waits for its DELETE. */
function adopt(engine: IkeEngine, old: IkeSa, sa: IkeSa): void {
  for (const [id, child] of old.children) sa.children.set(id, child);
  old.children.clear();
  old.successor = sa;
  engine.log.log("ike", 0, `IKE_SA ${old.name}[${old.uniqueId}] rekeyed as [${sa.uniqueId}]: ${describeProposal(sa.algs!.proposal)}`, sa);
  ikeEstablished(engine, sa);
  awaitDelete(engine, old, REKEYED_IKE_TIMEOUT);
}

/** The peer's rekey we answered while ours was in flight replaces `old` after all (we lost, or ours
 *  failed, or the peer deleted `old` not having seen our request): strongSwan's conclude_collision(). */
export function concludeCollision(engine: IkeEngine, old: IkeSa): boolean {
  const c = old.ikeRekey?.collision;
  old.ikeRekey = undefined;
  if (!c || c.successor.state !== "connecting") return false;
  adopt(engine, old, c.successor);
  return true;
}

export function initiateRekeyIke(engine: IkeEngine, sa: IkeSa, group?: number, collision?: IkeRekey["collision"]): void {
  if (sa.state !== "established") return;
  let ours: { spi: bigint; offered: WireProposal[]; dh: DhKeyPair; ni: Buffer } | undefined;
  // Built when it goes out: by then the peer may have rekeyed or be deleting this SA.
  const build = (): Payload[] | undefined => {
    if (sa.state !== "established") return undefined;
    const spi = randomSpi64();
    const o = ours = { spi, offered: offerProposals(sa.conn.proposals, spiBytes(spi)),
      dh: lookupDh(group ?? sa.algs!.dh.id).generateKeyPair(), ni: engine.nonce() };
    sa.state = "rekeying";
    sa.ikeRekey = { ni: o.ni, collision };
    engine.log.log("ike", 1, `rekeying IKE_SA ${sa.name}[${sa.uniqueId}]`, sa);
    return [
      { type: PayloadType.SA, proposals: o.offered },
      { type: PayloadType.NONCE, nonce: o.ni },
      { type: PayloadType.KE, group: o.dh.group.id, data: Buffer.from(o.dh.publicValue) },
    ];
  };
  engine.request(sa, ExchangeType.CREATE_CHILD_SA, build, (_m, inner) => rekeyResponse(engine, sa, ours!, group, inner));
}

function rekeyResponse(engine: IkeEngine, sa: IkeSa, ours: { spi: bigint; offered: WireProposal[]; dh: DhKeyPair; ni: Buffer },
                       group: number | undefined, inner: Payload[]): void {
  const log = (m: string, level = 0) => engine.log.log("ike", level, m, sa);
  const c = sa.ikeRekey?.collision;
  const { dh, offered, ni } = ours;
  const back = (why: string) => {
    dh.privateKey.fill(0);
    log(`IKE_SA rekey failed: ${why}`);
    if (concludeCollision(engine, sa)) return log("the peer's rekey of this IKE_SA we answered replaces it", 1);
    // TEMPORARY_FAILURE (§2.25.2) and other refusals: keep the SA and try again later, like strongSwan.
    sa.state = "established";
    const delay = retryDelay();
    log(`IKE_SA rekeying failed, trying again in ${delay.toFixed(1)} seconds`, 1);
    sa.rekeyTimer?.cancel();
    sa.rekeyAt = engine.clock.now() + delay;
    sa.rekeyTimer = engine.clock.schedule(delay, () => engine.rekeyIke(sa));
  };
  const err = findErrorNotify(inner);
  if (err?.notifyType === NotifyType.INVALID_KE_PAYLOAD && err.data.length === 2 && group === undefined) {
    dh.privateKey.fill(0);
    sa.state = "established";
    sa.ikeRekey = undefined;
    return initiateRekeyIke(engine, sa, err.data.readUInt16BE(0), c);
  }
  if (err) return back(`peer sent ${notifyName(err.notifyType)}`);
  const saP = findPayload(inner, PayloadType.SA), ke = findPayload(inner, PayloadType.KE), nonce = findPayload(inner, PayloadType.NONCE);
  if (!saP || !ke || !nonce) return back("response lacks SA, KE or Nonce");
  const sel = checkSelected(offered, saP.proposals);
  if (!sel.ok) return back(sel.reason);
  if (sel.proposal.spi.length !== 8) return back("responder's new IKE SPI is not 8 bytes");
  const algs = ikeAlgorithms(sel.proposal);
  if (ke.group !== dh.group.id) return back(`responder's KE group ${ke.group} differs from ours ${dh.group.id}`);
  let gir: Uint8Array;
  try { gir = dh.group.computeSharedSecret(dh.privateKey, ke.data); } catch (e) { return back((e as Error).message); }
  dh.privateKey.fill(0);
  const mine = derive(engine, sa, true, ours.spi, sel.proposal.spi.readBigUInt64BE(0), algs, gir, ni, nonce.nonce);
  if (c && lostCollision(ni, nonce.nonce, c.lower)) {
    log(`IKE_SA rekey collision lost, deleting redundant IKE_SA ${mine.name}[${mine.uniqueId}]`, 1);
    mine.state = "rekeyed";
    initiateDeleteIke(engine, mine);
    // The winner deletes `sa`; if it dropped its own new SA meanwhile, keep `sa` until it does.
    if (!concludeCollision(engine, sa)) sa.state = "established";
    return;
  }
  sa.ikeRekey = undefined;
  if (c && c.successor.state === "connecting") {
    log(`IKE_SA rekey collision won, waiting for delete of redundant IKE_SA ${c.successor.name}[${c.successor.uniqueId}]`, 1);
    awaitDelete(engine, c.successor, engine.timers.halfOpenTimeout);
  }
  adopt(engine, sa, mine);
  initiateDeleteIke(engine, sa);
}

export function respondRekeyIke(engine: IkeEngine, sa: IkeSa, req: IkeMessage, inner: Payload[]): void {
  const saP = findPayload(inner, PayloadType.SA)!, ke = findPayload(inner, PayloadType.KE), nonce = findPayload(inner, PayloadType.NONCE);
  if (!ke || !nonce) return engine.respond(sa, req, [notify(NotifyType.INVALID_SYNTAX)]);
  const refuse = (why: string) => {
    engine.log.log("ike", 1, `peer initiated rekeying, but ${why}`, sa);
    engine.respond(sa, req, [notify(NotifyType.TEMPORARY_FAILURE)]);
  };
  // §2.25.2: not while we close it, nor while one of its Child SAs is being created, rekeyed or closed.
  // Our own rekey of it in flight is no reason: that is a collision, answered as usual.
  if (sa.state !== "established" && sa.state !== "rekeying") return refuse(`the IKE_SA is ${sa.state}`);
  if (sa.state === "established" && (sa.pending?.exchange === ExchangeType.CREATE_CHILD_SA ||
      [...sa.children.values()].some((c) => c.state === "deleting"))) return refuse("a CHILD_SA is half-open");
  const spiR = randomSpi64();
  const sel = selectProposal(offerProposals(sa.conn.proposals, spiBytes(spiR)), saP.proposals);
  if (!sel.ok) {
    engine.log.log("ike", 0, `IKE_SA rekey: ${sel.reason}`, sa);
    return engine.respond(sa, req, [notify(NotifyType.NO_PROPOSAL_CHOSEN)]);
  }
  const dhT = sel.proposal.transforms.find((t) => t.type === TransformType.DH)!;
  if (ke.group !== dhT.id) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(dhT.id);
    return engine.respond(sa, req, [notify(NotifyType.INVALID_KE_PAYLOAD, data)]);
  }
  if (sel.proposal.spi.length !== 8) return engine.respond(sa, req, [notify(NotifyType.INVALID_SYNTAX)]);
  const algs = ikeAlgorithms(sel.proposal);
  const dh = algs.dh.generateKeyPair();
  let gir: Uint8Array;
  try { gir = dh.group.computeSharedSecret(dh.privateKey, ke.data); } catch {
    return engine.respond(sa, req, [notify(NotifyType.INVALID_SYNTAX)]);
  }
  const nr = engine.nonce();
  engine.respond(sa, req, [
    { type: PayloadType.SA, proposals: [{ ...sel.proposal, spi: spiBytes(spiR) }] },
    { type: PayloadType.NONCE, nonce: nr },
    { type: PayloadType.KE, group: dh.group.id, data: Buffer.from(dh.publicValue) },
  ]);
  dh.privateKey.fill(0);
  const nu = derive(engine, sa, false, sel.proposal.spi.readBigUInt64BE(0), spiR, algs, gir, nonce.nonce, nr);
  if (sa.ikeRekey) {
    // Ours is in flight: whose SA survives is decided when its response arrives (§2.8.2).
    engine.log.log("ike", 1, `detected IKE_SA rekey collision, IKE_SA [${nu.uniqueId}] waits for our rekey's outcome`, sa);
    const prev = sa.ikeRekey.collision?.successor;
    if (prev) engine.destroy(prev, "superseded by another rekey of the peer");
    sa.ikeRekey.collision = { lower: lowerNonce(nonce.nonce, nr), successor: nu };
    return;
  }
  adopt(engine, sa, nu); // the old SA waits for the initiator's DELETE
}

function notifyName(type: number): string {
  return Object.entries(NotifyType).find(([, v]) => v === type)?.[0] ?? String(type);
}
