// The gateway's packet path on worker threads over one shared data plane (see worker.ts):
//   encap worker: TUN → SPD + ESP or AH (one WASM call per batch) → ESP-in-UDP / raw AH (sendmmsg)
//   decap worker: ESP-in-UDP (recvmmsg) → ESP + inbound policy (one call per batch) → TUN
//   ah worker (with raw AH sockets only): raw AH (recvmmsg) → AH + inbound policy (one call per batch) → TUN
// `pairs` encap/decap pairs (default 1: a thread per direction, the two cores of the target machine): encap
// worker i reads TUN queue i (a multi-queue device spreads flows over its queues), decap worker i receives
// on UDP socket i (SO_REUSEPORT sockets: the kernel hashes each peer's 4-tuple to one of them), so each
// inbound SA's anti-replay window is still updated by a single thread (an inbound SA arrives on one socket
// only: its peer's ESP-in-UDP flow, or AH of its family). Sequence numbers stay unique across encap workers
// (the data plane takes them with compare-and-swap).
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
  /** Opened by the caller, which closes them after stop(): a TUN device with at least `pairs` queues, and
   *  `pairs` UDP sockets on one port (SO_REUSEPORT) or, for one pair, the socket. */
  tun: Tun;
  udp: UdpSocket | UdpSocket[];
  /** Encap/decap worker pairs (default 1). */
  pairs?: number;
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

/** Counters summed over the workers of each role (`pairs` of them), and what each one took. */
export interface GatewayStats {
  pairs: number; encap: EncapStats; decap: DecapStats; ah?: AhDecapStats;
  /** Packets read from its TUN queue, per encap worker; datagrams received on its socket, per decap worker. */
  readByEncap: number[]; receivedByDecap: number[];
}
type AnyStats = EncapStats | DecapStats | AhDecapStats;

// ---- the protocol between the main thread and the workers (worker.ts) ----
export type Role = "encap" | "decap" | "ah";
export interface WorkerInit {
  role: Role; index: number; handle: DataPlaneHandle; backend: BackendName; tun: TunHandle; udpFd: number; raw?: RawAhHandle;
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

  private constructor(private readonly encap: Thread[], private readonly decap: Thread[], private readonly ah?: Thread) {}

  /** Start the workers; resolves once all run. */
  static async start(dp: DataPlane, opts: WorkerOptions): Promise<DataPlaneWorkers> {
    const batch = opts.batch ?? 64, trapQueue = opts.trapQueue ?? 64, trapTimeoutMs = opts.trapTimeoutMs ?? 30_000;
    for (const [name, v] of [["batch", batch], ["trapQueue", trapQueue], ["trapTimeoutMs", trapTimeoutMs]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
    }
    const pairs = opts.pairs ?? 1;
    const udp = Array.isArray(opts.udp) ? opts.udp : [opts.udp];
    if (!Number.isInteger(pairs) || pairs < 1) throw new RangeError(`pairs must be an integer ≥ 1, got ${pairs}`);
    if (udp.length !== pairs) throw new RangeError(`${pairs} worker pairs need ${pairs} UDP sockets, got ${udp.length}`);
    if (opts.tun.queues < pairs) throw new RangeError(`${pairs} worker pairs need ${pairs} TUN queues, the device has ${opts.tun.queues}`);
    const spawn = (role: Role, index = 0): { thread: Thread; ready: Promise<void> } => {
      const { port1, port2 } = new MessageChannel();
      const wakeup = Wakeup.create();
      const init: WorkerInit = {
        role, index, handle: dp.handle, backend: opts.backend ?? "wasm", tun: opts.tun.queueHandle(index), udpFd: udp[index].fd, raw: opts.raw?.handle,
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
    const indexes = Array.from({ length: pairs }, (_, i) => i);
    const e = indexes.map((i) => spawn("encap", i)), d = indexes.map((i) => spawn("decap", i)), a = opts.raw ? spawn("ah") : undefined;
    const me = new DataPlaneWorkers(e.map((x) => x.thread), d.map((x) => x.thread), a?.thread);
    try {
      await Promise.all([...e, ...d, ...(a ? [a] : [])].map((x) => x.ready));
    } catch (err) {
      await me.stop().catch(() => undefined);
      throw err;
    }
    return me;
  }

  /** The SA of TRAP policy `policyId` is installed (Spd.setHandle done): send what waited for it (each
   *  encap worker keeps its own queue). */
  saUp(policyId: number): void { for (const t of this.encap) t.send({ type: "sa-up", policyId }); }

  /** Negotiation for `policyId` failed: drop what waited for it (its next packet asks again). */
  acquireFailed(policyId: number): void { for (const t of this.encap) t.send({ type: "acquire-failed", policyId }); }

  async stats(): Promise<GatewayStats> {
    const [encap, decap, ah] = await Promise.all([
      Promise.all(this.encap.map((t) => t.stats())), Promise.all(this.decap.map((t) => t.stats())), this.ah?.stats(),
    ]);
    return this.gathered(encap, decap, ah);
  }

  private gathered(encap: (AnyStats | undefined)[], decap: (AnyStats | undefined)[], ah?: AnyStats): GatewayStats {
    const e = encap as EncapStats[], d = decap as DecapStats[];
    return {
      pairs: this.encap.length, encap: sum(e), decap: sum(d), ...(ah ? { ah: ah as AhDecapStats } : {}),
      readByEncap: e.map((s) => s.read), receivedByDecap: d.map((s) => s.received),
    };
  }

  /** Stop the workers (they leave their loops at once, even when blocked in poll()); resolves with their
   *  final counters. The TUN device and the socket stay open for the caller. */
  stop(): Promise<GatewayStats> {
    this.stopping ??= (async () => {
      const threads = [...this.encap, ...this.decap, ...(this.ah ? [this.ah] : [])];
      for (const t of threads) t.send({ type: "stop" });
      await Promise.all(threads.map(async (t) => {
        const timer = setTimeout(() => void t.worker.terminate(), STOP_GRACE_MS);
        await t.exited;
        clearTimeout(timer);
        t.close();
      }));
      if (threads.some((t) => !t.finalStats)) throw new Error("a data-plane worker did not stop cleanly");
      return this.gathered(this.encap.map((t) => t.finalStats), this.decap.map((t) => t.finalStats), this.ah?.finalStats);
    })();
    return this.stopping;
  }
}

/** Counters of several workers of one role added up, nested ones too; `lastErrno` is the last non-zero one. */
function sum<T extends object>(list: T[]): T {
  if (list.length === 1) return list[0];
  const add = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const w = out[k];
      if (typeof v === "number" && typeof w === "number") out[k] = k === "lastErrno" ? v || w : w + v;
      else if (v && typeof v === "object" && w && typeof w === "object") out[k] = add(w as Record<string, unknown>, v as Record<string, unknown>);
      else if (w === undefined) out[k] = v;
    }
    return out;
  };
  return list.reduce((acc, s) => add(acc as Record<string, unknown>, s as Record<string, unknown>) as T);
}
