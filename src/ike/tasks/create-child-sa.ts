// Child SA negotiation (RFC 7296 §1.3, §2.9, §2.17): the first Child SA inside IKE_AUTH, and the
// CREATE_CHILD_SA exchange for new Child SAs and Child SA rekeys (with optional PFS). Responder side:
// pick the child config whose selectors intersect the peer's, narrow, select a proposal, install.
// A Child SA is ESP (AES-GCM) or AH (RFC 4302: integrity only); AH is never offered or accepted across a NAT.
import { randomBytes } from "node:crypto";
import {
  ExchangeType, NotifyType, PayloadType, ProtocolId, TransformType, findErrorNotify, findNotify, findPayload, hasNotify, protocolName,
  notify, type IkeMessage, type Payload, type Proposal as WireProposal, type NotifyPayload,
} from "../wire/index.js";
import {
  deriveChildSaKeys, deriveChildSaKeyLengths, lookupAhInteg, lookupEncr, lookupDh, type DhKeyPair, type Proposal,
  type ChildSaKeys, TRANSFORM_ESN, ESN_ENABLED,
} from "../crypto/index.js";
import { offerProposals, selectProposal, checkSelected, describeProposal, describeWithProtocol, protocolOf } from "../proposals.js";
import { toWire, fromWire, narrow, isSubset, formatList } from "../selectors.js";
import type { IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import { hex8 } from "../engine.js";
import { childProposals, type ChildConfig } from "../config.js";
import type { ChildSa, ChildSaSpec } from "../child-sa.js";
import { childInstalled } from "./lifecycle.js";
import { initiateDeleteChild } from "./informational.js";
import { respondRekeyIke } from "./ike-rekey.js";
import { lostCollision, lowerNonce, retryDelay } from "./collisions.js";

/** Notifies that fail only the Child SA, not the IKE SA (RFC 7296 §1.2). */
export const CHILD_ERRORS = new Set<number>([
  NotifyType.NO_PROPOSAL_CHOSEN, NotifyType.TS_UNACCEPTABLE, NotifyType.SINGLE_PAIR_REQUIRED,
  NotifyType.INTERNAL_ADDRESS_FAILURE, NotifyType.FAILED_CP_REQUIRED, NotifyType.INVALID_KE_PAYLOAD,
  NotifyType.CHILD_SA_NOT_FOUND, NotifyType.TEMPORARY_FAILURE, NotifyType.NO_ADDITIONAL_SAS,
]);

const GCM_ICV: Record<number, 8 | 12 | 16> = { 18: 8, 19: 12, 20: 16 };

/** A random inbound SPI like charon's (0xc… range), never a reserved value. */
export function allocateSpi(): number {
  return (0xc0000000 | (randomBytes(4).readUInt32BE() >>> 2)) >>> 0;
}

function spi4(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function withoutDh(list: WireProposal[]): WireProposal[] {
  return list.map((p) => ({ ...p, transforms: p.transforms.filter((t) => t.type !== TransformType.DH) }));
}

/**
 * Why AH cannot be used on `sa`, if it cannot: AH authenticates the outer IP addresses, which a NAT rewrites, and
 * UDP encapsulation (RFC 3948) exists for ESP only. strongSwan fails such a child when the kernel refuses to
 * install AH with UDP encapsulation; here AH is left out of the negotiation instead, with this reason.
 */
export function ahBlocked(sa: IkeSa): string | undefined {
  if (sa.natRemote || (sa.natLocal && !sa.natFake)) {
    return `a NAT was detected (${[sa.natLocal && !sa.natFake ? "in front of us" : "", sa.natRemote ? "in front of the peer" : ""].filter(Boolean).join(", ")}), ` +
      "and AH cannot be UDP-encapsulated";
  }
  if (sa.natFake) return "UDP encapsulation is forced (encap = yes), which AH does not support";
  return undefined;
}

/** The proposals of `config` usable on `sa`, in order of preference, and why AH ones were left out (if they were). */
function usableProposals(sa: IkeSa, config: ChildConfig): { proposals: Proposal[]; noAh?: string } {
  const all = childProposals(config), why = ahBlocked(sa);
  if (!why || !all.some((p) => p.protocol === "ah")) return { proposals: all };
  return { proposals: all.filter((p) => p.protocol !== "ah"), noAh: why };
}

const ahOnly = (config: ChildConfig, why: string) => `CHILD_SA ${config.name} has AH proposals only, and AH cannot be used: ${why}`;

/** A child we wanted that cannot be negotiated at all: said once, and the daemon told (trap acquires fail). */
export function childImpossible(engine: IkeEngine, sa: IkeSa, config: ChildConfig, why: string): void {
  engine.log.log("chd", 0, why, sa);
  engine.emit("child-failed", sa, config, why);
}

/** What the initiator of a child negotiation remembers until the response. */
export interface ChildProposal {
  config: ChildConfig;
  spiIn: number;
  offered: WireProposal[];
  transport: boolean;
  dh?: DhKeyPair;
  nonce?: Buffer;
  rekeying?: ChildSa;
  payloads: Payload[];
}

/** Build SA/TSi/TSr (+KE, Nonce outside IKE_AUTH) for a child of ours on `sa`; a reason if it has nothing to offer there. */
export function proposeChild(sa: IkeSa, config: ChildConfig, inAuth = true, rekeying?: ChildSa, nonce?: Buffer): ChildProposal | string {
  const usable = usableProposals(sa, config);
  if (usable.proposals.length === 0) return ahOnly(config, usable.noAh!);
  const spiIn = allocateSpi();
  let offered = offerProposals(usable.proposals, spi4(spiIn));
  const pfs = usable.proposals.flatMap((p) => p.dh)[0];
  if (inAuth || pfs === undefined) offered = withoutDh(offered); // IKE_AUTH's child uses the IKE SA's key exchange
  const transport = config.mode === "transport";
  const p: ChildProposal = { config, spiIn, offered, transport, rekeying, payloads: [] };
  const extra: Payload[] = [];
  if (!inAuth) {
    p.nonce = nonce ?? randomBytes(32);
    extra.push({ type: PayloadType.NONCE, nonce: p.nonce });
    if (pfs !== undefined) {
      p.dh = lookupDh(pfs).generateKeyPair();
      extra.push({ type: PayloadType.KE, group: pfs, data: Buffer.from(p.dh.publicValue) });
    }
  }
  p.payloads = [
    ...(rekeying ? [rekeyNotify(rekeying)] : []),
    ...(transport ? [notify(NotifyType.USE_TRANSPORT_MODE)] : []),
    { type: PayloadType.SA, proposals: offered },
    ...extra,
    { type: PayloadType.TSi, selectors: config.localTs.map(toWire) },
    { type: PayloadType.TSr, selectors: config.remoteTs.map(toWire) },
  ];
  return p;
}

/** REKEY_SA names the SA by our inbound SPI and its protocol (RFC 7296 §3.10.1). */
function rekeyNotify(child: ChildSa): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocol: protocolOf(child.spec.protocol), spi: spi4(child.spiIn), notifyType: NotifyType.REKEY_SA, data: Buffer.alloc(0) };
}

