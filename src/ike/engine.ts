// The IKEv2 engine: receives datagrams, finds or creates IKE SAs, enforces message-ID windows,
// retransmits, answers duplicate requests from cache, and hands each exchange to its task
// (tasks/*.ts). It knows nothing about sockets (a Transport sends) or the data plane (a ChildInstaller
// installs), so two engines can be wired together in one process for tests.
import { EventEmitter } from "node:events";
import { randomBytes, type KeyObject } from "node:crypto";
import {
  decodeHeader, decodeMessage, encodeMessage, encodeFragmented, openEncrypted, openFragment, reassemble,
  ExchangeType, PayloadType, WireError, notify, type IkeMessage, type Payload, type OpenedFragment,
} from "./wire/index.js";
import { IkeSa, randomSpi64 } from "./ike-sa.js";
import type { ConnectionConfig, ChildConfig, SharedSecret, EngineTimers } from "./config.js";
import { DEFAULT_TIMERS } from "./config.js";
import type { ChildInstaller } from "./child-sa.js";
import { ChildSa } from "./child-sa.js";
import type { Endpoint } from "./nat.js";
import { realClock, type Clock } from "./clock.js";
import { Logger } from "./log.js";
import type { KeyLog } from "./keylog.js";
import type { Certificate } from "./auth/certs.js";
import { initiateIkeSaInit, respondIkeSaInit } from "./tasks/ike-sa-init.js";
import { respondIkeAuth } from "./tasks/ike-auth.js";
import { respondCreateChildSa, initiateCreateChild, initiateRekeyChild } from "./tasks/create-child-sa.js";
import { initiateRekeyIke } from "./tasks/ike-rekey.js";
import { respondInformational, initiateDeleteChild, initiateDeleteIke, initiateDpd } from "./tasks/informational.js";

export interface Transport {
  /** Send one IKE message; on port 4500 the transport prepends the Non-ESP marker. */
  send(datagram: Buffer, local: Endpoint, remote: Endpoint): void;
  /** Send a NAT-T keepalive, the single octet 0xFF (RFC 3948 §2.3), from `local` to `remote`. */
  sendKeepalive?(local: Endpoint, remote: Endpoint): void;
}

export interface EngineOptions {
  connections: ConnectionConfig[];
  secrets: SharedSecret[];
  transport: Transport;
  installer: ChildInstaller;
  clock?: Clock;
  log?: Logger;
  timers?: Partial<EngineTimers>;
  keylog?: KeyLog;
  /** Private keys for pubkey authentication (swanctl's private/, ecdsa/, rsa/, pkcs8/; keys.ts loadPrivateKey()). */
  privateKeys?: KeyObject[];
  /** Trust anchors (swanctl's x509ca/) for connections without remote.cacerts. */
  caCerts?: Certificate[];
  /** Wall-clock time for certificate validity (the engine clock is monotonic); default new Date(). */
  wallClock?: () => Date;
  /** Nonces of CREATE_CHILD_SA exchanges; default 32 random bytes. Tests fix their first octet to decide
   *  rekey collisions (RFC 7296 §2.8.1), as strongSwan's exchange_test_helper does. */
  nonce?: () => Buffer;
  /** The local address to initiate from when local_addrs leaves it open (%any): the route's source. */
  sourceAddress?: (remote: string) => string | undefined;
}

export interface EngineStats {
  received: number;
  sent: number;
  retransmitted: number;
  dropped: Record<string, number>;
}

/** Events: "ike-up" (sa), "ike-down" (sa, reason), "child-up" (sa, child), "child-down" (sa, child, reason). */
export class IkeEngine extends EventEmitter {
  readonly clock: Clock;
  readonly log: Logger;
  readonly timers: EngineTimers;
  readonly installer: ChildInstaller;
  readonly keylog?: KeyLog;
  connections: ConnectionConfig[];
  secrets: SharedSecret[];
  privateKeys: KeyObject[];
  caCerts: Certificate[];
  wallClock: () => Date;
  nonce: () => Buffer;
  private readonly sourceAddress?: (remote: string) => string | undefined;
  readonly stats: EngineStats = { received: 0, sent: 0, retransmitted: 0, dropped: {} };
  private readonly transport: Transport;
  private readonly bySpi = new Map<bigint, IkeSa>();
  /** Responder half-open SAs by the initiator's SPI and address, to spot IKE_SA_INIT retransmissions. */
  readonly halfOpen = new Map<string, IkeSa>();
  private readonly fragments = new Map<string, OpenedFragment[]>();
  private nextId = 1;

