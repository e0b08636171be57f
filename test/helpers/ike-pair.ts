// Two IKE engines in one process, each with its own data plane, joined by an in-memory network that
// delivers messages one at a time (and can drop, duplicate or inspect them).
import { IkeEngine, type Transport } from "../../src/ike/engine.js";
import { ManualClock } from "../../src/ike/clock.js";
import { Logger } from "../../src/ike/log.js";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { DataPlaneInstaller } from "../../src/ike/installer.js";
import { connectionDefaults, childDefaults, type ConnectionConfig, type ChildConfig } from "../../src/ike/config.js";
import { parseProposals } from "../../src/ike/crypto/index.js";
import { cidr } from "../../src/dataplane/selectors.js";
import type { Endpoint } from "../../src/ike/nat.js";
import { decodeMessage } from "../../src/ike/wire/index.js";

export interface Wire { data: Buffer; from: Endpoint; to: Endpoint; dir: "a→b" | "b→a" }

/** A NAT-T keepalive a side sent, and when (clock time). */
export interface Keepalive { from: Endpoint; to: Endpoint; dir: Wire["dir"]; at: number }

export interface Side { engine: IkeEngine; dp: DataPlane; addr: string; log: string[] }

export class IkePair {
  readonly clock = new ManualClock();
  readonly queue: Wire[] = [];
  readonly sent: Wire[] = [];
  readonly keepalives: Keepalive[] = [];
  /** Rewrites a message on its way (a NAT between the sides); `sent` holds it as sent. */
  translate: (w: Wire) => Wire = (w) => w;
  /** Return false to drop a message in flight. */
  filter: (w: Wire) => boolean = () => true;
  a: Side;
  b: Side;

  constructor(confA: ConnectionConfig, confB: ConnectionConfig, secret = "a very secret key", opts: { timers?: object } = {}) {
    const mk = (conf: ConnectionConfig, addr: string, dir: Wire["dir"]): Side => {
      const dp = DataPlane.create({ maxSAs: 64 });
      const log: string[] = [];
      const transport: Transport = {
        send: (data, local, remote) => {
          const w = { data: Buffer.from(data), from: { ...local, address: addr }, to: remote, dir };
          this.sent.push(w);
          const t = this.translate(w);
          if (this.filter(t)) this.queue.push(t);
        },
        sendKeepalive: (local, remote) => {
          this.keepalives.push({ from: { ...local, address: addr }, to: remote, dir, at: this.clock.now() });
        },
      };
      const engine = new IkeEngine({
        connections: [conf], secrets: [{ ids: [], secret: Buffer.from(secret) }], transport,
        installer: new DataPlaneInstaller(dp), clock: this.clock,
        log: new Logger((l) => log.push(l), {}, 2), timers: opts.timers,
      });
      return { engine, dp, addr, log };
    };
    this.a = mk(confA, "192.0.2.1", "a→b");
    this.b = mk(confB, "192.0.2.2", "b→a");
  }

  /** Deliver queued messages until none is left (bounded). Returns how many were delivered. */
  run(max = 1000): number {
    let n = 0;
    while (this.queue.length && n < max) {
      this.inject(this.queue.shift()!);
      n++;
    }
    return n;
  }

  /** Hand one message to its destination engine (a message taken off the queue earlier, delivered late). */
  inject(w: Wire): void {
    const dst = w.dir === "a→b" ? this.b : this.a;
    dst.engine.receive(w.data, w.from, { address: dst.addr, port: w.to.port });
  }

  /** Take the first queued message whose label starts with `prefix` (e.g. "b→a 36r") off the queue,
   *  undelivered: the others keep their order, so messages can be delayed, reordered or dropped. */
  take(prefix: string): Wire {
    const i = this.queue.findIndex((w) => label(w).startsWith(prefix));
    if (i < 0) throw new Error(`no queued message '${prefix}' in [${this.queue.map(label).join(", ")}]`);
    return this.queue.splice(i, 1)[0];
  }

  /** Deliver the first queued message whose label starts with `prefix`. */
  deliver(prefix: string): void { this.inject(this.take(prefix)); }

  /** Labels of the queued messages, in order. */
  queued(): string[] { return this.queue.map(label); }

  exchanges(): string[] { return this.sent.map(label); }
}

/** "a→b 36q2": direction, exchange type, request (q) or response (r), message ID. */
export function label(w: Wire): string {
  const m = decodeMessage(w.data);
  return `${w.dir} ${m.header.exchangeType}${m.header.response ? "r" : "q"}${m.header.messageId}`;
}

export function conn(name: string, local: string, remote: string, o: Partial<ConnectionConfig> = {}, child: Partial<ChildConfig> = {}): ConnectionConfig {
  const localNet = local === "192.0.2.1" ? "10.1.0.0/24" : "10.2.0.0/24";
  const remoteNet = local === "192.0.2.1" ? "10.2.0.0/24" : "10.1.0.0/24";
  return connectionDefaults({
    name, localAddrs: [local], remoteAddrs: [remote],
    proposals: parseProposals("aes128-sha256-x25519", "ike"),
    local: { auth: "psk", id: local === "192.0.2.1" ? "@moon" : "@sun" },
    remote: { auth: "psk", id: local === "192.0.2.1" ? "@sun" : "@moon" },
    children: [childDefaults({
      name: "net", localTs: [cidr(localNet)], remoteTs: [cidr(remoteNet)],
      espProposals: parseProposals("aes128gcm16", "esp"), ...child,
    })],
    ...o,
  });
}
