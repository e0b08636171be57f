// Network namespaces for the gateway tests and bench/tunnel-static.ts, named `wipsec-gw-<pid>-<label>` and
// registered with the harness (test/e2e/harness), whose cleanup kills what runs in them and deletes them
// even after a crash. Documentation addresses only (RFC 5737, ULA):
//
//   host A ─lan─ gateway A ─wan─ gateway B ─lan─ host B
//   198.51.100.10/25  .1 | 192.0.2.1 ═ ESP-in-UDP ═ 192.0.2.2 | 203.0.113.1   203.0.113.10/25
//   fd00:a::10/64   ::1  | fd00:1::1                 fd00:1::2 | fd00:b::1     fd00:b::10/64
//
// Each gateway routes the far LAN into its TUN device, where the data plane encapsulates it.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  connect, deleteNamespace, installProcessHooks, Netns, pidAlive, registerNamespace, run, waitUntil,
  type NsProcess,
} from "./harness/index.js";
import type { StaticConfig, StaticSa, StaticStats } from "../../src/gateway/static.js";

export const NET = {
  lanA4: "198.51.100.0/25", hostA4: "198.51.100.10", gwLanA4: "198.51.100.1",
  lanB4: "203.0.113.0/25", hostB4: "203.0.113.10", gwLanB4: "203.0.113.1",
  lanA6: "fd00:a::/64", hostA6: "fd00:a::10", gwLanA6: "fd00:a::1",
  lanB6: "fd00:b::/64", hostB6: "fd00:b::10", gwLanB6: "fd00:b::1",
  wanA4: "192.0.2.1", wanB4: "192.0.2.2", wanA6: "fd00:1::1", wanB6: "fd00:1::2",
} as const;

const PREFIX = `wipsec-gw-${process.pid}-`;
const STALE = /^wipsec-gw-(\d+)-/;

/** Fail (never skip) when not root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("gateway tests need root (network namespaces, TUN devices): run them as root, as CI does");
  }
}

/** A namespace `wipsec-gw-<pid>-<label>` with lo up, deleted by the harness's cleanup(). Namespaces left by
 *  dead runs are removed first. */
export function gatewayNetns(label: string): Netns {
  requireRoot();
  installProcessHooks();
  for (const ns of run(["ip", "netns", "list"]).stdout.split("\n").map((l) => l.split(" ")[0])) {
    const m = STALE.exec(ns);
    if (m && !pidAlive(Number(m[1]))) deleteNamespace(ns);
  }
  const name = PREFIX + label;
  run(["ip", "netns", "add", name]);
  registerNamespace(name);
  const ns = new Netns(name, label);
  ns.ip(["link", "set", "lo", "up"]);
  return ns;
}

export interface Topology { hostA: Netns; gwA: Netns; gwB: Netns; hostB: Netns }

export function createTopology(): Topology {
  const t: Topology = { hostA: gatewayNetns("ha"), gwA: gatewayNetns("ga"), gwB: gatewayNetns("gb"), hostB: gatewayNetns("hb") };
  connect({ ns: t.hostA, iface: "lan", addrs: [`${NET.hostA4}/25`, `${NET.hostA6}/64`] },
    { ns: t.gwA, iface: "lan", addrs: [`${NET.gwLanA4}/25`, `${NET.gwLanA6}/64`] });
  connect({ ns: t.gwA, iface: "wan", addrs: [`${NET.wanA4}/24`, `${NET.wanA6}/64`] },
    { ns: t.gwB, iface: "wan", addrs: [`${NET.wanB4}/24`, `${NET.wanB6}/64`] });
  connect({ ns: t.gwB, iface: "lan", addrs: [`${NET.gwLanB4}/25`, `${NET.gwLanB6}/64`] },
    { ns: t.hostB, iface: "lan", addrs: [`${NET.hostB4}/25`, `${NET.hostB6}/64`] });
  for (const [host, gw4, gw6] of [[t.hostA, NET.gwLanA4, NET.gwLanA6], [t.hostB, NET.gwLanB4, NET.gwLanB6]] as const) {
    host.ip(["route", "add", "default", "via", gw4]);
    host.ip(["-6", "route", "add", "default", "via", gw6]);
  }
  for (const gw of [t.gwA, t.gwB]) {
    gw.sysctl("net.ipv4.ip_forward", "1");
    gw.sysctl("net.ipv6.conf.all.forwarding", "1");
  }
  return t;
}

/** Static configurations of both gateways: an IPv4 SA pair over an IPv4 outer path and an IPv6 pair over
 *  IPv6, tunnel mode, UDP-encapsulated, fresh random keys. */
