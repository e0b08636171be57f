// IKE over UDP for the IKE engine: node:dgram sockets on ports 500 and 4500 of each configured local
// address. On 4500 IKE travels behind the 4-byte Non-ESP marker (RFC 3948 §2.2, RFC 7296 §2.23), added
// here on send and removed on receipt; the ESP and NAT keepalives sharing that port are counted and
// dropped, or handed to a hook (the batched ESP path is udp.ts, not this). Keepalives go out from here too.
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { hostAddresses } from "./host.js";
import type { Transport } from "../ike/engine.js";
import type { Endpoint } from "../ike/nat.js";
import { addNonEspMarker, classifyPort4500, stripNonEspMarker } from "../ike/wire/index.js";
import { formatAddress, parseAddress } from "../dataplane/selectors.js";
import { bindUdp } from "./udp.js";
import { SockAddr } from "./sockaddr.js";

/** What receives IKE datagrams: IkeEngine.receive. */
export interface IkeReceiver { receive(datagram: Uint8Array, from: Endpoint, to: Endpoint): void }

export interface IkeSocketOptions {
  /** Local IPv4 and/or IPv6 addresses; one socket per address and port. "0.0.0.0" / "::" stand for every
   *  address of that family the host has now (see bindAddresses()). */
  addresses: string[];
  /** IKE port, default 500. */
  port?: number;
  /** NAT-T port (Non-ESP marker, ESP-in-UDP), default 4500; 0 = not bound here (the gateway's batched
   *  ESP socket owns 4500 and hands IKE over). */
  nattPort?: number;
  /** ESP received on the NAT-T port (starting at the SPI); without a hook it is only counted. */
  onEsp?: (datagram: Buffer, from: Endpoint, to: Endpoint) => void;
  /** Send failures and exceptions while delivering (nothing else would see them). */
  onError?: (error: Error) => void;
  /** SO_MARK on every socket (CAP_NET_ADMIN), so that policy routing keeps IKE to the peer out of the
   *  tunnel's routes, as the gateway's ESP sockets are (src/daemon/routing.ts). node:dgram cannot set it: the
   *  socket is made and bound here and node:dgram adopts the descriptor. */
  mark?: number;
}

export interface IkeSocketStats {
  received: number;
  ike: number;
  esp: number;
  keepalives: number;
  keepalivesSent: number;
  /** IKE datagrams received before attach(): dropped. */
  unattached: number;
  sent: number;
  sendErrors: number;
}

/** Sockets are looked up by address bytes, so "fd00:2::1" and "fd00:0002:0::1" are the same. */
const key = (address: string, port: number) => `${formatAddress(parseAddress(address).bytes)}/${port}`;

const KEEPALIVE = Buffer.from([0xff]);

export class IkeSocket implements Transport {
  readonly stats: IkeSocketStats = { received: 0, ike: 0, esp: 0, keepalives: 0, keepalivesSent: 0, unattached: 0, sent: 0, sendErrors: 0 };
  private receiver?: IkeReceiver;

  private constructor(private readonly sockets: Map<string, Socket>, readonly nattPort: number,
                      private readonly opts: IkeSocketOptions) {}

  /** Binds every address on both ports; fails (closing what was bound) if any bind fails. */
  static async open(opts: IkeSocketOptions): Promise<IkeSocket> {
    const me = new IkeSocket(new Map(), opts.nattPort ?? 4500, opts);
    try {
      await me.bindAddresses(opts.addresses);
    } catch (e) {
      await me.close();
      throw e;
    }
    return me;
  }

  /**
   * Bind the addresses not bound yet (a reloaded configuration may name new ones). A socket per address,
   * not one on the wildcard: the engine must know which of our addresses a request came to (NAT-D hashes,
   * choosing the connection, answering from it), and node:dgram cannot report it (no IP_PKTINFO). So the
   * wildcard stands for the addresses the host has at this moment (IPv6 link-local ones excepted: they
   * would need a scope); one that appears later is bound when we first send from it, or on the next call.
   */
  async bindAddresses(addresses: string[]): Promise<void> {
    const port = this.opts.port ?? 500;
    for (const address of new Set(addresses.flatMap(expandWildcard))) {
      for (const p of this.nattPort === 0 ? [port] : [port, this.nattPort]) {
        if (this.sockets.has(key(address, p))) continue;
        try {
          await this.socketFor(address, p).bound;
        } catch (e) {
          this.sockets.delete(key(address, p));
          throw new Error(`cannot bind IKE socket ${address}[${p}]: ${(e as Error).message}`);
        }
      }
    }
  }