  constructor(o: EngineOptions) {
    super();
    this.connections = o.connections;
    this.secrets = o.secrets;
    this.transport = o.transport;
    this.installer = o.installer;
    this.clock = o.clock ?? realClock;
    this.log = o.log ?? new Logger();
    this.timers = { ...DEFAULT_TIMERS, ...o.timers };
    this.keylog = o.keylog;
    this.privateKeys = o.privateKeys ?? [];
    this.caCerts = o.caCerts ?? [];
    this.wallClock = o.wallClock ?? (() => new Date());
    this.nonce = o.nonce ?? (() => randomBytes(32));
    this.sourceAddress = o.sourceAddress;
  }

  // ---------------------------------------------------------------- public API

  /** Start an IKE SA for connection `name` and, with it, child `child` (or all start children). */
  initiate(name: string, child?: string): IkeSa {
    const conn = this.connections.find((c) => c.name === name);
    if (!conn) throw new Error(`no connection named '${name}'`);
    const children = child ? conn.children.filter((c) => c.name === child) : conn.children;
    if (child && children.length === 0) throw new Error(`connection '${name}' has no child '${child}'`);
    const existing = this.sas().find((s) => s.conn === conn && s.state === "established");
    if (existing) {
      for (const c of children) initiateCreateChild(this, existing, c);
      return existing;
    }
    const remote = { address: conn.remoteAddrs[0], port: conn.remotePort };
    if (remote.address === "%any") throw new Error(`connection '${name}': initiating needs concrete remote_addrs`);
    const local = { address: conn.localAddrs[0], port: conn.localPort };
    if (local.address === "%any") {
      const source = this.sourceAddress?.(remote.address);
      if (!source) throw new Error(`connection '${name}': local_addrs is %any and no route to ${remote.address} gives a source address`);
      local.address = source;
    }
    const sa = this.createSa(conn, true, randomSpi64(), local, remote);
    this.log.log("ike", 0, `initiating IKE_SA ${conn.name}[${sa.uniqueId}] to ${remote.address}`, sa);
    initiateIkeSaInit(this, sa, children);
    return sa;
  }

  /** Feed a received IKE datagram (Non-ESP marker already removed). */
  receive(datagram: Uint8Array, from: Endpoint, to: Endpoint): void {
    this.stats.received++;
    let msg: IkeMessage;
    try {
      decodeHeader(datagram);
      msg = decodeMessage(datagram);
    } catch (e) {
      // Unauthenticated garbage gets no answer (RFC 7296 §2.21.1); only count it.
      return this.drop(e instanceof WireError ? `wire:${e.code}` : "wire:other", from);
    }
    const h = msg.header;
    if (h.exchangeType === ExchangeType.IKE_SA_INIT && !h.response) {
      if (h.spiR !== 0n || h.messageId !== 0) return this.drop("init-bad-header", from);
      const again = this.halfOpen.get(this.halfOpenKey(h.spiI, from));
      if (again) return this.retransmitResponse(again, msg);
      return respondIkeSaInit(this, msg, from, to);
    }
    // The sender's original role tells which header SPI is ours.
    const sa = this.bySpi.get(h.initiator ? h.spiR : h.spiI);
    if (!sa || sa.state === "destroyed") return this.drop("unknown-ike-spi", from);
    if (h.initiator === sa.initiator) return this.drop("wrong-role", from);
    if (h.response) this.handleResponse(sa, msg, from, to);
    else this.handleRequest(sa, msg, from, to);
  }

  sas(): IkeSa[] { return [...new Set(this.bySpi.values())].filter((s) => s.state !== "destroyed"); }

  findSa(uniqueId: number): IkeSa | undefined { return this.sas().find((s) => s.uniqueId === uniqueId); }

  terminateIke(sa: IkeSa): void { initiateDeleteIke(this, sa); }
  terminateChild(sa: IkeSa, child: ChildSa): void { initiateDeleteChild(this, sa, child); }
  rekeyChild(sa: IkeSa, child: ChildSa): void { initiateRekeyChild(this, sa, child); }
  rekeyIke(sa: IkeSa): void { initiateRekeyIke(this, sa); }
  dpd(sa: IkeSa): void { initiateDpd(this, sa); }
  /** A NAT-T keepalive to `sa`'s peer; false if the transport cannot send one. */
  sendKeepalive(sa: IkeSa): boolean {
    if (!this.transport.sendKeepalive) return false;
    this.transport.sendKeepalive(sa.local, sa.remote);
    return true;
  }

