// The gateway's packet path on worker threads over one shared data plane (see worker.ts):
//   encap worker: TUN → SPD + ESP or AH (one WASM call per batch) → ESP-in-UDP / raw AH (sendmmsg)
//   decap worker: ESP-in-UDP (recvmmsg) → ESP + inbound policy (one call per batch) → TUN
//   ah worker (with raw AH sockets only): raw AH (recvmmsg) → AH + inbound policy (one call per batch) → TUN
// One thread per direction: the two cores of the target machine, and each inbound SA's anti-replay window
// updated by a single thread (an inbound SA arrives on one socket only: ESP-in-UDP, or AH of its family).
// The main thread keeps IKE and control: it opens the TUN device, the UDP socket and the raw AH sockets once
// (the workers adopt the descriptors, which are process-wide), sends IKE on the UDP socket
// (UdpSocket.sendControl), writes SAs and policies into the shared memory, and hears from the workers
// about acquires (TRAP policies), IKE received on port 4500 and NAT mappings that moved.
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import type { DataPlane, DataPlaneHandle } from "../dataplane/dataplane.js";
import type { BackendName } from "../crypto/index.js";
import type { Tun, TunHandle, TunStats } from "../io/tun.js";
import type { UdpSocket, UdpStats } from "../io/udp.js";
import type { RawAh, RawAhHandle, RawAhStats } from "../io/raw.js";
import type { DropReason } from "../dataplane/layout.js";
import { SockAddr } from "../io/sockaddr.js";
import { Wakeup, type WakeupHandle } from "../io/wakeup.js";

export interface WorkerOptions {
  /** Opened by the caller, which closes them after stop(). */
  tun: Tun;
  udp: UdpSocket;
  /** The raw AH sockets, when a configured SA uses AH: a third worker receives on them. */
  raw?: RawAh;
  /** Packets per batch (default 64). */
  batch?: number;
  /** Packets kept per TRAP policy while its SA is negotiated (default 64); more are dropped, counted. */
  trapQueue?: number;
  /** Queued packets of a TRAP policy whose SA did not come up in time are dropped (default 30 s, as the
   *  kernel's larval SAs); its next packet asks again. */
  trapTimeoutMs?: number;
  /** Crypto backend of the workers (default "wasm"). */
  backend?: BackendName;
  /** A TRAP policy without an SA saw traffic: negotiate, then saUp() (or acquireFailed()). Once per policy
   *  until then; `packet` is the first one (RFC 7296 §2.9: its addresses narrow the selectors). */
  onAcquire?: (policyId: number, packet: Uint8Array) => void;
  /** An IKE message arrived on the ESP-in-UDP port (non-ESP marker removed). */
  onIke?: (message: Uint8Array, from: SockAddr) => void;
  /** An authenticated ESP packet of UDP-encapsulated SA `sa` came from another address/port than the SA's
   *  remote endpoint: the peer's NAT mapping moved. Reported once per move. */
  onNatMapping?: (sa: number, from: SockAddr) => void;
  /** A worker failed (it has stopped). */
  onError?: (error: Error) => void;
}

export interface EncapStats {
  /** Packets read from the TUN device. */
  read: number;
  encapsulated: number;
  /** ESP datagrams the kernel accepted. */
  sent: number;
  /** AH packets the kernel accepted (none without raw sockets: encapsulated - sent - ahSent were not sent). */
  ahSent: number;
  /** Matched a BYPASS policy: dropped, since traffic to bypass is not routed into the device. */
  bypassed: number;
  /** DROP policies and packets matching no policy (the SPD's noMatch tells them apart). */
  policyDropped: number;
  /** Other encapsulation failures (see the data plane's drop counters). */
  dropped: number;
  acquires: number;
  trapQueued: number;
  /** Queued TRAP packets encapsulated once their SA came up. */
  trapResent: number;
  /** TRAP packets dropped: queue full, negotiation failed or timed out. */
  trapDropped: number;
  tun: TunStats;
  udp: UdpStats;
  raw?: RawAhStats;
}

export interface DecapStats {
  /** ESP datagrams received. */
  received: number;
  decapsulated: number;
  dropped: number;
  /** Packets written to the TUN device. */
  written: number;
  natMappings: number;
  tun: TunStats;
  udp: UdpStats;
}

/** The AH worker's. */
export interface AhDecapStats {
  /** AH packets received. */
  received: number;
  decapsulated: number;
  dropped: number;
  /** `dropped` by reason. */
  drops: Partial<Record<DropReason, number>>;
  /** Packets written to the TUN device. */
  written: number;
  tun: TunStats;
  raw: RawAhStats;
}

export interface GatewayStats { encap: EncapStats; decap: DecapStats; ah?: AhDecapStats }
type AnyStats = EncapStats | DecapStats | AhDecapStats;

// ---- the protocol between the main thread and the workers (worker.ts) ----
export type Role = "encap" | "decap" | "ah";
export interface WorkerInit {
  role: Role; handle: DataPlaneHandle; backend: BackendName; tun: TunHandle; udpFd: number; raw?: RawAhHandle;
  wakeup: WakeupHandle; port: MessagePort; batch: number; trapQueue: number; trapTimeoutMs: number;
}
interface Endpoint { address: string; port: number }
export type ToWorker =
  | { type: "stop" } | { type: "stats"; id: number }
  | { type: "sa-up"; policyId: number } | { type: "acquire-failed"; policyId: number };
export type ToMain =
  | { type: "ready" } | { type: "stopped"; stats: AnyStats } | { type: "stats"; id: number; stats: AnyStats }
  | { type: "acquire"; policyId: number; packet: Uint8Array }
  | { type: "ike"; message: Uint8Array; from: Endpoint }
  | { type: "nat-mapping"; sa: number; from: Endpoint };