  /** The addresses bound, each once (both ports share it). */
  get addresses(): string[] { return [...new Set([...this.sockets.keys()].map((k) => k.slice(0, k.lastIndexOf("/"))))]; }

  /** Deliver IKE datagrams to `receiver` from now on. */
  attach(receiver: IkeReceiver): void { this.receiver = receiver; }

  send(datagram: Buffer, local: Endpoint, remote: Endpoint): void {
    if (this.transmit(local.port === this.nattPort ? addNonEspMarker(datagram) : datagram, local, remote)) this.stats.sent++;
  }

  /** RFC 3948 §2.3: the single octet 0xFF, without the Non-ESP marker, which the receiver drops. */
  sendKeepalive(local: Endpoint, remote: Endpoint): void {
    if (this.transmit(KEEPALIVE, local, remote)) this.stats.keepalivesSent++;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sockets.values()].map((s) => new Promise<void>((r) => {
      try { s.close(() => r()); } catch { r(); } // never bound, or closed already
    })));
    this.sockets.clear();
  }

  private onMessage(msg: Buffer, from: Endpoint, to: Endpoint): void {
    this.stats.received++;
    let ike: Buffer = msg;
    if (to.port === this.nattPort) {
      const kind = classifyPort4500(msg);
      if (kind === "keepalive") { this.stats.keepalives++; return; }
      if (kind === "esp") {
        this.stats.esp++;
        return this.deliver(() => this.opts.onEsp?.(msg, from, to));
      }
      ike = stripNonEspMarker(msg);
    }
    this.stats.ike++;
    const r = this.receiver;
    if (!r) { this.stats.unattached++; return; }
    this.deliver(() => r.receive(ike, from, to));
  }

  /** A socket bound (asynchronously: node:dgram queues what is sent before it is bound) to address:port;
   *  `bound` settles with the bind (an adopted descriptor is "listening" at once, within bind()). */
  private socketFor(address: string, port: number): { socket: Socket; bound: Promise<void> } {
    const s = createSocket({ type: isIPv6(address) ? "udp6" : "udp4" });
    this.sockets.set(key(address, port), s);
    const bound = new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.once("listening", () => { s.off("error", reject); resolve(); });
    });
    bound.catch(() => { /* the "error" handler below reports it; bindAddresses() awaits it */ });
    if (this.opts.mark === undefined) {
      s.bind({ address, port, exclusive: true });
    } else {
      try {
        s.bind({ fd: bindUdp(new SockAddr(address, port), { mark: this.opts.mark, gro: false }).fd, exclusive: true });
      } catch (e) {
        process.nextTick(() => s.emit("error", e)); // as node:dgram reports a failed bind
      }
    }
    const to = { address, port };
    s.on("message", (msg, rinfo) => this.onMessage(msg, { address: rinfo.address, port: rinfo.port }, to));
    s.on("error", (e) => {
      if (this.sockets.get(key(address, port)) === s && !boundTo(s)) this.sockets.delete(key(address, port)); // bind failed
      this.opts.onError?.(e);
    });
    return { socket: s, bound };
  }

  private transmit(data: Buffer, local: Endpoint, remote: Endpoint): boolean {
    const ours = local.port === (this.opts.port ?? 500) || local.port === this.nattPort;
    const unspecified = local.address === "0.0.0.0" || local.address === "::";
    let s = this.sockets.get(key(local.address, local.port));
    // An address the host gained since we bound ours: bind it now (the send waits for the bind).
    if (!s && ours && !unspecified && isLocalAddress(local.address)) s = this.socketFor(local.address, local.port).socket;
    if (!s) {
      this.stats.sendErrors++;
      this.opts.onError?.(new Error(`no socket bound to ${local.address}[${local.port}]`));
      return false;
    }
    s.send(data, remote.port, remote.address, (e) => {
      if (!e) return;
      this.stats.sendErrors++;
      this.opts.onError?.(e);
    });
    return true;
  }

  /** An exception must not escape a socket event (it would end the process). */
  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.opts.onError?.(e as Error);
    }
  }
}

function boundTo(s: Socket): boolean {
  try { s.address(); return true; } catch { return false; }
}

function expandWildcard(address: string): string[] {
  if (address !== "0.0.0.0" && address !== "::") return [address];
  const family = address === "::" ? "IPv6" : "IPv4";
  return hostAddresses().filter((a) => a.family === family).map((a) => a.address);
}

function isLocalAddress(address: string): boolean {
  const k = key(address, 0);
  return hostAddresses().some((a) => key(a.address, 0) === k);
}
