// IKE_SA_INIT (RFC 7296 §1.2): proposals, key exchange, nonces, NAT detection, fragmentation support;
// INVALID_KE_PAYLOAD retries with the group the responder wants; COOKIE (§2.6) when the responder is
// under load. Ends with both sides holding SKEYSEED-derived keys; the initiator goes on to IKE_AUTH.
import { createHash, randomBytes } from "node:crypto";
import {
  ExchangeType, NotifyType, PayloadType, TransformType, findErrorNotify, findNotify, findPayload,
  findPayloads, hasNotify, notify, encodeU16List, decodeU16List, type IkeMessage, type Payload,
} from "../wire/index.js";
import { lookupDh, skeyseed, deriveIkeSaKeys, KeyExchangeError } from "../crypto/index.js";
import { offerProposals, selectProposal, checkSelected, describeProposal } from "../proposals.js";
import { IkeSa, ikeAlgorithms, randomSpi64, spiBytes } from "../ike-sa.js";
import { natHash, fakeNatHash, type Endpoint } from "../nat.js";
import type { ChildConfig, ConnectionConfig } from "../config.js";
import type { IkeEngine } from "../engine.js";
import { initiateIkeAuth, certReqFor } from "./ike-auth.js";
import { SUPPORTED_HASH_ALGORITHMS } from "../auth/signature.js";

const NONCE_BYTES = 32;
const HASH_ALGS = encodeU16List(SUPPORTED_HASH_ALGORITHMS); // RFC 7427: SHA2-256/384/512; RFC 8420: Identity

function firstDh(conn: ConnectionConfig): number {
  const g = conn.proposals.flatMap((p) => p.dh)[0];
  if (g === undefined) throw new Error(`connection '${conn.name}' has no key exchange method in its proposals`);
  return g;
}

/** The peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4); undefined if it sent none (classic signatures). */
function peerHashAlgorithms(p: Payload[]): number[] | undefined {
  const n = findNotify(p, NotifyType.SIGNATURE_HASH_ALGORITHMS);
  return n ? decodeU16List(n.data) : undefined;
}

function natNotifies(spiI: bigint, spiR: bigint, local: Endpoint, remote: Endpoint, encap: boolean): Payload[] {
  return [
    notify(NotifyType.NAT_DETECTION_SOURCE_IP, encap ? fakeNatHash() : natHash(spiI, spiR, local)),
    notify(NotifyType.NAT_DETECTION_DESTINATION_IP, natHash(spiI, spiR, remote)),
  ];
}

/** NAT detection's outcome. With `encap` we claim a NAT (fakeNatHash) so that ESP goes in UDP; a NAT faked
 *  that way is no reason for keepalives (strongSwan's COND_NAT_FAKE, as opposed to COND_NAT_HERE). */
function natDetected(sa: IkeSa, local: boolean, remote: boolean): void {
  sa.natLocal = sa.conn.encap || local;
  sa.natFake = sa.conn.encap && !local;
  sa.natRemote = remote;
}

// ------------------------------------------------------------------ initiator

export function initiateIkeSaInit(engine: IkeEngine, sa: IkeSa, children: ChildConfig[]): void {
  const conn = sa.conn;
  const group = lookupDh(sa.retryGroup ?? firstDh(conn));
  // A cookie retry repeats the request unchanged but for the cookie (RFC 7296 §2.6): same nonce and
  // KE, since the responder's cookie covers Ni. A new group (INVALID_KE_PAYLOAD) needs a new KE.
  if (!sa.dh || sa.dh.group.id !== group.id) sa.dh = group.generateKeyPair();
  if (sa.ni.length === 0) sa.ni = randomBytes(NONCE_BYTES);
  sa.nextRequestId = 0; // a retry (cookie, INVALID_KE) is again message 0
  const offered = offerProposals(conn.proposals, Buffer.alloc(0));
  const payloads: Payload[] = [
    ...(sa.cookie ? [notify(NotifyType.COOKIE, sa.cookie)] : []),
    { type: PayloadType.SA, proposals: offered },
    { type: PayloadType.KE, group: group.id, data: Buffer.from(sa.dh.publicValue) },
    { type: PayloadType.NONCE, nonce: sa.ni },
    ...natNotifies(sa.spiI, 0n, sa.local, sa.remote, conn.encap),
    ...(conn.fragmentation ? [notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)] : []),
    notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, HASH_ALGS),
  ];
  engine.request(sa, ExchangeType.IKE_SA_INIT, payloads, (msg) => onResponse(engine, sa, children, offered, msg));
  sa.initRequest = sa.pending?.datagrams[0];
}

