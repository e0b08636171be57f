// The gateway as the daemon runs it: the data plane in shared memory, the TUN device and the ESP-in-UDP
// socket (opened here, on the main thread, and adopted by the data-plane workers), the IKE engine on
// port 500 (node:dgram) and 4500 (the same batched socket, IKE handed over by the decap worker), the SPD
// and routes derived from negotiated Child SAs, and the commands of the control socket.
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { DataPlane } from "../dataplane/dataplane.js";
import { Tun } from "../io/tun.js";
import { UdpSocket } from "../io/udp.js";
import { RawAh } from "../io/raw.js";
import { SockAddr } from "../io/sockaddr.js";
import { IkeSocket } from "../io/ike-socket.js";
import { DataPlaneWorkers } from "../gateway/workers.js";
import { IkeEngine, type Transport } from "../ike/engine.js";
import { DataPlaneInstaller } from "../ike/installer.js";
import { KeyLog } from "../ike/keylog.js";
import type { Logger } from "../ike/log.js";
import type { IkeSa } from "../ike/ike-sa.js";
import { childAlgorithm, type ChildSa, type InstalledHandles } from "../ike/child-sa.js";
import type { ConnectionConfig } from "../ike/config.js";
import { formatIdentity } from "../ike/identity.js";
import { describeProposal, describeProposals } from "../ike/proposals.js";
import { format as formatTs } from "../ike/selectors.js";
import { resolveSelectors } from "../config/selectors.js";
import type { SwanctlConfig } from "../config/swanctl.js";
import type { BackendName } from "../crypto/backend.js";
import type { Command, IkeStatus, ConnStatus, ChildStatus } from "../control/protocol.js";
import { trapPolicies, protectPolicies, ikeAddresses, type TrapRef } from "./policies.js";
import { DEFAULT_ROUTING, PolicyRouting, exemptRouteGet, sourceCandidates, plannedRoutes, type RoutingSettings } from "./routing.js";
import { sourceAddress } from "./route.js";
import { icvOf, innerMtu, pathMtu, tunMtu, IPV6_MIN_MTU, DEFAULT_PATH_MTU, type MtuPeer, type SaShape } from "./mtu.js";

export interface GatewayOptions {
  config: SwanctlConfig;
  log: Logger;
  backend?: BackendName;
  keylog?: string;
  /** Re-read the configuration (load-all). */
  reload?: () => SwanctlConfig;
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
const hex16 = (n: bigint) => n.toString(16).padStart(16, "0");
/** Counters for JSON output (bigint does not serialize). */
const str = (d: Partial<Record<string, bigint>>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, String(v)]));

const shapeOf = (spec: ChildSa["spec"]): SaShape =>
  (spec.protocol === "esp" ? { protocol: "esp", icv: spec.encr.icvLength, udpEncap: spec.udpEncap } : { protocol: "ah", integ: spec.integ.name });

/** When an established IKE SA is due for rekeying and reauthentication, as swanctl lists them. */
function ikeTimes(s: IkeSa, now: number): Pick<IkeStatus, "rekeyInSeconds" | "reauthInSeconds" | "expiresInSeconds"> {
  if (s.state !== "established") return {};
  return {
    ...(s.rekeyAt ? { rekeyInSeconds: s.rekeyAt - now } : {}),
    ...(s.reauthAt ? { reauthInSeconds: s.reauthAt - now } : {}),
    ...(s.expireAt ? { expiresInSeconds: s.expireAt - now } : {}),
  };
}

const authStatus = (a: ConnectionConfig["local"]): ConnStatus["local"] => ({
  auth: a.auth, id: a.id,
  ...(a.certs ? { certs: a.certs.map((c) => c.subjectText) } : {}), ...(a.cacerts ? { cacerts: a.cacerts.map((c) => c.subjectText) } : {}),
});

/** Keys and trust anchors: x509ca/, and x509/ too (strongSwan trusts every certificate it loaded, so a peer's
 *  certificate placed there is accepted as it is). */
function credentials(cfg: SwanctlConfig): { privateKeys: SwanctlConfig["privateKeys"]; caCerts: SwanctlConfig["caCerts"] } {
  return { privateKeys: cfg.privateKeys, caCerts: [...cfg.caCerts, ...cfg.certs] };
}

/** How long the workers keep a TRAP policy's packets (DataPlaneWorkers' default trapTimeoutMs). */
const TRAP_TIMEOUT_MS = 30_000;

