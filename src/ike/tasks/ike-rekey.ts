// Rekeying the IKE SA (RFC 7296 §2.18): a CREATE_CHILD_SA with IKE proposals, fresh nonces and a new
// key exchange. SKEYSEED = prf(SK_d(old), g^ir(new) | Ni | Nr); the Child SAs move to the new IKE SA,
// and whoever started the rekey deletes the old one.
import { randomBytes } from "node:crypto";
import { ExchangeType, NotifyType, PayloadType, ProtocolId, TransformType, findErrorNotify, findPayload, notify,
  type IkeMessage, type Payload } from "../wire/index.js";
import { lookupDh, rekeySkeyseed, deriveIkeSaKeys } from "../crypto/index.js";
import { offerProposals, selectProposal, checkSelected, describeProposal } from "../proposals.js";
import { IkeSa, ikeAlgorithms, randomSpi64, spiBytes, type IkeAlgorithms } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import { initiateDeleteIke } from "./informational.js";
import { ikeEstablished } from "./lifecycle.js";

function successor(engine: IkeEngine, old: IkeSa, initiator: boolean, spiI: bigint, spiR: bigint, algs: IkeAlgorithms,
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
  sa.peerFragmentation = old.peerFragmentation;
  sa.lastInbound = engine.clock.now();
  for (const [id, child] of old.children) sa.children.set(id, child);
  old.children.clear();
  engine.index(sa);
  engine.keylog?.ike(sa);
  engine.log.log("ike", 0, `IKE_SA ${old.name}[${old.uniqueId}] rekeyed as [${sa.uniqueId}]: ${describeProposal(algs.proposal)}`, sa);
  ikeEstablished(engine, sa);
  return sa;
}

export function initiateRekeyIke(engine: IkeEngine, sa: IkeSa, group?: number): void {
  if (sa.state !== "established") return;
  sa.state = "rekeying";
  const spi = randomSpi64();
  const offered = offerProposals(sa.conn.proposals, ProtocolId.IKE, spiBytes(spi));
  const dh = lookupDh(group ?? sa.algs!.dh.id).generateKeyPair();
  const ni = randomBytes(32);
  const payloads: Payload[] = [
    { type: PayloadType.SA, proposals: offered },
    { type: PayloadType.NONCE, nonce: ni },
    { type: PayloadType.KE, group: dh.group.id, data: Buffer.from(dh.publicValue) },
  ];
  engine.log.log("ike", 1, `rekeying IKE_SA ${sa.name}[${sa.uniqueId}]`, sa);
  engine.request(sa, ExchangeType.CREATE_CHILD_SA, payloads, (_m, inner) => {
    const back = (why: string) => { engine.log.log("ike", 0, `IKE_SA rekey failed: ${why}`, sa); sa.state = "established"; };
    const err = findErrorNotify(inner);
    if (err?.notifyType === NotifyType.INVALID_KE_PAYLOAD && err.data.length === 2 && group === undefined) {
      sa.state = "established";
      return initiateRekeyIke(engine, sa, err.data.readUInt16BE(0));
    }
    if (err) return back(`peer sent notify ${err.notifyType}`);
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
    successor(engine, sa, true, spi, sel.proposal.spi.readBigUInt64BE(0), algs, gir, ni, nonce.nonce);
    initiateDeleteIke(engine, sa);
  });
}

export function respondRekeyIke(engine: IkeEngine, sa: IkeSa, req: IkeMessage, inner: Payload[]): void {
  const saP = findPayload(inner, PayloadType.SA)!, ke = findPayload(inner, PayloadType.KE), nonce = findPayload(inner, PayloadType.NONCE);
  if (!ke || !nonce) return engine.respond(sa, req, [notify(NotifyType.INVALID_SYNTAX)]);
  if (sa.state !== "established") return engine.respond(sa, req, [notify(NotifyType.TEMPORARY_FAILURE)]);
  const spiR = randomSpi64();
  const sel = selectProposal(offerProposals(sa.conn.proposals, ProtocolId.IKE, spiBytes(spiR)), saP.proposals);
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
  const nr = randomBytes(32);
  engine.respond(sa, req, [
    { type: PayloadType.SA, proposals: [{ ...sel.proposal, spi: spiBytes(spiR) }] },
    { type: PayloadType.NONCE, nonce: nr },
    { type: PayloadType.KE, group: dh.group.id, data: Buffer.from(dh.publicValue) },
  ]);
  dh.privateKey.fill(0);
  successor(engine, sa, false, sel.proposal.spi.readBigUInt64BE(0), spiR, algs, gir, nonce.nonce, nr);
  sa.state = "rekeying"; // the old SA waits for the initiator's DELETE
}