function onResponse(engine: IkeEngine, sa: IkeSa, children: ChildConfig[], offered: ReturnType<typeof offerProposals>,
                    msg: IkeMessage): void {
  const p = msg.payloads;
  const log = (m: string, level = 0) => engine.log.log("ike", level, m, sa);
  const cookie = findNotify(p, NotifyType.COOKIE);
  if (cookie) {
    if (sa.cookie) return engine.destroy(sa, "responder asked for a cookie twice");
    log("received COOKIE, retrying IKE_SA_INIT with it", 1);
    sa.cookie = cookie.data;
    return initiateIkeSaInit(engine, sa, children);
  }
  const err = findErrorNotify(p);
  if (err) {
    if (err.notifyType === NotifyType.INVALID_KE_PAYLOAD && err.data.length === 2) {
      const want = err.data.readUInt16BE(0);
      const acceptable = sa.conn.proposals.some((q) => q.dh.includes(want));
      if (acceptable && want !== sa.dh?.group.id && sa.retryGroup === undefined) {
        log(`peer didn't accept DH group ${sa.dh?.group.name}, it requested ${lookupDhName(want)}`);
        sa.retryGroup = want;
        return initiateIkeSaInit(engine, sa, children);
      }
      return engine.destroy(sa, `peer requested DH group ${want}, which we do not propose`);
    }
    if (err.notifyType === NotifyType.NO_PROPOSAL_CHOSEN) {
      log(`received NO_PROPOSAL_CHOSEN: the peer accepted none of our IKE proposals:\n  ours: ${offered.map(describeProposal).join(", ")}`);
    }
    return engine.destroy(sa, `IKE_SA_INIT failed: peer sent ${notifyName(err.notifyType)}`);
  }
  const saP = findPayload(p, PayloadType.SA), ke = findPayload(p, PayloadType.KE), nonce = findPayload(p, PayloadType.NONCE);
  if (!saP || !ke || !nonce) return engine.destroy(sa, "IKE_SA_INIT response lacks SA, KE or Nonce");
  if (msg.header.spiR === 0n) return engine.destroy(sa, "IKE_SA_INIT response with a zero responder SPI");
  const sel = checkSelected(offered, saP.proposals);
  if (!sel.ok) return engine.destroy(sa, `invalid proposal in IKE_SA_INIT response: ${sel.reason}`);
  const algs = ikeAlgorithms(sel.proposal);
  if (ke.group !== algs.dh.id || ke.group !== sa.dh!.group.id) {
    return engine.destroy(sa, `peer's KE is for group ${ke.group}, selected ${algs.dh.id}`);
  }
  sa.spiR = msg.header.spiR;
  sa.nr = nonce.nonce;
  sa.initResponse = msg.raw;
  sa.peerFragmentation = hasNotify(p, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED);
  sa.peerHashes = peerHashAlgorithms(p);
  sa.certReqSeen = findPayloads(p, PayloadType.CERTREQ).length > 0;
  const dst = findNotify(p, NotifyType.NAT_DETECTION_DESTINATION_IP), src = findNotify(p, NotifyType.NAT_DETECTION_SOURCE_IP);
  if (dst && src) natDetected(sa, !dst.data.equals(natHash(sa.spiI, sa.spiR, sa.local)), !src.data.equals(natHash(sa.spiI, sa.spiR, sa.remote)));
  try {
    deriveKeys(engine, sa, algs, ke.data);
  } catch (e) {
    return engine.destroy(sa, `key exchange failed: ${(e as Error).message}`);
  }
  engine.index(sa);
  log(`IKE_SA_INIT done: ${describeProposal(sel.proposal)}${sa.natLocal || sa.natRemote ? `, NAT ${sa.natLocal ? "local" : ""}${sa.natRemote ? " remote" : ""}${sa.conn.encap ? " (forced encap)" : ""}` : ""}`, 1);
  // RFC 7296 §2.23: with a NAT in the path, IKE moves to port 4500 (with the Non-ESP marker).
  if ((sa.natLocal || sa.natRemote) && sa.remote.port === 500) {
    sa.local = { ...sa.local, port: sa.local.port === 500 ? 4500 : sa.local.port };
    sa.remote = { ...sa.remote, port: 4500 };
  }
  sa.state = "authenticating";
  initiateIkeAuth(engine, sa, children);
}