/** Initiator: process the child part of a response (IKE_AUTH or CREATE_CHILD_SA) and install it. */
export function completeChild(engine: IkeEngine, sa: IkeSa, p: ChildProposal, inner: Payload[], ni: Buffer, nr: Buffer,
                              peerKe?: Buffer): ChildSa | undefined {
  const log = (m: string, level = 0) => engine.log.log("chd", level, m, sa);
  const err = findErrorNotify(inner);
  if (err) {
    const name = Object.entries(NotifyType).find(([, v]) => v === err.notifyType)?.[0] ?? String(err.notifyType);
    log(`peer refused CHILD_SA ${p.config.name}: ${name}` + (err.notifyType === NotifyType.NO_PROPOSAL_CHOSEN
      ? `\n  ours: ${p.offered.map(describeWithProtocol).join(", ")}`
      : err.notifyType === NotifyType.TS_UNACCEPTABLE
        ? `\n  our TSi: ${formatList(p.config.localTs)}\n  our TSr: ${formatList(p.config.remoteTs)}` : ""));
    engine.emit("child-failed", sa, p.config, name);
    return undefined;
  }
  const saP = findPayload(inner, PayloadType.SA), tsi = findPayload(inner, PayloadType.TSi), tsr = findPayload(inner, PayloadType.TSr);
  if (!saP || !tsi || !tsr) { log(`CHILD_SA ${p.config.name}: response lacks SA, TSi or TSr`); return undefined; }
  const sel = checkSelected(p.offered, saP.proposals);
  if (!sel.ok) { log(`CHILD_SA ${p.config.name}: ${sel.reason}`); return undefined; }
  const localTs = fromWire(tsi.selectors), remoteTs = fromWire(tsr.selectors);
  if (!isSubset(localTs, p.config.localTs) || !isSubset(remoteTs, p.config.remoteTs) || !localTs.length || !remoteTs.length) {
    log(`CHILD_SA ${p.config.name}: peer returned selectors outside ours:\n  ours:   ${formatList(p.config.localTs)} === ${formatList(p.config.remoteTs)}\n  theirs: ${formatList(localTs)} === ${formatList(remoteTs)}`);
    return undefined;
  }
  if (sel.proposal.spi.length !== 4) { log("peer's SPI is not 4 bytes"); return undefined; }
  let gir: Uint8Array | undefined;
  if (p.dh) {
    if (!peerKe) { log(`CHILD_SA ${p.config.name}: PFS requested but the response has no KE`); return undefined; }
    try { gir = p.dh.group.computeSharedSecret(p.dh.privateKey, peerKe); } catch (e) { log(`PFS key exchange failed: ${(e as Error).message}`); return undefined; }
  }
  const transport = p.transport && hasNotify(inner, NotifyType.USE_TRANSPORT_MODE);
  const spec = childSpec(sa, p.config, sel.proposal, p.spiIn, sel.proposal.spi.readUInt32BE(0), ni, nr, gir, true, localTs, remoteTs, transport);
  if (p.dh) spec.dhGroup = p.dh.group.id;
  return install(engine, sa, p.config, spec, true, p.rekeying);
}