/** Packets per worker batch (DataPlaneWorkers' default). */
const BATCH = 64;

/** One data-plane thread per core: half the cores in encap/decap pairs, at least one pair. */
function defaultPairs(): number { return Math.max(1, Math.floor(availableParallelism() / 2)); }

/** Where IKE listens on port 500: each concrete local_addrs entry, and every address the host has ("0.0.0.0"
 *  and "::", see IkeSocket.bindAddresses) when some connection leaves its local address open, as strongSwan does. */
function ikeBindAddresses(cfg: SwanctlConfig): string[] {
  const concrete = (a: string) => !a.startsWith("%") && !a.includes("/") && !a.includes("-");
  const open = cfg.connections.length === 0 || cfg.connections.some((c) => !c.localAddrs.some(concrete));
  return [...new Set([...cfg.connections.flatMap((c) => c.localAddrs.filter(concrete)), ...(open ? ["0.0.0.0", "::"] : [])])];
}

/** Engine connections from swanctl's: dynamic selectors resolved with the connection's own addresses. */
function engineConnections(cfg: SwanctlConfig): ConnectionConfig[] {
  return cfg.connections.map((c) => {
    const { local, remote } = ikeAddresses(c);
    return {
      // Our data plane speaks ESP-in-UDP only (like strongSwan's kernel-libipsec), so ESP forces encapsulation;
      // AH cannot be encapsulated (the engine refuses AH under a real or forced NAT): AH-only connections force nothing.
      ...c, encap: c.encap || c.children.some((ch) => ch.espProposals.length > 0),
      children: c.children.map((ch) => ({ ...ch, localTs: resolveSelectors(ch.localTs, local), remoteTs: resolveSelectors(ch.remoteTs, remote) })),
    };
  });
}

/** How long a removed Child SA stays in the data plane (strongSwan keeps a rekeyed inbound SA for
 *  charon.delete_rekeyed_delay, 5 s). */
const REMOVE_GRACE_MS = 1000;

/**
 * Removing a Child SA under running workers: the SPD stops pointing at it at once, the SAs go a moment later.
 * Meanwhile packets a worker resolved to the outbound SA just before are sent, and the peer's packets sent on the
 * old inbound SA before it switched are accepted (a peer answering our DELETE before it switches, as our engine
 * does, or packets still in a worker's batch).
 */
class GatewayInstaller extends DataPlaneInstaller {
  constructor(dp: DataPlane, private readonly beforeUninstall: (h: InstalledHandles) => void) { super(dp); }

  override uninstall(h: InstalledHandles): void {
    this.beforeUninstall(h);
    setTimeout(() => super.uninstall(h), REMOVE_GRACE_MS).unref();
  }
}

export class Gateway {
  readonly dp: DataPlane;
  readonly engine: IkeEngine;
  private tun!: Tun;
  private udp!: UdpSocket;
  private readonly moreUdp: UdpSocket[] = [];
  /** TRAP policies being negotiated, since when. */
  private readonly acquiring = new Map<number, number>();
  /** Raw AH sockets, only when a configured child proposes AH (they see every AH packet of the host). */
  private raw?: RawAh;
  private ike500!: IkeSocket;
  private workers!: DataPlaneWorkers;
  private traps = new Map<number, TrapRef>();
  private trapList: ReturnType<typeof trapPolicies>["policies"] = [];
  /** Routes into the TUN device: our table and rules (routing.ts). */
  private routing?: PolicyRouting;
  private readonly routingSettings: RoutingSettings;
  private pollTimer?: NodeJS.Timeout;
  private cfg: SwanctlConfig;
  private mtu = 0;