const STOP_GRACE_MS = 5000;

type Pending = { resolve: (s: AnyStats) => void; reject: (e: Error) => void };

class Thread {
  readonly exited: Promise<number>;
  private readonly waiting = new Map<number, Pending>();
  private nextId = 0;
  private gone = false;
  finalStats?: AnyStats;

  constructor(readonly worker: Worker, private readonly port: MessagePort, readonly wakeup: Wakeup, readonly role: Role) {
    this.exited = new Promise((resolve) => worker.once("exit", (code) => {
      this.gone = true;
      for (const p of this.waiting.values()) p.reject(new Error(`the ${role} worker has exited (${code})`));
      this.waiting.clear();
      resolve(code);
    }));
  }

  send(m: ToWorker): void {
    if (this.gone) return;
    this.port.postMessage(m);
    this.wakeup.signal();
  }

  stats(): Promise<AnyStats> {
    if (this.gone) return Promise.reject(new Error(`the ${this.role} worker has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => { this.waiting.set(id, { resolve, reject }); this.send({ type: "stats", id }); });
  }

  answered(id: number, s: AnyStats): void {
    this.waiting.get(id)?.resolve(s);
    this.waiting.delete(id);
  }

  close(): void {
    this.port.close();
    this.wakeup.close();
  }
}

export class DataPlaneWorkers {
  private stopping?: Promise<GatewayStats>;

  private constructor(private readonly encap: Thread, private readonly decap: Thread, private readonly ah?: Thread) {}

  /** Start the workers; resolves once all run. */
  static async start(dp: DataPlane, opts: WorkerOptions): Promise<DataPlaneWorkers> {
    const batch = opts.batch ?? 64, trapQueue = opts.trapQueue ?? 64, trapTimeoutMs = opts.trapTimeoutMs ?? 30_000;
    for (const [name, v] of [["batch", batch], ["trapQueue", trapQueue], ["trapTimeoutMs", trapTimeoutMs]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
    }
    const spawn = (role: Role): { thread: Thread; ready: Promise<void> } => {
      const { port1, port2 } = new MessageChannel();
      const wakeup = Wakeup.create();
      const init: WorkerInit = {
        role, handle: dp.handle, backend: opts.backend ?? "wasm", tun: opts.tun.handle, udpFd: opts.udp.fd, raw: opts.raw?.handle,
        wakeup: wakeup.handle, port: port2, batch, trapQueue, trapTimeoutMs,
      };
      const worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: init, transferList: [port2] });
      const thread = new Thread(worker, port1, wakeup, role);
      const ready = new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("exit", (code) => reject(new Error(`${role} worker exited (${code}) while starting`)));
        worker.on("message", (m: ToMain) => { if (m.type === "ready") resolve(); });
      });
      worker.on("message", (m: ToMain) => deliver(thread, m));
      worker.on("error", (e) => opts.onError?.(e));
      return { thread, ready };
    };
    const deliver = (thread: Thread, m: ToMain) => {
      try {
        switch (m.type) {
          case "acquire": opts.onAcquire?.(m.policyId, m.packet); break;
          case "ike": opts.onIke?.(m.message, new SockAddr(m.from.address, m.from.port)); break;
          case "nat-mapping": opts.onNatMapping?.(m.sa, new SockAddr(m.from.address, m.from.port)); break;
          case "stats": thread.answered(m.id, m.stats); break;
          case "stopped": thread.finalStats = m.stats; break;
        }
      } catch (e) {
        opts.onError?.(e as Error); // a callback's exception must not end the process
      }
    };
    const e = spawn("encap"), d = spawn("decap"), a = opts.raw ? spawn("ah") : undefined;
    const me = new DataPlaneWorkers(e.thread, d.thread, a?.thread);
    try {
      await Promise.all([e.ready, d.ready, a?.ready]);
    } catch (err) {
      await me.stop().catch(() => undefined);
      throw err;
    }
    return me;
  }

  /** The SA of TRAP policy `policyId` is installed (Spd.setHandle done): send what waited for it. */
  saUp(policyId: number): void { this.encap.send({ type: "sa-up", policyId }); }

  /** Negotiation for `policyId` failed: drop what waited for it (its next packet asks again). */
  acquireFailed(policyId: number): void { this.encap.send({ type: "acquire-failed", policyId }); }

  async stats(): Promise<GatewayStats> {
    const [encap, decap, ah] = await Promise.all([this.encap.stats(), this.decap.stats(), this.ah?.stats()]);
    return { encap: encap as EncapStats, decap: decap as DecapStats, ...(ah ? { ah: ah as AhDecapStats } : {}) };
  }

  /** Stop the workers (they leave their loops at once, even when blocked in poll()); resolves with their
   *  final counters. The TUN device and the socket stay open for the caller. */
  stop(): Promise<GatewayStats> {
    this.stopping ??= (async () => {
      const threads = [this.encap, this.decap, ...(this.ah ? [this.ah] : [])];
      for (const t of threads) t.send({ type: "stop" });
      await Promise.all(threads.map(async (t) => {
        const timer = setTimeout(() => void t.worker.terminate(), STOP_GRACE_MS);
        await t.exited;
        clearTimeout(timer);
        t.close();
      }));
      const [encap, decap, ah] = threads.map((t) => t.finalStats);
      if (!encap || !decap || (this.ah && !ah)) throw new Error("a data-plane worker did not stop cleanly");
      return { encap: encap as EncapStats, decap: decap as DecapStats, ...(ah ? { ah: ah as AhDecapStats } : {}) };
    })();
    return this.stopping;
  }
}