/** Responder: negotiate a child from a request's SA/TSi/TSr; returns the response payloads. */
export function negotiateChild(engine: IkeEngine, sa: IkeSa, inner: Payload[], ni: Buffer, nr: Buffer,
                               opts: { inAuth?: boolean; gir?: Uint8Array; rekeying?: ChildSa; peerKeGroup?: number } = {}): { payloads: Payload[]; child?: ChildSa } {
  const inAuth = opts.inAuth ?? true;
  const log = (m: string) => engine.log.log("chd", 0, m, sa);
  const refuse = (type: number, why: string, data?: Buffer) => { log(why); return { payloads: [notify(type, data)] }; };
  const saP = findPayload(inner, PayloadType.SA), tsi = findPayload(inner, PayloadType.TSi), tsr = findPayload(inner, PayloadType.TSr);
  if (!saP || !tsi || !tsr) return refuse(NotifyType.INVALID_SYNTAX, "child request lacks SA, TSi or TSr");
  const theirTsi = fromWire(tsi.selectors), theirTsr = fromWire(tsr.selectors);
  // The child config: the one being rekeyed, else the first whose selectors intersect the peer's.
  const candidates = opts.rekeying ? [opts.rekeying.config] : sa.conn.children;
  let config: ChildConfig | undefined, localTs: typeof theirTsi = [], remoteTs: typeof theirTsi = [];
  for (const c of candidates) {
    remoteTs = narrow(theirTsi, c.remoteTs);
    localTs = narrow(theirTsr, c.localTs);
    if (remoteTs.length && localTs.length) { config = c; break; }
  }
  if (!config) {
    return refuse(NotifyType.TS_UNACCEPTABLE, `no matching CHILD_SA config found for the peer's selectors:\n  theirs: TSi ${formatList(theirTsi)} TSr ${formatList(theirTsr)}\n` +
      sa.conn.children.map((c) => `  ${c.name}: local ${formatList(c.localTs)} remote ${formatList(c.remoteTs)}`).join("\n"));
  }
  const usable = usableProposals(sa, config);
  if (usable.proposals.length === 0) return refuse(NotifyType.NO_PROPOSAL_CHOSEN, ahOnly(config, usable.noAh!));
  const spiIn = allocateSpi();
  let ours = offerProposals(usable.proposals, spi4(spiIn));
  if (inAuth) ours = withoutDh(ours);
  const sel = selectProposal(ours, inAuth ? withoutDh(saP.proposals) : saP.proposals);
  if (!sel.ok) {
    return refuse(NotifyType.NO_PROPOSAL_CHOSEN, `CHILD_SA ${config.name}: ${sel.reason}${usable.noAh ? `\n  our AH proposals were left out: ${usable.noAh}` : ""}`);
  }
  if (sel.proposal.spi.length !== 4) return refuse(NotifyType.INVALID_SYNTAX, "AH/ESP SPI must be 4 bytes");
  const dhT = sel.proposal.transforms.find((t) => t.type === TransformType.DH);
  if (dhT && dhT.id !== 0 && opts.peerKeGroup !== dhT.id) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(dhT.id);
    return refuse(NotifyType.INVALID_KE_PAYLOAD, `CHILD_SA ${config.name}: PFS group ${dhT.id} needed, peer sent ${opts.peerKeGroup ?? "no KE"}`, data);
  }
  const transport = config.mode === "transport" && hasNotify(inner, NotifyType.USE_TRANSPORT_MODE);
  const spec = childSpec(sa, config, sel.proposal, spiIn, sel.proposal.spi.readUInt32BE(0), ni, nr, opts.gir, false, localTs, remoteTs, transport);
  if (dhT && dhT.id !== 0) spec.dhGroup = dhT.id;
  const child = install(engine, sa, config, spec, false, opts.rekeying);
  if (!child) return { payloads: [notify(NotifyType.TEMPORARY_FAILURE)] };
  return {
    child,
    payloads: [
      ...(transport ? [notify(NotifyType.USE_TRANSPORT_MODE)] : []),
      { type: PayloadType.SA, proposals: [{ ...sel.proposal, spi: spi4(spiIn) }] },
      { type: PayloadType.TSi, selectors: remoteTs.map(toWire) },
      { type: PayloadType.TSr, selectors: localTs.map(toWire) },
    ],
  };
}