  private constructor(private readonly o: GatewayOptions) {
    this.cfg = o.config;
    const s = o.config.wasmIpsec;
    this.routingSettings = { ...DEFAULT_ROUTING, ...s.routing };
    this.dp = DataPlane.create({ maxSAs: s.maxSas, backend: o.backend ?? s.cryptoBackend, autoThreshold: s.autoThreshold });
    const transport: Transport = {
      send: (d, local, remote) => {
        // Answer from the port the request came to: a peer's (or its NAT's) source port need not be 500.
        if (local.port === 500) this.ike500.send(d, local, remote);
        else this.udp.sendControl(d, new SockAddr(remote.address, remote.port));
      },
      // RFC 3948 §4: a single 0xFF byte from the ESP-in-UDP socket keeps a NAT mapping alive.
      sendKeepalive: (_local, remote) => this.udp.sendKeepalive(new SockAddr(remote.address, remote.port)),
    };
    const keylogPath = o.keylog ?? s.keylog;
    this.engine = new IkeEngine({
      connections: engineConnections(o.config), secrets: o.config.secrets, transport, timers: s.timers, ...credentials(o.config),
      installer: new GatewayInstaller(this.dp, (h) => this.syncPolicies(h)), log: o.log, keylog: keylogPath ? new KeyLog(keylogPath) : undefined,
      sourceAddress: (remote) => sourceAddress(remote, exemptRouteGet(this.routingSettings.fwmark)),
    });
    // Every change of Child SAs changes the SPD and the routes.
    for (const ev of ["child-up", "child-down", "ike-down"]) this.engine.on(ev, () => { this.syncPolicies(); this.updateMtu(); });
    this.engine.on("child-up", (_sa: IkeSa, child: ChildSa) => {
      for (const [id, t] of this.traps) if (t.child === child.name) { this.acquiring.delete(id); this.workers?.saUp(id); }
    });
    this.engine.on("child-failed", (_sa: IkeSa, cfg: { name: string }) => {
      for (const [id, t] of this.traps) if (t.child === cfg.name) { this.acquiring.delete(id); this.workers?.acquireFailed(id); }
    });
    // A negotiation that died with its IKE SA: the next trapped packet may ask again.
    this.engine.on("ike-down", (sa: IkeSa) => { for (const [id, t] of this.traps) if (t.conn === sa.conn.name) this.acquiring.delete(id); });
  }

  static async start(o: GatewayOptions): Promise<Gateway> {
    const g = new Gateway(o);
    try {
      await g.open();
    } catch (e) {
      await g.stop(false);
      throw e;
    }
    return g;
  }

  private async open(): Promise<void> {
    const s = this.cfg.wasmIpsec, log = this.o.log;
    this.mtu = s.tun.mtu ?? this.wantedMtu();
    const pairs = s.workers ?? defaultPairs();
    // Encap workers take an SA's sequence numbers a batch at a time and send in parallel, so the peer may see
    // them reordered by up to a batch per extra worker: more than a small replay window accepts.
    const reorder = (pairs - 1) * BATCH;
    for (const c of this.cfg.connections) {
      for (const ch of c.children) {
        if (pairs > 1 && ch.replayWindow > 0 && ch.replayWindow < reorder + BATCH) {
          log.log("cfg", 0, `warning: ${c.name}/${ch.name}: with ${pairs} worker pairs one SA's packets can arrive reordered by up to `
            + `${reorder}; replay_window = ${ch.replayWindow} (on both ends) will drop some as replayed: use ${reorder + BATCH} or more`);
        }
      }
    }
    this.tun = Tun.open(this.dp, { name: s.tun.name, mtu: this.mtu, queues: pairs });
    this.routing = PolicyRouting.open(this.routingSettings, this.tun.name, (m) => log.log("cfg", 0, m));
    const mark = this.routingSettings.fwmark;
    // 4 MiB socket buffers: a burst of a TCP window must not overflow the ESP socket between batches.
    // Worker pair i reads TUN queue i and receives on socket i (SO_REUSEPORT: the kernel keeps each peer's
    // flow on one socket, so one thread updates an inbound SA's replay window); this.udp also sends IKE.
    const udpOpts = { address: "::", port: 4500, receiveBuffer: 4 << 20, sendBuffer: 4 << 20, mark, reusePort: pairs > 1 };
    this.udp = UdpSocket.open(this.dp, udpOpts);
    for (let i = 1; i < pairs; i++) this.moreUdp.push(UdpSocket.open(this.dp, udpOpts));
    if (this.cfg.connections.some((c) => c.children.some((ch) => (ch.ahProposals?.length ?? 0) > 0))) {
      this.raw = RawAh.open(this.dp, { receiveBuffer: 4 << 20, sendBuffer: 4 << 20, mark });
    }
    this.ike500 = await IkeSocket.open({
      addresses: ikeBindAddresses(this.cfg), port: 500, nattPort: 0, mark,
      onError: (e) => log.log("net", 1, `IKE socket: ${e.message}`),
    });
    this.ike500.attach(this.engine);
    this.workers = await DataPlaneWorkers.start(this.dp, {
      tun: this.tun, udp: [this.udp, ...this.moreUdp], pairs, raw: this.raw, backend: this.o.backend ?? s.cryptoBackend,
      onIke: (m, from) => {
        const sa = this.saForMessage(m);
        this.engine.receive(m, { address: from.address, port: from.port }, { address: sa?.local.address ?? "::", port: 4500 });
      },
      onAcquire: (id) => this.acquire(id),
      onNatMapping: (h, from) => this.natMapping(h, from),
      onError: (e) => log.log("net", 0, `data-plane worker: ${e.stack ?? e.message}`),
    });
    this.syncPolicies();
    this.pollTimer = setInterval(() => this.engine.pollLifetimes(), 1000);
    this.pollTimer.unref();
    log.log("cfg", 0, `gateway up: ${this.tun.name} (MTU ${this.mtu}${s.tun.mtu ? ", configured" : ""}), IKE on ${this.ike500.addresses.join(", ")} port 500, ESP-in-UDP on 4500${this.raw ? ", raw AH" : ""}, ` +
      `${this.cfg.connections.length} connection(s), crypto backend ${this.o.backend ?? s.cryptoBackend}`);
    for (const c of this.cfg.connections) {
      for (const ch of c.children) if (ch.startAction === "start") this.tryInitiate(c.name, ch.name);
    }
  }