  /** Rekey Child SAs whose data-plane soft lifetime (bytes/packets) has passed; the daemon calls
   *  this periodically. Returns how many rekeys were started. */
  pollLifetimes(): number {
    let n = 0;
    for (const sa of this.sas()) {
      if (sa.state !== "established") continue;
      for (const child of sa.children.values()) {
        if (child.state === "installed" && child.handles && this.installer.softExpired?.(child.handles)) {
          this.log.log("chd", 1, `CHILD_SA ${child.name}{${child.uniqueId}} reached its soft byte/packet limit`, sa);
          this.rekeyChild(sa, child);
          n++;
        }
      }
    }
    return n;
  }

  /** Delete every SA with the peers (shutdown). */
  shutdown(): void { for (const sa of this.sas()) if (sa.state === "established") initiateDeleteIke(this, sa); }

  // ---------------------------------------------------------------- for tasks

  createSa(conn: ConnectionConfig, initiator: boolean, spiI: bigint, local: Endpoint, remote: Endpoint): IkeSa {
    const sa = new IkeSa(this.nextId++, conn, initiator, spiI, local, remote);
    if (initiator) this.bySpi.set(spiI, sa);
    return sa;
  }

  /** Register the responder's SPI once chosen (and, for rekeyed IKE SAs, either role's new SPI). */
  index(sa: IkeSa): void { this.bySpi.set(sa.ourSpi, sa); }

  halfOpenKey(spiI: bigint, from: Endpoint): string { return `${spiI}/${from.address}/${from.port}`; }

  newChild(config: ChildConfig, spec: import("./child-sa.js").ChildSaSpec, byUs: boolean): ChildSa {
    return new ChildSa(this.nextId++, config, spec, byUs);
  }

  /** The IKE SA `child` belongs to now (IKE rekeys move children). */
  ownerOf(child: ChildSa): IkeSa | undefined {
    return this.sas().find((s) => s.children.get(child.uniqueId) === child);
  }

  /** `sa`, or the established IKE SA that replaced it through rekeys. */
  current(sa: IkeSa): IkeSa | undefined {
    let s = sa;
    while (s.successor) s = s.successor;
    return s.state === "established" ? s : undefined;
  }

  /** Send a request on `sa`, queued behind an outstanding one (window size 1). A function builds the
   *  payloads when the request goes out, or returns undefined when there is nothing left to ask. */
  request(sa: IkeSa, exchange: number, payloads: Payload[] | (() => Payload[] | undefined),
          onResponse: (msg: IkeMessage, inner: Payload[]) => void, onTimeout?: () => void): void {
    const go = () => {
      if (sa.state === "destroyed") return;
      const list = typeof payloads === "function" ? payloads() : payloads;
      if (!list) return this.pump(sa);
      const messageId = sa.nextRequestId++;
      const header = { spiI: sa.spiI, spiR: sa.spiR, exchangeType: exchange, initiator: sa.initiator, response: false, messageId };
      const datagrams = this.encode(sa, header, list, exchange === ExchangeType.IKE_SA_INIT);
      sa.pending = {
        messageId, exchange, datagrams, tries: 0, onResponse,
        onTimeout: onTimeout ?? (() => this.destroy(sa, `peer did not answer ${exchangeName(exchange)} request ${messageId}`)),
      };
      this.transmit(sa);
    };
    if (sa.pending) sa.queue.push(go);
    else go();
  }

  /** Answer the peer's request `req` on `sa`; cached so a retransmitted request gets the same answer. */
  respond(sa: IkeSa, req: IkeMessage, payloads: Payload[]): void {
    const h = req.header;
    const header = { spiI: sa.spiI, spiR: sa.spiR, exchangeType: h.exchangeType, initiator: sa.initiator, response: true, messageId: h.messageId };
    const datagrams = this.encode(sa, header, payloads, h.exchangeType === ExchangeType.IKE_SA_INIT);
    sa.lastResponse = { messageId: h.messageId, datagrams };
    for (const d of datagrams) this.send(sa, d);
  }

  /** An unencrypted answer for which no SA is kept (IKE_SA_INIT errors, cookies). */
  respondWithoutSa(req: IkeMessage, spiR: bigint, payloads: Payload[], local: Endpoint, remote: Endpoint): void {
    const h = req.header;
    const d = encodeMessage({ header: { spiI: h.spiI, spiR, exchangeType: h.exchangeType, initiator: false, response: true, messageId: h.messageId }, payloads });
    this.stats.sent++;
    this.transport.send(d, local, remote);
  }

  send(sa: IkeSa, datagram: Buffer): void {
    this.stats.sent++;
    sa.lastOutbound = this.clock.now();
    this.transport.send(datagram, sa.local, sa.remote);
  }