function childSpec(sa: IkeSa, config: ChildConfig, proposal: WireProposal, spiIn: number, spiOut: number, ni: Buffer, nr: Buffer,
                   gir: Uint8Array | undefined, weInitiated: boolean, localTs: ChildSaSpec["localTs"], remoteTs: ChildSaSpec["remoteTs"],
                   transport: boolean): ChildSaSpec {
  const esn = proposal.transforms.some((t) => t.type === TRANSFORM_ESN && t.id === ESN_ENABLED);
  const directions = (keys: ChildSaKeys) => {
    gir?.fill(0);
    const mine = weInitiated ? keys.initiatorToResponder : keys.responderToInitiator;
    const theirs = weInitiated ? keys.responderToInitiator : keys.initiatorToResponder;
    return {
      keysIn: { encryptionKey: Uint8Array.from(theirs.encryptionKey), integrityKey: Uint8Array.from(theirs.integrityKey) },
      keysOut: { encryptionKey: Uint8Array.from(mine.encryptionKey), integrityKey: Uint8Array.from(mine.integrityKey) },
    };
  };
  const common = {
    name: config.name, mode: transport ? "transport" : "tunnel", esn, spiIn, spiOut,
    localTs, remoteTs, local: { ...sa.local }, remote: { ...sa.remote }, replayWindow: config.replayWindow,
    lifetime: {
      softBytes: config.rekeyBytes, hardBytes: config.lifeBytes, softPackets: config.rekeyPackets, hardPackets: config.lifePackets,
    },
  } as const;
  if (proposal.protocol === ProtocolId.AH) {
    // KEYMAT holds integrity keys only (RFC 7296 §2.17: "encryption key (if any)").
    const integ = lookupAhInteg(proposal.transforms.find((t) => t.type === TransformType.INTEG)!.id);
    const keys = deriveChildSaKeyLengths(sa.algs!.prf, sa.keys!.skD, { encr: 0, integ: integ.keyLength }, ni, nr, gir);
    return { ...common, protocol: "ah", integ: { id: integ.id, name: integ.name }, udpEncap: false, ...directions(keys) };
  }
  const e = proposal.transforms.find((t) => t.type === TransformType.ENCR)!;
  const icv = GCM_ICV[e.id];
  if (!icv) throw new Error(`the data plane implements AES-GCM only; negotiated ${describeProposal(proposal)}`);
  const encr = lookupEncr(e.id, e.keyLength);
  const keys = deriveChildSaKeys(sa.algs!.prf, sa.keys!.skD, { encr }, ni, nr, gir);
  return {
    ...common, protocol: "esp", encr: { id: e.id, keyBits: e.keyLength ?? 128, icvLength: icv }, udpEncap: sa.natT, ...directions(keys),
  };
}

