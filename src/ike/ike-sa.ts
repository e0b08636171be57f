// An IKE SA: identities, negotiated algorithms and keys, message-ID state, and its Child SAs.
import { randomBytes } from "node:crypto";
import type { Proposal as WireProposal } from "./wire/index.js";
import { SkSealer, openSk, lookupEncr, lookupPrf, lookupInteg, lookupDh, TRANSFORM_ENCR, TRANSFORM_PRF, TRANSFORM_INTEG,
  TRANSFORM_DH, type Cipher, type Prf, type Integ, type DhGroup, type DhKeyPair, type IkeSaKeys } from "./crypto/index.js";
import type { ConnectionConfig } from "./config.js";
import type { Endpoint } from "./nat.js";
import type { Identity } from "./identity.js";
import type { ChildSa } from "./child-sa.js";
import type { Timer } from "./clock.js";
import type { SkEncrypter, SkDecrypter } from "./wire/protect.js";

/** "rekeying": our rekey of this SA is in flight; "rekeyed": replaced (its children moved on), or the
 *  redundant one of a rekey collision, and waiting for a DELETE. */
export type IkeState = "connecting" | "authenticating" | "established" | "rekeying" | "rekeyed" | "deleting" | "destroyed";

export interface IkeAlgorithms { encr: Cipher; prf: Prf; integ?: Integ; dh: DhGroup; proposal: WireProposal }

/** Outstanding request of ours (window size 1, RFC 7296 §2.3). */
export interface PendingRequest {
  messageId: number;
  exchange: number;
  datagrams: Buffer[];
  tries: number;
  timer?: Timer;
  onResponse: (msg: import("./wire/index.js").IkeMessage, inner: import("./wire/index.js").Payload[]) => void;
  onTimeout: () => void;
}

/** Our CHILD_SA rekey in flight on an IKE SA (one at most: window size 1). A simultaneous rekey of the
 *  same child by the peer (RFC 7296 §2.8.1) is recorded against it and settled when our response arrives. */
export interface ChildRekey {
  old: ChildSa;
  ni: Buffer;
  /** The peer's rekey of the same child that we answered: the lower of its two nonces and the SA it made. */
  collision?: { lower: Buffer; child: ChildSa };
  /** Peer SPIs in DELETEs for SAs we did not know yet: maybe the SA our response will create. */
  deletedSpis: number[];
}

/** Our IKE SA rekey in flight (RFC 7296 §2.8.2), with the peer's simultaneous rekey, if any. */
export interface IkeRekey {
  ni: Buffer;
  collision?: { lower: Buffer; successor: IkeSa };
}

export function randomSpi64(): bigint {
  for (;;) {
    const v = randomBytes(8).readBigUInt64BE();
    if (v !== 0n) return v;
  }
}