function deriveKeys(engine: IkeEngine, sa: IkeSa, algs: ReturnType<typeof ikeAlgorithms>, peerKe: Uint8Array): void {
  const gir = sa.dh!.group.computeSharedSecret(sa.dh!.privateKey, peerKe);
  const seed = skeyseed(algs.prf, sa.ni, sa.nr, gir);
  const keys = deriveIkeSaKeys({ prf: algs.prf, encr: algs.encr, integ: algs.integ }, seed, sa.ni, sa.nr, spiBytes(sa.spiI), spiBytes(sa.spiR));
  gir.fill(0);
  seed.fill(0);
  sa.dh!.privateKey.fill(0);
  sa.setKeys(algs, keys);
  engine.keylog?.ike(sa);
}

// ------------------------------------------------------------------ responder

const cookieSecrets = new WeakMap<IkeEngine, Buffer>();

function cookieFor(engine: IkeEngine, msg: IkeMessage, nonce: Buffer, from: Endpoint): Buffer {
  let secret = cookieSecrets.get(engine);
  if (!secret) cookieSecrets.set(engine, (secret = randomBytes(32)));
  // RFC 7296 §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
  const h = createHash("sha256").update(nonce).update(from.address).update(spiBytes(msg.header.spiI)).update(secret).digest();
  return Buffer.concat([Buffer.from([0, 0, 0, 1]), h]);
}

function addressMatches(list: string[], address: string): boolean {
  return list.some((a) => a === "%any" || a === address || (a.includes("/") && inPrefix(a, address)));
}

function inPrefix(prefix: string, address: string): boolean {
  const [net, len] = prefix.split("/");
  const n = net.split(".").map(Number), a = address.split(".").map(Number);
  if (n.length !== 4 || a.length !== 4) return false;
  const bits = Number(len);
  const toInt = (x: number[]) => ((x[0] << 24) | (x[1] << 16) | (x[2] << 8) | x[3]) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(n) & mask) === (toInt(a) & mask);
}

