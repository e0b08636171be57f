// IKE_AUTH (RFC 7296 §1.2, §2.15): identities, authentication over the IKE_SA_INIT messages with a
// pre-shared key or a certificate (RFC 7427 signatures, auth/pubkey.ts), and the first Child SA.
// Failures say what went wrong: the identity did not match, no secret, key or trusted certificate was
// found, or the AUTH value did not verify.
import {
  ExchangeType, NotifyType, PayloadType, findErrorNotify, findPayload, findPayloads, notify, type AuthPayload, type IkeMessage, type Payload,
} from "../wire/index.js";
import { signedOctets, pskAuth, pskVerify } from "../auth/psk.js";
import { localCredentials, certPayloads, buildPubkeyAuth, verifyPubkeyAuth } from "../auth/pubkey.js";
import { certReqPayload } from "../auth/certs.js";
import { parseIdentity, formatIdentity, identityMatches, type Identity } from "../identity.js";
import type { IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import type { ChildConfig, ConnectionConfig } from "../config.js";
import { proposeChild, completeChild, negotiateChild, initiateCreateChild, childImpossible, CHILD_ERRORS } from "./create-child-sa.js";
import { ikeEstablished } from "./lifecycle.js";
import { reauthAuthenticated } from "./ike-reauth.js";

const AUTH_PSK = 2;

/** The secret for this pair of identities: one naming both, else one naming either, else an anonymous one. */
export function findSecret(engine: IkeEngine, a: Identity, b: Identity): Uint8Array | undefined {
  const names = (s: { ids: string[] }) => s.ids.map((id) => { try { return parseIdentity(id); } catch { return undefined; } });
  const hits = (s: { ids: string[] }) => names(s).filter((n) => n && [a, b].some((x) => x.type === n.type && x.data.equals(n.data))).length;
  const ranked = engine.secrets.map((s) => ({ s, score: s.ids.length === 0 ? 0.5 : hits(s) })).filter((r) => r.score > 0)
    .sort((x, y) => y.score - x.score);
  return ranked[0]?.s.secret;
}

function idPayload(type: typeof PayloadType.IDi | typeof PayloadType.IDr, id: Identity): Payload {
  return { type, idType: id.type, data: id.data } as Payload;
}

/** A CERTREQ naming our trust anchors when the peer authenticates with a certificate (swanctl send_certreq). */
export function certReqFor(engine: IkeEngine, conn: ConnectionConfig): Payload[] {
  return conn.remote.auth === "pubkey" && conn.sendCertreq !== false ? [certReqPayload(conn.remote.cacerts ?? engine.caCerts)] : [];
}

/** The octets `id`'s side signs (RFC 7296 §2.15): its IKE_SA_INIT message, the other's nonce, prf(SK_p, ID'). */
function octetsOf(sa: IkeSa, initiatorSide: boolean, id: Identity): Buffer {
  const keys = sa.keys!, prf = sa.algs!.prf;
  return initiatorSide ? signedOctets(prf, sa.initRequest!, sa.nr, keys.skPi, id) : signedOctets(prf, sa.initResponse!, sa.ni, keys.skPr, id);
}

/** Our certificate authentication: identity, CERT payloads (if asked for, send_cert) and AUTH, or why not. */
function pubkeySelf(engine: IkeEngine, sa: IkeSa): { id: Identity; certs: Payload[]; auth: Payload } | string {
  const conn = sa.conn;
  try {
    const cred = localCredentials(conn.local.certs ?? [], engine.privateKeys, conn.local.id);
    const { payload, scheme } = buildPubkeyAuth(cred, sa.peerHashes, octetsOf(sa, sa.initiator, cred.id));
    engine.log.log("ike", 1, `authentication of '${formatIdentity(cred.id)}' (myself) with ${scheme}`, sa);
    const send = conn.sendCert === "always" || (conn.sendCert !== "never" && sa.certReqSeen);
    return { id: cred.id, certs: send ? certPayloads(cred) : [], auth: payload };
  } catch (e) {
    return `authentication of '${conn.local.id}' (myself) failed: ${(e as Error).message}`;
  }
}

/** The peer's certificate authentication (identity in its certificate, trusted path, signature); undefined if it holds. */
function pubkeyPeer(engine: IkeEngine, sa: IkeSa, inner: Payload[], auth: AuthPayload, peer: Identity): string | undefined {
  if (auth.method === AUTH_PSK) return `peer '${formatIdentity(peer)}' authenticated with a pre-shared key; this connection expects a certificate`;
  try {
    const v = verifyPubkeyAuth({
      auth, certs: findPayloads(inner, PayloadType.CERT), id: peer, anchors: sa.conn.remote.cacerts ?? engine.caCerts,
      octets: octetsOf(sa, !sa.initiator, peer), now: engine.wallClock(),
    });
    engine.log.log("ike", 1, `authentication of '${formatIdentity(peer)}' with ${v.scheme} successful ` +
      `(certificate '${v.cert.subjectText}', trusted CA '${v.chain[v.chain.length - 1].subjectText}')`, sa);
    return undefined;
  } catch (e) {
    return `authentication of '${formatIdentity(peer)}' failed: ${(e as Error).message}`;
  }
}

/** Another authenticated IKE SA with the same peer and identities (charon's has_contact()). Then no
 *  INITIAL_CONTACT: it would tell the peer to drop that SA at once (RFC 7296 §2.4), while a reauthentication
 *  (ike-reauth.ts) replaces its old SA only once the new one is complete. */
function hasContact(engine: IkeEngine, sa: IkeSa): boolean {
  const me = sa.localId!;
  return engine.sas().some((s) => s !== sa && s.state !== "deleting" && s.remote.address === sa.remote.address
    && s.localId?.type === me.type && s.localId.data.equals(me.data) && s.remoteId !== undefined && identityMatches(sa.conn.remote.id, s.remoteId));
}

// ------------------------------------------------------------------ initiator

export function initiateIkeAuth(engine: IkeEngine, sa: IkeSa, children: ChildConfig[]): void {
  const conn = sa.conn;
  const keys = sa.keys!, prf = sa.algs!.prf;
  // IDr only for a concrete identity (strongSwan sends none for %any or wildcards)
  const remoteWanted = conn.remote.id !== "%any" && !conn.remote.id.includes("*") ? parseIdentity(conn.remote.id) : undefined;
  let certs: Payload[] = [], auth: Payload;
  if (conn.local.auth === "pubkey") {
    const self = pubkeySelf(engine, sa);
    if (typeof self === "string") return engine.destroy(sa, self);
    ({ certs, auth } = self);
    sa.localId = self.id;
  } else {
    sa.localId = parseIdentity(conn.local.id);
    const secret = findSecret(engine, sa.localId, remoteWanted ?? sa.localId);
    if (!secret) return engine.destroy(sa, `no shared key found for '${conn.local.id}' - '${conn.remote.id}'`);
    auth = { type: PayloadType.AUTH, method: AUTH_PSK, data: pskAuth(prf, secret, signedOctets(prf, sa.initRequest!, sa.nr, keys.skPi, sa.localId)) };
    engine.log.log("ike", 1, `authentication of '${conn.local.id}' (myself) with pre-shared key`, sa);
  }
  const [first, ...rest] = children;
  // A child that cannot be offered here (AH across a NAT) fails alone, once the IKE SA is up.
  const proposed = first ? proposeChild(sa, first) : undefined;
  const child = typeof proposed === "string" ? undefined : proposed;
  const payloads: Payload[] = [
    idPayload(PayloadType.IDi, sa.localId),
    ...certs,
    ...certReqFor(engine, conn),
    ...(remoteWanted ? [idPayload(PayloadType.IDr, remoteWanted)] : []),
    auth,
    ...(hasContact(engine, sa) ? [] : [notify(NotifyType.INITIAL_CONTACT)]),
    ...(child?.payloads ?? []),
  ];
  engine.request(sa, ExchangeType.IKE_AUTH, payloads, (_msg, inner) => {
    const err = findErrorNotify(inner);
    if (err && !CHILD_ERRORS.has(err.notifyType)) {
      const why = err.notifyType === NotifyType.AUTHENTICATION_FAILED
        ? `the peer rejected our authentication (AUTHENTICATION_FAILED): check the ${conn.local.auth === "pubkey" ? "certificates and trust anchors" : "pre-shared key"} and both identities`
        : `IKE_AUTH failed: peer sent notify ${err.notifyType}`;
      return engine.destroy(sa, why);
    }
    const idr = findPayload(inner, PayloadType.IDr), au = findPayload(inner, PayloadType.AUTH);
    if (!idr || !au) return engine.destroy(sa, "IKE_AUTH response lacks IDr or AUTH");
    const peer: Identity = { type: idr.idType, data: idr.data };
    if (!identityMatches(conn.remote.id, peer)) {
      return engine.destroy(sa, `peer identity '${formatIdentity(peer)}' does not match the configured '${conn.remote.id}'`);
    }
    if (conn.remote.auth === "pubkey") {
      const why = pubkeyPeer(engine, sa, inner, au, peer);
      if (why) return engine.destroy(sa, why);
    } else {
      if (au.method !== AUTH_PSK) return engine.destroy(sa, `peer authenticated with method ${au.method}, we expect a pre-shared key`);
      const peerSecret = findSecret(engine, sa.localId!, peer);
      if (!peerSecret) return engine.destroy(sa, `no shared key found for '${conn.local.id}' - '${formatIdentity(peer)}'`);
      if (!pskVerify(prf, peerSecret, signedOctets(prf, sa.initResponse!, sa.ni, keys.skPr, peer), au.data)) {
        return engine.destroy(sa, `pre-shared key authentication of '${formatIdentity(peer)}' failed: the AUTH value did not verify (different keys?)`);
      }
      engine.log.log("ike", 1, `authentication of '${formatIdentity(peer)}' with pre-shared key successful`, sa);
    }
    sa.remoteId = peer;
    ikeEstablished(engine, sa);
    if (child) completeChild(engine, sa, child, inner, sa.ni, sa.nr);
    else if (typeof proposed === "string") childImpossible(engine, sa, first, proposed);
    for (const c of rest) initiateCreateChild(engine, sa, c); // on this SA: with a reauthentication, another is up too
    reauthAuthenticated(engine, sa);
  });
}

// ------------------------------------------------------------------ responder

export function respondIkeAuth(engine: IkeEngine, sa: IkeSa, req: IkeMessage, inner: Payload[]): void {
  if (sa.state !== "authenticating" || sa.initiator) {
    return engine.respond(sa, req, [notify(NotifyType.INVALID_SYNTAX)]);
  }
  const conn = sa.conn, keys = sa.keys!, prf = sa.algs!.prf;
  const fail = (why: string) => {
    engine.log.log("ike", 0, why, sa);
    engine.respond(sa, req, [notify(NotifyType.AUTHENTICATION_FAILED)]);
    engine.destroy(sa, "authentication failed");
  };
  const idi = findPayload(inner, PayloadType.IDi), au = findPayload(inner, PayloadType.AUTH);
  if (!idi || !au) return fail("IKE_AUTH request lacks IDi or AUTH (EAP is not supported)");
  const peer: Identity = { type: idi.idType, data: idi.data };
  if (!identityMatches(conn.remote.id, peer)) {
    return fail(`peer identity '${formatIdentity(peer)}' does not match the configured remote id '${conn.remote.id}'`);
  }
  sa.certReqSeen ||= findPayloads(inner, PayloadType.CERTREQ).length > 0;
  if (conn.remote.auth === "pubkey") {
    const why = pubkeyPeer(engine, sa, inner, au, peer);
    if (why) return fail(why);
  } else {
    if (au.method !== AUTH_PSK) return fail(`peer uses authentication method ${au.method}; this connection expects a pre-shared key`);
    const secret = findSecret(engine, parseIdentity(conn.local.id), peer);
    if (!secret) return fail(`no shared key found for '${conn.local.id}' - '${formatIdentity(peer)}'`);
    if (!pskVerify(prf, secret, signedOctets(prf, sa.initRequest!, sa.nr, keys.skPi, peer), au.data)) {
      return fail(`pre-shared key authentication of '${formatIdentity(peer)}' failed: the AUTH value did not verify (different keys?)`);
    }
    engine.log.log("ike", 1, `authentication of '${formatIdentity(peer)}' with pre-shared key successful`, sa);
  }
  sa.remoteId = peer;
  let certs: Payload[] = [], auth: Payload;
  if (conn.local.auth === "pubkey") {
    const self = pubkeySelf(engine, sa);
    if (typeof self === "string") return fail(self);
    ({ certs, auth } = self);
    sa.localId = self.id;
  } else {
    sa.localId = parseIdentity(conn.local.id);
    const secret = findSecret(engine, sa.localId, peer);
    if (!secret) return fail(`no shared key found for '${conn.local.id}' - '${formatIdentity(peer)}'`);
    auth = { type: PayloadType.AUTH, method: AUTH_PSK, data: pskAuth(prf, secret, signedOctets(prf, sa.initResponse!, sa.ni, keys.skPr, sa.localId)) };
  }
  ikeEstablished(engine, sa);
  const child = findPayload(inner, PayloadType.SA) ? negotiateChild(engine, sa, inner, sa.ni, sa.nr) : { payloads: [] };
  engine.respond(sa, req, [
    idPayload(PayloadType.IDr, sa.localId),
    ...certs,
    auth,
    ...child.payloads,
  ]);
}