  /** Tear an SA down locally (no message): children uninstalled, keys zeroed. */
  destroy(sa: IkeSa, reason: string): void {
    if (sa.state === "destroyed") return;
    this.log.log("ike", 0, `IKE_SA ${sa.name}[${sa.uniqueId}] destroyed: ${reason}`, sa);
    for (const child of sa.children.values()) this.removeChild(sa, child, reason);
    sa.state = "destroyed";
    // The peer's colliding rekey we answered but never adopted dies with the SA it would have replaced.
    const orphan = sa.ikeRekey?.collision?.successor;
    sa.ikeRekey = undefined;
    sa.childRekey = undefined;
    if (orphan) this.destroy(orphan, "the IKE SA it was to replace is gone");
    sa.pending?.timer?.cancel();
    for (const t of [sa.rekeyTimer, sa.reauthTimer, sa.expireTimer, sa.keepaliveTimer, sa.dpdTimer, sa.halfOpenTimer, sa.deleteTimer]) t?.cancel();
    for (const [k, v] of this.bySpi) if (v === sa) this.bySpi.delete(k);
    for (const [k, v] of this.halfOpen) if (v === sa) this.halfOpen.delete(k);
    sa.wipe();
    this.emit("ike-down", sa, reason);
  }

  /** Uninstall a child from the data plane and forget it. */
  removeChild(sa: IkeSa, child: ChildSa, reason: string): void {
    if (child.state === "deleted") return;
    child.rekeyTimer?.cancel();
    child.expireTimer?.cancel();
    if (child.handles) this.installer.uninstall(child.handles);
    child.handles = undefined;
    for (const k of [child.spec.keysIn, child.spec.keysOut]) { k.encryptionKey.fill(0); k.integrityKey.fill(0); }
    child.state = "deleted";
    sa.children.delete(child.uniqueId);
    this.log.log("chd", 1, `CHILD_SA ${child.name}{${child.uniqueId}} removed (SPIs ${hex8(child.spiIn)}_i ${hex8(child.spiOut)}_o): ${reason}`, sa);
    this.emit("child-down", sa, child, reason);
  }