export function respondIkeSaInit(engine: IkeEngine, msg: IkeMessage, from: Endpoint, to: Endpoint): void {
  const p = msg.payloads;
  const reject = (type: number, why: string, data?: Buffer) => {
    engine.log.log("ike", 0, `IKE_SA_INIT from ${from.address}[${from.port}] rejected: ${why}`);
    engine.respondWithoutSa(msg, 0n, [notify(type, data)], to, from);
  };
  const conn = engine.connections.find((c) => addressMatches(c.localAddrs, to.address) && addressMatches(c.remoteAddrs, from.address));
  if (!conn) return reject(NotifyType.NO_PROPOSAL_CHOSEN, `no IKE config found for ${to.address}...${from.address}`);
  const saP = findPayload(p, PayloadType.SA), ke = findPayload(p, PayloadType.KE), nonce = findPayload(p, PayloadType.NONCE);
  if (!saP || !ke || !nonce) return reject(NotifyType.INVALID_SYNTAX, "SA, KE or Nonce payload missing");

  // Cookies: past the half-open threshold, demand proof that the initiator sees our answers.
  if (engine.halfOpen.size >= engine.timers.cookieThreshold) {
    const expected = cookieFor(engine, msg, nonce.nonce, from);
    const got = p[0]?.type === PayloadType.NOTIFY && p[0].notifyType === NotifyType.COOKIE ? p[0].data : undefined;
    if (!got || !got.equals(expected)) {
      engine.drop("cookie-required", from);
      return engine.respondWithoutSa(msg, 0n, [notify(NotifyType.COOKIE, expected)], to, from);
    }
  }

  const ours = offerProposals(conn.proposals, Buffer.alloc(0));
  const sel = selectProposal(ours, saP.proposals);
  if (!sel.ok) return reject(NotifyType.NO_PROPOSAL_CHOSEN, sel.reason);
  let chosen = sel.proposal;
  const dhT = chosen.transforms.find((t) => t.type === TransformType.DH)!;
  if (ke.group !== dhT.id) {
    // Prefer the initiator's guess when both sides accept it in this proposal (saves a round trip).
    const theirs = saP.proposals.find((q) => q.number === chosen.number)!;
    const acceptable = theirs.transforms.some((t) => t.type === TransformType.DH && t.id === ke.group)
      && conn.proposals.some((q) => q.dh.includes(ke.group));
    if (!acceptable) {
      const data = Buffer.alloc(2);
      data.writeUInt16BE(dhT.id);
      return reject(NotifyType.INVALID_KE_PAYLOAD, `KE group ${ke.group} not acceptable, requesting ${lookupDhName(dhT.id)}`, data);
    }
    chosen = { ...chosen, transforms: chosen.transforms.map((t) => (t.type === TransformType.DH ? { type: t.type, id: ke.group } : t)) };
  }
  const algs = ikeAlgorithms(chosen);
  try {
    algs.dh.validatePublicValue(ke.data);
  } catch (e) {
    return reject(NotifyType.INVALID_SYNTAX, `invalid KE public value: ${(e as KeyExchangeError).message}`);
  }

  const sa = engine.createSa(conn, false, msg.header.spiI, { ...to }, { ...from });
  sa.spiR = randomSpi64();
  sa.nr = randomBytes(NONCE_BYTES);
  sa.ni = nonce.nonce;
  sa.dh = algs.dh.generateKeyPair();
  sa.initRequest = msg.raw;
  sa.peerFragmentation = hasNotify(p, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED);
  sa.peerHashes = peerHashAlgorithms(p);
  const src = findNotify(p, NotifyType.NAT_DETECTION_SOURCE_IP), dst = findNotify(p, NotifyType.NAT_DETECTION_DESTINATION_IP);
  if (src && dst) natDetected(sa, !dst.data.equals(natHash(sa.spiI, 0n, to)), !src.data.equals(natHash(sa.spiI, 0n, from)));
  try {
    deriveKeys(engine, sa, algs, ke.data);
  } catch (e) {
    return reject(NotifyType.INVALID_SYNTAX, `key exchange failed: ${(e as Error).message}`);
  }
  engine.index(sa);
  engine.halfOpen.set(engine.halfOpenKey(sa.spiI, from), sa);
  sa.halfOpenTimer = engine.clock.schedule(engine.timers.halfOpenTimeout, () => {
    if (sa.state !== "established") engine.destroy(sa, "half-open IKE SA timed out");
  });
  sa.nextPeerRequestId = 1;
  sa.state = "authenticating";
  engine.log.log("ike", 1, `${from.address} is initiating an IKE_SA; selected ${describeProposal(chosen)}`, sa);
  engine.respond(sa, msg, [
    { type: PayloadType.SA, proposals: [{ ...chosen, spi: Buffer.alloc(0) }] },
    { type: PayloadType.KE, group: algs.dh.id, data: Buffer.from(sa.dh.publicValue) },
    { type: PayloadType.NONCE, nonce: sa.nr },
    ...natNotifies(sa.spiI, sa.spiR, sa.local, sa.remote, conn.encap),
    ...(conn.fragmentation ? [notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)] : []),
    notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, HASH_ALGS),
    ...certReqFor(engine, conn), // strongSwan initiators send their certificate only if asked (send_cert=ifasked)
  ]);
  sa.initResponse = sa.lastResponse!.datagrams[0];
}

function lookupDhName(id: number): string {
  try { return lookupDh(id).name; } catch { return `group ${id}`; }
}

function notifyName(t: number): string {
  const e = Object.entries(NotifyType).find(([, v]) => v === t);
  return e ? e[0] : `notify ${t}`;
}
