// A gateway with manually keyed SAs (no IKE): the packet path as it will run under the daemon, with the SAs
// and policies read from a JSON file. `node dist/src/gateway/static.js CONFIG.json`, inside the gateway's
// network namespace. It writes its counters to `statsFile` once running, again on SIGUSR2, and a last time
// on SIGTERM/SIGINT after stopping the workers cleanly.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DataPlane } from "../dataplane/dataplane.js";
import type { SaParams } from "../dataplane/sadb.js";
import type { PolicyAction } from "../dataplane/spd.js";
import { cidr } from "../dataplane/selectors.js";
import type { BackendName } from "../crypto/index.js";
import { Tun } from "../io/tun.js";
import { UdpSocket } from "../io/udp.js";
import { RawAh, type RawAhOptions } from "../io/raw.js";
import { DataPlaneWorkers, type GatewayStats } from "./workers.js";

export interface StaticSa extends Omit<SaParams, "key" | "salt" | "integrityKey" | "localTs" | "remoteTs"> {
  key?: string;                // hex (ESP)
  salt?: string;               // hex (ESP)
  integrityKey?: string;       // hex (AH)
  localTs?: string[];          // CIDR prefixes
  remoteTs?: string[];
}

export interface StaticPolicy {
  id: number;
  action: PolicyAction;
  local: string;               // CIDR prefix
  remote: string;
  /** Outbound SA by SPI (protect, or trap). */
  spi?: number;
  priority?: number;
}

export interface StaticConfig {
  tun: { name?: string; mtu?: number; addresses?: string[]; routes?: string[] };
  udp?: { address?: string; port?: number; receiveBuffer?: number; sendBuffer?: number };
  /** The raw AH sockets, opened when an SA uses AH. */
  ah?: Pick<RawAhOptions, "receiveBuffer" | "sendBuffer" | "mark">;
  sas: StaticSa[];
  policies: StaticPolicy[];
  backend?: BackendName;
  batch?: number;
  statsFile: string;
}

export interface StaticStats {
  tun: string;
  workers: GatewayStats;
  sas: { spi: number; direction: string; packets: string; bytes: string; drops: Record<string, string> }[];
  globalDrops: Record<string, string>;
  spdNoMatch: string;
}

export async function runStaticGateway(conf: StaticConfig): Promise<void> {
  const dp = DataPlane.create({ maxSAs: Math.max(16, conf.sas.length), backend: conf.backend });
  const handles = new Map<string, number>();
  for (const sa of conf.sas) {
    const h = dp.sadb.install({
      ...sa, key: hex(sa.key), salt: hex(sa.salt), integrityKey: hex(sa.integrityKey),
      localTs: sa.localTs?.map((p) => cidr(p)), remoteTs: sa.remoteTs?.map((p) => cidr(p)),
    });
    handles.set(`${sa.direction} ${sa.spi}`, h);
  }
  dp.spd.set(conf.policies.map((p) => {
    const sa = p.spi === undefined ? undefined : handles.get(`out ${p.spi}`);
    if (p.spi !== undefined && sa === undefined) throw new Error(`policy ${p.id}: no outbound SA with SPI ${p.spi}`);
    return { id: p.id, action: p.action, local: cidr(p.local), remote: cidr(p.remote), sa, priority: p.priority };
  }));
  const tun = Tun.open(dp, conf.tun);
  const udp = UdpSocket.open(dp, conf.udp);
  // Raw AH sockets only when an SA needs them (they receive every AH packet the host gets).
  const raw = conf.sas.some((sa) => sa.protocol === "ah") ? RawAh.open(dp, conf.ah) : undefined;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const workers = await DataPlaneWorkers.start(dp, {
    tun, udp, raw, backend: conf.backend, batch: conf.batch,
    onAcquire: (id) => log(`acquire for policy ${id}: no IKE here, its packets wait until they time out`),
    onIke: (_m, from) => log(`IKE message from ${from} ignored: manual keying`),
    onNatMapping: (sa, from) => log(`SA ${sa}: authenticated ESP from ${from}, not its peer's address`),
    onError: (e) => log(`worker error: ${e.stack ?? e.message}`),
  });

  const write = (workerStats: GatewayStats) => {
    const s: StaticStats = {
      tun: tun.name, workers: workerStats,
      sas: dp.sadb.handles().map((h) => {
        const st = dp.sadb.stats(h);
        return { spi: st.spi, direction: st.direction, packets: String(st.packets), bytes: String(st.bytes), drops: strings(st.drops) };
      }),
      globalDrops: strings(dp.sadb.globalDrops()), spdNoMatch: String(dp.spd.noMatch),
    };
    writeFileSync(`${conf.statsFile}.tmp`, JSON.stringify(s, null, 1));
    renameSync(`${conf.statsFile}.tmp`, conf.statsFile); // readers never see half a file
  };
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const final = await workers.stop();
    write(final);
    udp.close();
    raw?.close();
    tun.close();
    log("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  process.on("SIGUSR2", () => void workers.stats().then(write)); // SIGUSR1 is node's inspector
  write(await workers.stats());
  log(`running: ${tun.name}, ESP-in-UDP on port ${udp.port}${raw ? ", raw AH" : ""}, ${conf.sas.length} SAs, ${conf.policies.length} policies`);
}

function hex(s: string | undefined): Buffer | undefined {
  return s === undefined ? undefined : Buffer.from(s, "hex");
}

function strings(o: Partial<Record<string, bigint>>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String(v)]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: node dist/src/gateway/static.js CONFIG.json\n");
    process.exit(2);
  }
  runStaticGateway(JSON.parse(readFileSync(file, "utf8")) as StaticConfig).catch((e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