function install(engine: IkeEngine, sa: IkeSa, config: ChildConfig, spec: ChildSaSpec, byUs: boolean, rekeying?: ChildSa): ChildSa | undefined {
  const child = engine.newChild(config, spec, byUs);
  if (rekeying && !byUs) child.replaces = rekeying;
  try {
    child.handles = engine.installer.install(spec);
  } catch (e) {
    engine.log.log("chd", 0, `unable to install CHILD_SA ${config.name}: ${(e as Error).message}`, sa);
    return undefined;
  }
  sa.children.set(child.uniqueId, child);
  child.state = "installed";
  engine.keylog?.child(sa, child);
  engine.log.log("chd", 0, `CHILD_SA ${config.name}{${child.uniqueId}} established with SPIs ${hex8(spec.spiIn)}_i ${hex8(spec.spiOut)}_o ` +
    `and TS ${formatList(spec.localTs)} === ${formatList(spec.remoteTs)}${spec.dhGroup ? `, PFS group ${spec.dhGroup}` : ""}${rekeying ? ` (rekeyed {${rekeying.uniqueId}})` : ""}`, sa);
  if (rekeying && rekeying.state !== "deleted") rekeying.state = "rekeyed";
  childInstalled(engine, sa, child);
  return child;
}

// ------------------------------------------------------------------ CREATE_CHILD_SA exchanges

/** A new Child SA on an established IKE SA; refused for now (TEMPORARY_FAILURE, §2.25), it is tried again
 *  later on whatever IKE SA has replaced this one by then. */
export function initiateCreateChild(engine: IkeEngine, sa: IkeSa, config: ChildConfig): void {
  const p = proposeChild(sa, config, false, undefined, engine.nonce());
  if (typeof p === "string") return childImpossible(engine, sa, config, p);
  engine.request(sa, ExchangeType.CREATE_CHILD_SA, p.payloads, (_m, inner) => {
    if (findErrorNotify(inner)?.notifyType === NotifyType.TEMPORARY_FAILURE) {
      return retryLater(engine, sa, `creating CHILD_SA ${config.name}`, () => {
        const now = engine.current(sa);
        if (now) initiateCreateChild(engine, now, config);
      });
    }
    const nonce = findPayload(inner, PayloadType.NONCE);
    if (!nonce && !findErrorNotify(inner)) return engine.log.log("chd", 0, "CREATE_CHILD_SA response lacks a nonce", sa);
    completeChild(engine, sa, p, inner, p.nonce!, nonce?.nonce ?? Buffer.alloc(0), findPayload(inner, PayloadType.KE)?.data);
  });
}

function retryLater(engine: IkeEngine, sa: IkeSa, what: string, retry: () => void): { cancel(): void } {
  const delay = retryDelay();
  engine.log.log("chd", 1, `${what} failed for now, trying again in ${delay.toFixed(1)} seconds`, sa);
  return engine.clock.schedule(delay, retry);
}

/** Rekey a Child SA (RFC 7296 §2.8): new SA first, then delete the old one. The request is built when
 *  it goes out, so a child the peer rekeyed or deleted meanwhile is left alone. */
