// IKE over UDP for the IKE engine: node:dgram sockets on ports 500 and 4500 of each configured local
// address. On 4500 IKE travels behind the 4-byte Non-ESP marker (RFC 3948 §2.2, RFC 7296 §2.23), added
// here on send and removed on receipt; the ESP and NAT keepalives sharing that port are counted and
// dropped, or handed to a hook (the batched ESP path is udp.ts, not this). Keepalives go out from here too.
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Transport } from "../ike/engine.js";
import type { Endpoint } from "../ike/nat.js";
import { addNonEspMarker, classifyPort4500, stripNonEspMarker } from "../ike/wire/index.js";
import { formatAddress, parseAddress } from "../dataplane/selectors.js";

/** What receives IKE datagrams: IkeEngine.receive. */
export interface IkeReceiver { receive(datagram: Uint8Array, from: Endpoint, to: Endpoint): void }

export interface IkeSocketOptions {
  /** Local IPv4 and/or IPv6 addresses; one socket per address and port. */
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
    const port = opts.port ?? 500, nattPort = opts.nattPort ?? 4500;
    const sockets = new Map<string, Socket>();
    const me = new IkeSocket(sockets, nattPort, opts);
    try {
      for (const address of opts.addresses) {
        for (const p of nattPort === 0 ? [port] : [port, nattPort]) {
          const s = createSocket({ type: isIPv6(address) ? "udp6" : "udp4" });
          sockets.set(key(address, p), s);
          await new Promise<void>((resolve, reject) => {
            s.once("error", reject);
            s.bind({ address, port: p, exclusive: true }, () => { s.off("error", reject); resolve(); });
          });
          const to = { address, port: p };
          s.on("message", (msg, rinfo) => me.onMessage(msg, { address: rinfo.address, port: rinfo.port }, to));
          s.on("error", (e) => opts.onError?.(e));
        }
      }
    } catch (e) {
      await me.close();
      throw new Error(`cannot bind IKE sockets: ${(e as Error).message}`);
    }
    return me;
  }

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

  private transmit(data: Buffer, local: Endpoint, remote: Endpoint): boolean {
    const s = this.sockets.get(key(local.address, local.port));
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