  get tunName(): string { return this.tun.name; }

  private saForMessage(m: Uint8Array): IkeSa | undefined {
    if (m.length < 28) return undefined;
    const b = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
    const spiI = b.readBigUInt64BE(0), spiR = b.readBigUInt64BE(8);
    return this.engine.sas().find((s) => s.spiI === spiI && (s.spiR === spiR || spiR === 0n));
  }

  private tryInitiate(conn: string, child: string): void {
    try { this.engine.initiate(conn, child); } catch (e) { this.o.log.log("cfg", 0, (e as Error).message); }
  }

  private acquire(policyId: number): void {
    const t = this.traps.get(policyId);
    if (!t) return this.workers.acquireFailed(policyId);
    // Every encap worker reports a trap it saw: one negotiation answers them all (until it ends, or for as
    // long as the workers queue packets for it).
    const since = this.acquiring.get(policyId);
    if (since !== undefined && Date.now() - since < TRAP_TIMEOUT_MS) return;
    this.o.log.log("cfg", 1, `acquire for ${t.conn}/${t.child}: initiating`);
    const up = this.engine.sas().find((s) => s.conn.name === t.conn && s.state === "established");
    if (up && [...up.children.values()].some((c) => c.name === t.child && c.state === "installed")) return this.workers.saUp(policyId);
    this.acquiring.set(policyId, Date.now());
    this.tryInitiate(t.conn, t.child);
  }

  private natMapping(handle: number, from: SockAddr): void {
    for (const sa of this.engine.sas()) {
      for (const c of sa.children.values()) {
        if (c.handles?.in !== handle) continue;
        this.o.log.log("ike", 1, `peer's NAT mapping moved to ${from.address}[${from.port}]`, sa);
        sa.remote = { address: from.address, port: from.port };
        for (const other of sa.children.values()) {
          other.spec.remote = { ...sa.remote };
          if (other.handles) this.engine.installer.updateRemote?.(other.handles, sa.remote);
        }
        return;
      }
    }
  }

  /** Recompute the SPD (protect + trap) and the routes into the TUN device. */
  syncPolicies(removing?: InstalledHandles): void {
    if (!this.tun) return;
    const trap = trapPolicies(this.cfg.connections);
    this.traps = trap.traps;
    this.trapList = trap.policies;
    const all = [...protectPolicies(this.engine, removing), ...this.trapList];
    this.dp.spd.set(all);
    this.routing?.sync(plannedRoutes(all, sourceCandidates()));
  }