export function initiateRekeyChild(engine: IkeEngine, sa: IkeSa, old: ChildSa): void {
  if (old.state !== "installed") return;
  // The IKE SA is being rekeyed: not now (§2.25.2), but later on the IKE SA that carries the child then.
  if (sa.state !== "established") {
    if (sa.state === "rekeying") retryRekey(engine, sa, old);
    return;
  }
  let p: ChildProposal | undefined;
  const build = (): Payload[] | undefined => {
    if (old.state !== "installed") return undefined;
    if (sa.state !== "established" || sa.children.get(old.uniqueId) !== old) {
      retryRekey(engine, sa, old); // the IKE SA was rekeyed meanwhile
      return undefined;
    }
    const q = proposeChild(sa, old.config, false, old, engine.nonce());
    if (typeof q === "string") {
      childImpossible(engine, sa, old.config, `unable to rekey CHILD_SA ${old.name}{${old.uniqueId}}: ${q}`);
      return undefined;
    }
    p = q;
    old.state = "rekeying";
    sa.childRekey = { old, ni: p.nonce!, deletedSpis: [] };
    engine.log.log("chd", 1, `rekeying CHILD_SA ${old.name}{${old.uniqueId}}`, sa);
    return p.payloads;
  };
  engine.request(sa, ExchangeType.CREATE_CHILD_SA, build, (_m, inner) => rekeyResponse(engine, sa, p!, inner));
}

/** Our rekey's response, settled against what the peer did meanwhile (strongSwan child_rekey.c process_i):
 *  rekeyed the same child too (§2.8.1: the lowest nonce loses), deleted it (§2.25.1), or deleted the new SA. */
function rekeyResponse(engine: IkeEngine, sa: IkeSa, p: ChildProposal, inner: Payload[]): void {
  const r = sa.childRekey!;
  sa.childRekey = undefined;
  const { old, collision: c } = r;
  const log = (m: string) => engine.log.log("chd", 1, m, sa);
  const name = `CHILD_SA ${old.name}{${old.uniqueId}}`;
  const err = findErrorNotify(inner), nonce = findPayload(inner, PayloadType.NONCE);
  const nu = !err && nonce ? completeChild(engine, sa, p, inner, r.ni, nonce.nonce, findPayload(inner, PayloadType.KE)?.data) : undefined;
  if (!nu || !nonce) {
    if (err) log(`peer refused to rekey ${name}: ${notifyName(err.notifyType)}`);
    if (old.state === "deleted") return log(`${name} was deleted by the peer, rekeying aborted`);
    if (c && c.child.state !== "deleted") return log(`${name} was rekeyed by the peer, rekeying aborted`); // its DELETE follows
    if (err?.notifyType === NotifyType.CHILD_SA_NOT_FOUND) {
      // The peer lost it without deleting it: replace it rather than retry forever.
      engine.removeChild(sa, old, "the peer does not know it");
      return initiateCreateChild(engine, sa, old.config);
    }
    old.state = "installed";
    return retryRekey(engine, sa, old);
  }
  if (r.deletedSpis.includes(nu.spiOut)) engine.removeChild(sa, nu, "deleted by the peer before our rekey completed");
  if (c && lostCollision(r.ni, nonce.nonce, c.lower)) {
    // Ours is redundant: we delete it, the peer deletes the old one.
    log(`CHILD_SA rekey collision lost, deleting redundant CHILD_SA ${nu.name}{${nu.uniqueId}}`);
    return initiateDeleteChild(engine, sa, nu);
  }
  if (c && c.child.state !== "deleted") {
    log(`CHILD_SA rekey collision won, the peer deletes its redundant CHILD_SA ${c.child.name}{${c.child.uniqueId}}`);
    c.child.state = "rekeyed";
  }
  initiateDeleteChild(engine, sa, old); // nothing to do if the peer deleted it already
}

function retryRekey(engine: IkeEngine, sa: IkeSa, old: ChildSa): void {
  old.rekeyTimer?.cancel();
  old.rekeyTimer = retryLater(engine, sa, `rekeying CHILD_SA ${old.name}{${old.uniqueId}}`, () => {
    const owner = engine.ownerOf(old);
    if (owner) engine.rekeyChild(owner, old);
  });
}

function notifyName(type: number): string {
  return Object.entries(NotifyType).find(([, v]) => v === type)?.[0] ?? String(type);
}