  drop(reason: string, from?: Endpoint): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    this.log.log("net", 2, `dropped message${from ? ` from ${from.address}[${from.port}]` : ""}: ${reason}`);
  }

  // ---------------------------------------------------------------- internals

  private encode(sa: IkeSa, header: Parameters<typeof encodeMessage>[0]["header"], payloads: Payload[], clear: boolean): Buffer[] {
    if (clear) return [encodeMessage({ header, payloads })];
    const msg = { header, encrypted: payloads };
    const whole = encodeMessage(msg, sa.encrypter);
    const limit = sa.conn.fragmentSize ?? 1280;
    // RFC 7383: fragment only when both sides support it and the message would not fit.
    if (sa.peerFragmentation && sa.conn.fragmentation && whole.length > limit && header.exchangeType !== ExchangeType.IKE_SA_INIT) {
      return encodeFragmented(msg, sa.encrypter, limit);
    }
    return [whole];
  }

  private transmit(sa: IkeSa): void {
    const p = sa.pending;
    if (!p) return;
    for (const d of p.datagrams) this.send(sa, d);
    const t = this.timers;
    const delay = t.retransmitTimeout * t.retransmitBase ** p.tries;
    p.timer = this.clock.schedule(delay, () => {
      if (sa.pending !== p) return;
      if (p.tries >= t.retransmitTries) {
        sa.pending = undefined;
        this.log.log("ike", 0, `giving up after ${p.tries} retransmits of ${exchangeName(p.exchange)} request ${p.messageId}`, sa);
        p.onTimeout();
        return;
      }
      p.tries++;
      this.stats.retransmitted++;
      this.log.log("ike", 1, `retransmit ${p.tries} of request with message ID ${p.messageId}`, sa);
      this.transmit(sa);
    });
  }

  private retransmitResponse(sa: IkeSa, req: IkeMessage): void {
    const last = sa.lastResponse;
    if (last && last.messageId === req.header.messageId) {
      this.log.log("ike", 1, `received retransmit of request with ID ${last.messageId}, retransmitting response`, sa);
      for (const d of last.datagrams) this.send(sa, d);
    } else this.drop("duplicate-without-response");
  }

  private handleResponse(sa: IkeSa, msg: IkeMessage, from: Endpoint, to: Endpoint): void {
    const p = sa.pending;
    if (!p || p.messageId !== msg.header.messageId || p.exchange !== msg.header.exchangeType) {
      return this.drop("unexpected-response", from);
    }
    let inner: Payload[] = [];
    if (msg.header.exchangeType !== ExchangeType.IKE_SA_INIT) {
      const opened = this.open(sa, msg);
      if (!opened) return;
      inner = opened;
    }
    p.timer?.cancel();
    sa.pending = undefined;
    this.noteInbound(sa, from, to);
    try {
      p.onResponse(msg, inner);
    } catch (e) {
      this.log.log("ike", 0, `processing ${exchangeName(p.exchange)} response failed: ${(e as Error).message}`, sa);
      this.destroy(sa, `processing ${exchangeName(p.exchange)} response failed`);
      return;
    }
    this.pump(sa);
  }

  /** Send the next queued request, if nothing is outstanding. */
  private pump(sa: IkeSa): void {
    const next = sa.pending ? undefined : sa.queue.shift();
    next?.();
  }

  private handleRequest(sa: IkeSa, msg: IkeMessage, from: Endpoint, to: Endpoint): void {
    const mid = msg.header.messageId;
    if (mid === sa.nextPeerRequestId - 1) return this.retransmitResponse(sa, msg);
    if (mid !== sa.nextPeerRequestId) return this.drop("message-id-outside-window", from);
    const inner = this.open(sa, msg);
    if (!inner) return;
    sa.nextPeerRequestId++;
    this.noteInbound(sa, from, to);
    try {
      switch (msg.header.exchangeType) {
        case ExchangeType.IKE_AUTH: return respondIkeAuth(this, sa, msg, inner);
        case ExchangeType.CREATE_CHILD_SA: return respondCreateChildSa(this, sa, msg, inner);
        case ExchangeType.INFORMATIONAL: return respondInformational(this, sa, msg, inner);
        default:
          this.log.log("ike", 1, `unsupported exchange ${exchangeName(msg.header.exchangeType)} requested`, sa);
          return this.respond(sa, msg, [notify(NotifyInvalidSyntax)]);
      }
    } catch (e) {
      this.log.log("ike", 0, `processing ${exchangeName(msg.header.exchangeType)} request failed: ${(e as Error).message}`, sa);
      if (!sa.lastResponse || sa.lastResponse.messageId !== mid) this.respond(sa, msg, [notify(NotifyInvalidSyntax)]);
    }
  }

  /** Verify and decrypt (reassembling fragments); undefined = dropped. */
  private open(sa: IkeSa, msg: IkeMessage): Payload[] | undefined {
    const last = msg.payloads.at(-1);
    try {
      if (last?.type === PayloadType.SKF) {
        const frag = openFragment(msg, sa.decrypter);
        const key = `${sa.uniqueId}/${msg.header.response ? "r" : "q"}/${msg.header.messageId}`;
        const list = (this.fragments.get(key) ?? []).filter((f) => f.fragmentNumber !== frag.fragmentNumber);
        list.push(frag);
        if (list.length > 64 || frag.totalFragments > 64) { this.fragments.delete(key); this.drop("too-many-fragments"); return undefined; }
        if (list.length < frag.totalFragments) { this.fragments.set(key, list); return undefined; }
        this.fragments.delete(key);
        return reassemble(list).payloads;
      }
      return openEncrypted(msg, sa.decrypter).payloads;
    } catch (e) {
      this.drop(e instanceof WireError ? `decrypt:${e.code}` : "decrypt");
      return undefined;
    }
  }

  private noteInbound(sa: IkeSa, from: Endpoint, to: Endpoint): void {
    sa.lastInbound = this.clock.now();
    // The initiator floats to port 4500 after IKE_SA_INIT when a NAT is detected: follow it.
    if (sa.state === "authenticating" && !sa.initiator) {
      sa.remote = { ...from };
      // A socket bound to the wildcard address cannot tell which local address was hit: keep ours.
      sa.local = { address: to.address === "::" || to.address === "0.0.0.0" ? sa.local.address : to.address, port: to.port };
      return;
    }
    // NAT-T: follow the peer's address/port if it changed (RFC 7296 §2.23), only after authentication.
    if (sa.state === "established" && (from.address !== sa.remote.address || from.port !== sa.remote.port) && sa.natT) {
      this.log.log("ike", 1, `peer moved from ${sa.remote.address}[${sa.remote.port}] to ${from.address}[${from.port}]`, sa);
      sa.remote = { ...from };
      for (const c of sa.children.values()) {
        c.spec.remote = { ...from };
        if (c.handles) this.installer.updateRemote?.(c.handles, from);
      }
    }
  }
}

const NotifyInvalidSyntax = 7;

export function exchangeName(t: number): string {
  return ({ 34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL" } as Record<number, string>)[t] ?? `exchange ${t}`;
}

export const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