  /** The TUN MTU the peers call for: those of installed Child SAs, else every configured peer with the
   *  largest overhead its proposals allow (and the default path for peers not known yet). */
  private wantedMtu(): number {
    const active: MtuPeer[] = this.engine.sas().flatMap((sa) => [...sa.children.values()]
      .filter((c) => c.handles && (c.state === "installed" || c.state === "rekeying"))
      .map((c) => ({ address: sa.remote.address, sa: shapeOf(c.spec) })));
    const configured = () => this.cfg.connections.flatMap((c) => {
      const { local, remote } = ikeAddresses(c);
      const address = remote !== "0.0.0.0" ? remote : local.includes(":") ? "::" : "0.0.0.0";
      const icvs = c.children.flatMap((ch) => ch.espProposals.flatMap((p) => p.encr.map((e) => icvOf(e.id))));
      const shapes: SaShape[] = [{ protocol: "esp", icv: icvs.length ? Math.max(...icvs) : 16, udpEncap: true }];
      // AH's largest header, HMAC-SHA-512's 32-byte ICV, until an AH SA says which it is.
      if (c.children.some((ch) => ch.ahProposals?.length)) shapes.push({ protocol: "ah", integ: "sha512" });
      return shapes.map((sa) => ({ address, sa }));
    });
    // An unknown peer (%any) is assumed behind the default path: its SA corrects the MTU when it comes up.
    const path = (a: string) => (a === "::" || a === "0.0.0.0" ? DEFAULT_PATH_MTU : pathMtu(a, exemptRouteGet(this.routingSettings.fwmark)));
    return tunMtu(active.length ? active : configured(), path) ?? innerMtu(DEFAULT_PATH_MTU, 4, { protocol: "esp", icv: 16, udpEncap: true });
  }

  /** Follow the path toward the peers as Child SAs come and go, unless the configuration fixes the MTU. */
  private updateMtu(): void {
    if (!this.tun || this.cfg.wasmIpsec.tun.mtu !== undefined) return;
    const mtu = this.wantedMtu();
    if (mtu === this.mtu) return;
    try {
      execFileSync("ip", ["link", "set", "dev", this.tun.name, "mtu", String(mtu)], { stdio: "pipe" });
      this.o.log.log("cfg", 1, `${this.tun.name}: MTU ${this.mtu} -> ${mtu}${mtu < IPV6_MIN_MTU ? " (below 1280: no IPv6 through the tunnel)" : ""}`);
      // The kernel drops a device's IPv6 routes with IPv6 itself below 1280: put them back when it returns.
      if (this.mtu < IPV6_MIN_MTU && mtu >= IPV6_MIN_MTU) this.routing?.reinstall((r) => r.prefix.includes(":"));
      this.mtu = mtu;
    } catch (e) {
      this.o.log.log("cfg", 0, `ip link set dev ${this.tun.name} mtu ${mtu} failed: ${((e as { stderr?: Buffer }).stderr ?? "").toString().trim()}`);
    }
  }

  // ---------------------------------------------------------------- control commands

  async command(cmd: Command, out: (line: string) => void): Promise<unknown> {
    switch (cmd.cmd) {
      case "initiate": return this.initiate(cmd.child, cmd.ike, (cmd.timeout ?? 30) * 1000, out);
      case "terminate": return this.terminate(cmd.child, cmd.ike, (cmd.timeout ?? 30) * 1000);
      case "rekey": return this.rekey(cmd.child, cmd.ike);
      case "load-all": return this.reload();
      case "list-conns": return this.listConns();
      case "list-sas": return this.listSas(cmd.ike);
      case "stats": return this.stats();
    }
  }

  private connOf(child?: string, ike?: string): { conn: string; child?: string } {
    const conns = this.cfg.connections;
    if (ike) {
      const c = conns.find((x) => x.name === ike);
      if (!c) throw new Error(`no connection named '${ike}' (have: ${conns.map((x) => x.name).join(", ") || "none"})`);
      if (child && !c.children.some((x) => x.name === child)) throw new Error(`connection '${ike}' has no child '${child}'`);
      return { conn: c.name, child };
    }
    const c = conns.find((x) => x.children.some((y) => y.name === child));
    if (!c) throw new Error(`no child config named '${child}'`);
    return { conn: c.name, child };
  }