export function respondCreateChildSa(engine: IkeEngine, sa: IkeSa, req: IkeMessage, inner: Payload[]): void {
  const saP = findPayload(inner, PayloadType.SA);
  if (saP?.proposals.some((p) => p.protocol === ProtocolId.IKE)) return respondRekeyIke(engine, sa, req, inner);
  if (sa.state !== "established") {
    // §2.25.2: no Child SA work while we rekey (or close) the IKE SA.
    engine.log.log("chd", 1, `unable to create or rekey a CHILD_SA while the IKE_SA is ${sa.state}`, sa);
    return engine.respond(sa, req, [notify(NotifyType.TEMPORARY_FAILURE)]);
  }
  const nonce = findPayload(inner, PayloadType.NONCE);
  if (!saP || !nonce) return engine.respond(sa, req, [notify(NotifyType.INVALID_SYNTAX)]);
  const rekey = findNotify(inner, NotifyType.REKEY_SA);
  let old: ChildSa | undefined;
  if (rekey) {
    const spi = rekey.spi.length === 4 ? rekey.spi.readUInt32BE(0) : -1;
    old = [...sa.children.values()].find((c) => c.spiOut === spi && protocolOf(c.spec.protocol) === rekey.protocol && c.state !== "deleted");
    if (!old) {
      engine.log.log("chd", 0, `peer wants to rekey ${protocolName(rekey.protocol)} CHILD_SA with SPI ${hex8(spi)}, which we do not have`, sa);
      return engine.respond(sa, req, [{ type: PayloadType.NOTIFY, protocol: rekey.protocol, spi: rekey.spi, notifyType: NotifyType.CHILD_SA_NOT_FOUND, data: Buffer.alloc(0) }]);
    }
    if (old.state === "deleting") {
      engine.log.log("chd", 1, `unable to rekey CHILD_SA ${old.name}{${old.uniqueId}}, we are deleting it`, sa); // §2.25.1
      return engine.respond(sa, req, [notify(NotifyType.TEMPORARY_FAILURE)]);
    }
  }
  const ke = findPayload(inner, PayloadType.KE);
  const nr = engine.nonce();
  let dh: DhKeyPair | undefined, gir: Uint8Array | undefined;
  if (ke) {
    try {
      dh = lookupDh(ke.group).generateKeyPair();
      gir = dh.group.computeSharedSecret(dh.privateKey, ke.data);
    } catch (e) {
      engine.log.log("chd", 0, `PFS key exchange with group ${ke.group} failed: ${(e as Error).message}`, sa);
      const data = Buffer.alloc(2);
      const config = old?.config ?? sa.conn.children[0];
      const want = (config ? usableProposals(sa, config).proposals : []).flatMap((p) => p.dh)[0] ?? 0;
      data.writeUInt16BE(want);
      return engine.respond(sa, req, [notify(want ? NotifyType.INVALID_KE_PAYLOAD : NotifyType.NO_PROPOSAL_CHOSEN, want ? data : undefined)]);
    }
  }
  const r = negotiateChild(engine, sa, inner, nonce.nonce, nr, { inAuth: false, gir, rekeying: old, peerKeGroup: ke?.group });
  if (!r.child) return engine.respond(sa, req, r.payloads);
  const saOut = r.payloads.find((p) => p.type === PayloadType.SA);
  const others = r.payloads.filter((p) => p.type !== PayloadType.SA);
  engine.respond(sa, req, [
    ...others.filter((p) => p.type === PayloadType.NOTIFY),
    saOut!,
    { type: PayloadType.NONCE, nonce: nr },
    ...(dh ? [{ type: PayloadType.KE, group: dh.group.id, data: Buffer.from(dh.publicValue) } as Payload] : []),
    ...others.filter((p) => p.type !== PayloadType.NOTIFY),
  ]);
  dh?.privateKey.fill(0);
  // Our rekey of the same child is in flight: which new SA survives is settled on its response (§2.8.1).
  if (old && sa.childRekey?.old === old) {
    engine.log.log("chd", 1, `detected rekey collision for CHILD_SA ${old.name}{${old.uniqueId}}`, sa);
    sa.childRekey.collision = { lower: lowerNonce(nonce.nonce, nr), child: r.child };
  }
}