export function staticConfigs(dir: string, tunMtu = 1400): { a: StaticConfig; b: StaticConfig } {
  const sa = (spi: number, fromA: boolean, v6: boolean): [StaticSa, StaticSa] => {
    const key = randomBytes(16).toString("hex"), salt = randomBytes(4).toString("hex");
    const [src, dst] = fromA ? [v6 ? NET.wanA6 : NET.wanA4, v6 ? NET.wanB6 : NET.wanB4] : [v6 ? NET.wanB6 : NET.wanB4, v6 ? NET.wanA6 : NET.wanA4];
    const [srcNet, dstNet] = fromA ? [v6 ? NET.lanA6 : NET.lanA4, v6 ? NET.lanB6 : NET.lanB4] : [v6 ? NET.lanB6 : NET.lanB4, v6 ? NET.lanA6 : NET.lanA4];
    const common = { spi, mode: "tunnel", key, salt, udpEncap: true } as const;
    return [
      { ...common, direction: "out", local: { address: src, port: 4500 }, remote: { address: dst, port: 4500 } },
      { ...common, direction: "in", local: { address: dst, port: 4500 }, remote: { address: src, port: 4500 },
        localTs: [dstNet], remoteTs: [srcNet], replayWindow: 1024 },
    ];
  };
  const [a4out, b4in] = sa(0xa0004, true, false), [a6out, b6in] = sa(0xa0006, true, true);
  const [b4out, a4in] = sa(0xb0004, false, false), [b6out, a6in] = sa(0xb0006, false, true);
  const side = (name: string, sas: StaticSa[], out4: number, out6: number, lan4: string, lan6: string, far4: string, far6: string): StaticConfig => ({
    tun: { name: `wipsec${name}%d`, mtu: tunMtu, routes: [far4, far6] },
    udp: { port: 4500, receiveBuffer: 4 << 20, sendBuffer: 4 << 20 },
    sas,
    policies: [
      { id: 1, action: "protect", local: lan4, remote: far4, spi: out4 },
      { id: 2, action: "protect", local: lan6, remote: far6, spi: out6 },
    ],
    statsFile: join(dir, `${name}-stats.json`),
  });
  return {
    a: side("a", [a4out, a4in, a6out, a6in], 0xa0004, 0xa0006, NET.lanA4, NET.lanA6, NET.lanB4, NET.lanB6),
    b: side("b", [b4out, b4in, b6out, b6in], 0xb0004, 0xb0006, NET.lanB4, NET.lanB6, NET.lanA4, NET.lanA6),
  };
}

const STATIC_JS = fileURLToPath(new URL("../../src/gateway/static.js", import.meta.url));

/** A static gateway process (src/gateway/static.ts) in a namespace. */
export class GatewayProcess {
  private constructor(readonly proc: NsProcess, readonly conf: StaticConfig, readonly logFile: string) {}

  static async start(ns: Netns, conf: StaticConfig, dir: string, label: string): Promise<GatewayProcess> {
    const confFile = join(dir, `${label}.json`), logFile = join(dir, `${label}.log`);
    writeFileSync(confFile, JSON.stringify(conf));
    const proc = ns.spawn([process.execPath, STATIC_JS, confFile], { logFile });
    const gw = new GatewayProcess(proc, conf, logFile);
    await waitUntil(`gateway ${label} to run (log: ${logFile})`, 15_000, () => {
      if (!proc.isRunning()) throw new Error(`gateway ${label} exited: ${gw.log()}`);
      return existsSync(conf.statsFile) ? true : undefined;
    });
    return gw;
  }

  log(): string { return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : ""; }

  /** Current counters (SIGUSR2 makes the gateway write them). */
  async stats(): Promise<StaticStats> {
    rmSync(this.conf.statsFile, { force: true });
    process.kill(this.proc.pid, "SIGUSR2");
    await waitUntil("gateway counters", 10_000, () => (existsSync(this.conf.statsFile) ? true : undefined));
    return JSON.parse(readFileSync(this.conf.statsFile, "utf8")) as StaticStats;
  }

  /** SIGTERM: the gateway stops its workers, writes its final counters and exits. */
  async stop(): Promise<{ code: number | null; stats: StaticStats }> {
    rmSync(this.conf.statsFile, { force: true });
    const { code } = await this.proc.stop("SIGTERM", 10_000);
    const stats = existsSync(this.conf.statsFile) ? JSON.parse(readFileSync(this.conf.statsFile, "utf8")) as StaticStats : undefined;
    if (!stats) throw new Error(`gateway wrote no final counters (exit ${code}): ${this.log()}`);
    return { code, stats };
  }
}