  private initiate(child: string | undefined, ike: string | undefined, timeoutMs: number, out: (l: string) => void): Promise<string> {
    const { conn, child: ch } = this.connOf(child, ike);
    return new Promise((resolve, reject) => {
      const cleanup = () => { clearTimeout(timer); this.engine.off("child-up", onUp); this.engine.off("child-failed", onFail); this.engine.off("ike-down", onDown); this.engine.off("ike-up", onIke); };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`initiate timed out after ${timeoutMs / 1000} s`)); }, timeoutMs);
      const onUp = (sa: IkeSa, c: ChildSa) => {
        if (sa.conn.name !== conn || (ch && c.name !== ch)) return;
        out(`CHILD_SA ${c.name}{${c.uniqueId}} established with SPIs ${hex8(c.spiIn)}_i ${hex8(c.spiOut)}_o`);
        cleanup(); resolve(`initiate completed successfully`);
      };
      const onIke = (sa: IkeSa) => { if (sa.conn.name === conn) { out(`IKE_SA ${conn}[${sa.uniqueId}] established`); if (!ch && !sa.conn.children.length) { cleanup(); resolve("initiate completed successfully"); } } };
      const onFail = (sa: IkeSa, _c: unknown, why: string) => { if (sa.conn.name === conn) { cleanup(); reject(new Error(`CHILD_SA failed: ${why}`)); } };
      const onDown = (sa: IkeSa, why: string) => { if (sa.conn.name === conn && sa.state === "destroyed" && !this.engine.sas().some((s) => s.conn.name === conn)) { cleanup(); reject(new Error(`initiate failed: ${why}`)); } };
      this.engine.on("child-up", onUp); this.engine.on("child-failed", onFail); this.engine.on("ike-down", onDown); this.engine.on("ike-up", onIke);
      try { this.engine.initiate(conn, ch); } catch (e) { cleanup(); reject(e); }
    });
  }

  private async terminate(child: string | undefined, ike: string | undefined, timeoutMs: number): Promise<string> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const wait = (ev: string, pred: (...a: any[]) => boolean) => new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { this.engine.off(ev, f); reject(new Error(`terminate timed out after ${timeoutMs / 1000} s`)); }, timeoutMs);
      const f = (...a: any[]) => { if (pred(...a)) { clearTimeout(t); this.engine.off(ev, f); resolve(); } };
      this.engine.on(ev, f);
    });
    if (ike) {
      const sas = this.engine.sas().filter((s) => s.conn.name === ike);
      if (!sas.length) throw new Error(`no IKE_SA of connection '${ike}'`);
      const done = Promise.all(sas.map((s) => wait("ike-down", (x: IkeSa) => x === s)));
      for (const s of sas) this.engine.terminateIke(s);
      await done;
      return `terminate completed successfully`;
    }
    const pairs = this.engine.sas().flatMap((s) => [...s.children.values()].filter((c) => c.name === child).map((c) => [s, c] as const));
    if (!pairs.length) throw new Error(`no CHILD_SA named '${child}'`);
    const done = Promise.all(pairs.map(([, c]) => wait("child-down", (_s: IkeSa, x: ChildSa) => x === c)));
    for (const [s, c] of pairs) this.engine.terminateChild(s, c);
    await done;
    return `terminate completed successfully`;
  }

  private async rekey(child: string | undefined, ike: string | undefined): Promise<string> {
    if (ike) {
      const sas = this.engine.sas().filter((s) => s.conn.name === ike && s.state === "established");
      if (!sas.length) throw new Error(`no established IKE_SA of connection '${ike}'`);
      for (const s of sas) this.engine.rekeyIke(s);
      return `rekey of ${sas.length} IKE_SA(s) started`;
    }
    const pairs = this.engine.sas().flatMap((s) => [...s.children.values()].filter((c) => c.name === child && c.state === "installed").map((c) => [s, c] as const));
    if (!pairs.length) throw new Error(`no installed CHILD_SA named '${child}'`);
    for (const [s, c] of pairs) this.engine.rekeyChild(s, c);
    return `rekey of ${pairs.length} CHILD_SA(s) started`;
  }

  private reload(): string {
    if (!this.o.reload) throw new Error("no configuration file to reload");
    const cfg = this.o.reload(); // throws ConfigError listing every problem; the running config stays
    this.cfg = cfg;
    // Addresses the new configuration names (binding is quick; a failure is logged, the rest carries on).
    this.ike500.bindAddresses(ikeBindAddresses(cfg)).catch((e) => this.o.log.log("net", 0, (e as Error).message));
    this.engine.connections = engineConnections(cfg);
    this.engine.secrets = cfg.secrets;
    Object.assign(this.engine, credentials(cfg));
    this.syncPolicies();
    for (const c of cfg.connections) {
      for (const ch of c.children) {
        if (ch.startAction === "start" && !this.engine.sas().some((s) => s.conn.name === c.name)) this.tryInitiate(c.name, ch.name);
      }
    }
    return `loaded ${cfg.connections.length} connection(s), ${cfg.secrets.length} secret(s), ${cfg.certs.length + cfg.caCerts.length} certificate(s) `
      + `and ${cfg.privateKeys.length} private key(s)`;
  }

  private listConns(): ConnStatus[] {
    return this.engine.connections.map((c) => ({
      name: c.name, localAddrs: c.localAddrs, remoteAddrs: c.remoteAddrs, proposals: [],
      local: authStatus(c.local), remote: authStatus(c.remote),
      children: c.children.map((ch) => ({ name: ch.name, mode: ch.mode, localTs: ch.localTs.map(formatTs), remoteTs: ch.remoteTs.map(formatTs),
        espProposals: describeProposals(ch.espProposals), ahProposals: describeProposals(ch.ahProposals ?? []), startAction: ch.startAction })),
    }));
  }

  listSas(ike?: string): IkeStatus[] {
    const now = this.engine.clock.now();
    return this.engine.sas().filter((s) => !ike || s.conn.name === ike).map((s) => ({
      name: s.conn.name, uniqueId: s.uniqueId, state: s.state, version: 2 as const, initiator: s.initiator,
      spiI: hex16(s.spiI), spiR: hex16(s.spiR),
      localHost: s.local.address, localPort: s.local.port, localId: s.localId ? formatIdentity(s.localId) : "",
      remoteHost: s.remote.address, remotePort: s.remote.port, remoteId: s.remoteId ? formatIdentity(s.remoteId) : "",
      // swanctl's nat-local: a NAT in front of us, not the one faked to force UDP encapsulation (nat-fake).
      natLocal: s.natLocal && !s.natFake, natRemote: s.natRemote, algorithms: s.algs ? describeProposal(s.algs.proposal) : "",
      establishedSecondsAgo: s.establishedAt ? now - s.establishedAt : undefined,
      ...ikeTimes(s, now),
      children: [...s.children.values()].map((c): ChildStatus => {
        const i = c.handles ? this.dp.sadb.stats(c.handles.in) : undefined, o = c.handles ? this.dp.sadb.stats(c.handles.out) : undefined;
        return {
          name: c.name, uniqueId: c.uniqueId, state: c.state, mode: c.spec.mode, protocol: c.spec.protocol === "ah" ? "AH" : "ESP", encap: c.spec.udpEncap,
          encr: childAlgorithm(c.spec), esn: c.spec.esn,
          dhGroup: c.spec.dhGroup ? String(c.spec.dhGroup) : undefined,
          spiIn: hex8(c.spiIn), spiOut: hex8(c.spiOut),
          bytesIn: String(i?.bytes ?? 0n), packetsIn: String(i?.packets ?? 0n), bytesOut: String(o?.bytes ?? 0n), packetsOut: String(o?.packets ?? 0n),
          dropsIn: str(i?.drops ?? {}), dropsOut: str(o?.drops ?? {}),
          localTs: c.spec.localTs.map(formatTs), remoteTs: c.spec.remoteTs.map(formatTs),
          installedSecondsAgo: now - c.installedAt,
          rekeyInSeconds: c.rekeyAt ? c.rekeyAt - now : undefined, expiresInSeconds: c.expireAt ? c.expireAt - now : undefined,
        };
      }),
    }));
  }

  async stats(): Promise<unknown> {
    return {
      ike: this.engine.stats, ikeSocket: this.ike500.stats, workers: await this.workers.stats(),
      dataPlane: { globalDrops: str(this.dp.sadb.globalDrops()), sas: this.dp.sadb.size, spdNoMatch: String(this.dp.spd.noMatch), memoryBytes: this.dp.memoryBytes },
    };
  }

  /** Clean shutdown: delete SAs with the peers (bounded wait), stop workers, remove routes and the TUN. */
  async stop(deleteWithPeers = true): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (deleteWithPeers && this.engine.sas().length) {
      this.engine.shutdown();
      for (let i = 0; i < 30 && this.engine.sas().length; i++) await new Promise((r) => setTimeout(r, 100));
      for (const s of this.engine.sas()) this.engine.destroy(s, "daemon stopping");
    }
    await this.workers?.stop().catch(() => undefined);
    this.routing?.close();
    await this.ike500?.close();
    this.udp?.close();
    for (const u of this.moreUdp) u.close();
    this.raw?.close();
    this.tun?.close();
  }
}