export class IkeSa {
  state: IkeState = "connecting";
  spiR = 0n;
  algs?: IkeAlgorithms;
  keys?: IkeSaKeys;
  ni: Buffer = Buffer.alloc(0);
  nr: Buffer = Buffer.alloc(0);
  dh?: DhKeyPair;
  initRequest?: Buffer;   // raw IKE_SA_INIT request (signed by the initiator)
  initResponse?: Buffer;  // raw IKE_SA_INIT response (signed by the responder)
  localId?: Identity;
  remoteId?: Identity;
  natLocal = false;       // we are behind a NAT (or pretend to be: encap)
  natRemote = false;      // the peer is
  natFake = false;        // natLocal only because encap forces it (strongSwan's COND_NAT_FAKE): no keepalives
  peerFragmentation = false;
  peerHashes?: number[];  // the peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427); undefined if it sent none
  certReqSeen = false;    // the peer sent a CERTREQ (IKE_SA_INIT response or IKE_AUTH request)
  /** Our next request's message ID, and the next one we expect from the peer. */
  nextRequestId = 0;
  nextPeerRequestId = 0;
  pending?: PendingRequest;
  lastResponse?: { messageId: number; datagrams: Buffer[] };
  queue: Array<() => void> = [];
  children = new Map<number, ChildSa>();
  establishedAt = 0;
  lastInbound = 0;        // clock time of the last message from the peer (DPD)
  lastOutbound = 0;       // clock time of the last message to the peer (NAT keepalives)
  rekeyAt = 0;            // clock time the scheduled IKE rekey is due (0 = none)
  expireAt = 0;           // clock time of the hard lifetime (over_time past the earlier of rekey and reauth)
  reauthAt = 0;           // clock time reauthentication is due (0 = not scheduled); kept across IKE rekeys
  rekeyTimer?: Timer;
  reauthTimer?: Timer;
  expireTimer?: Timer;
  dpdTimer?: Timer;
  keepaliveTimer?: Timer;
  halfOpenTimer?: Timer;
  deleteTimer?: Timer;    // a replaced IKE SA gives up waiting for the peer's DELETE
  cookie?: Buffer;        // echoed in IKE_SA_INIT after the responder asked for one
  retryGroup?: number;    // group the responder asked for with INVALID_KE_PAYLOAD
  childRekey?: ChildRekey;
  ikeRekey?: IkeRekey;
  successor?: IkeSa;      // the IKE SA that replaced this one (its children moved there)
  private sealer?: SkSealer;

  constructor(readonly uniqueId: number, public conn: ConnectionConfig, readonly initiator: boolean,
              readonly spiI: bigint, public local: Endpoint, public remote: Endpoint) {}

  get name(): string { return this.conn.name; }
  /** Our SPI: the one the peer puts in the header field that is ours. */
  get ourSpi(): bigint { return this.initiator ? this.spiI : this.spiR; }
  get natT(): boolean { return this.local.port !== 500 || this.remote.port !== 500; }

  /** Install negotiated algorithms (from the selected proposal) and keys. */
  setKeys(algs: IkeAlgorithms, keys: IkeSaKeys): void {
    this.algs = algs;
    this.keys = keys;
    const k = this.initiator ? { encryptionKey: keys.skEi, integrityKey: keys.skAi } : { encryptionKey: keys.skEr, integrityKey: keys.skAr };
    this.sealer = new SkSealer({ encr: algs.encr, integ: algs.integ }, k);
  }

  /** Protection of messages we send (SK_e/SK_a of our original role). */
  get encrypter(): SkEncrypter {
    if (!this.sealer) throw new Error("IKE SA has no keys yet");
    return this.sealer;
  }

  /** Verification/decryption of messages the peer sends. */
  get decrypter(): SkDecrypter {
    const keys = this.keys, algs = this.algs;
    if (!keys || !algs) throw new Error("IKE SA has no keys yet");
    const k = this.initiator ? { encryptionKey: keys.skEr, integrityKey: keys.skAr } : { encryptionKey: keys.skEi, integrityKey: keys.skAi };
    return { open: (aad, body) => openSk({ encr: algs.encr, integ: algs.integ }, k, aad, body) };
  }

  /** Zero keys and nonces (the SA is gone). */
  wipe(): void {
    if (this.keys) for (const v of Object.values(this.keys)) (v as Uint8Array).fill(0);
    this.dh?.privateKey.fill(0);
    this.keys = undefined;
    this.sealer = undefined;
  }
}

/** Algorithms of a selected IKE proposal. */
export function ikeAlgorithms(p: WireProposal): IkeAlgorithms {
  const one = (type: number) => p.transforms.find((t) => t.type === type);
  const e = one(TRANSFORM_ENCR)!, prf = one(TRANSFORM_PRF)!, integ = one(TRANSFORM_INTEG), dh = one(TRANSFORM_DH)!;
  return {
    encr: lookupEncr(e.id, e.keyLength), prf: lookupPrf(prf.id), integ: integ ? lookupInteg(integ.id) : undefined,
    dh: lookupDh(dh.id), proposal: p,
  };
}

export function spiBytes(spi: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(spi);
  return b;
}
