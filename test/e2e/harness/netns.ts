// Network namespaces for e2e tests. Nothing is created in the root namespace: veth pairs are made directly inside the
// test's namespaces, so parallel runs cannot collide and test traffic (documentation ranges 192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, fd00::/8) never leaves them.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { run, runAsync, type RunOptions, type RunResult } from "./exec.js";
import {
  deleteNamespace, forgetNamespace, forgetProcessGroup, installProcessHooks, OWNER_ENV, pidAlive, registerNamespace,
  registerProcessGroup, RUN_PREFIX,
} from "./registry.js";

export interface ExitStatus { code: number | null; signal: NodeJS.Signals | null }

/** A long-running process started in a namespace, in its own process group, registered for cleanup. */
export class NsProcess {
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;

  constructor(readonly pid: number, exited: Promise<ExitStatus>) {
    this.exited = exited.then((s) => {
      this.status = s;
      forgetProcessGroup(pid);
      return s;
    });
  }

  get exitStatus(): ExitStatus | undefined { return this.status; }

  isRunning(): boolean { return this.status === undefined && pidAlive(this.pid); }

  /** Sends `signal` to the process group, then SIGKILL if it has not exited within graceMs. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<ExitStatus> {
    if (this.status) return this.status;
    const send = (s: NodeJS.Signals) => { try { process.kill(-this.pid, s); } catch { /* already gone */ } };
    send(signal);
    const timer = setTimeout(() => send("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface SpawnOptions {
  /** stdout and stderr are appended to this file (a pipe could fill up and block a chatty daemon). */
  logFile: string;
  env?: Record<string, string>;
}

export class Netns {
  constructor(readonly name: string, readonly label: string) {}

  private wrap(cmd: string[]): string[] { return ["ip", "netns", "exec", this.name, ...cmd]; }

  exec(cmd: string[], opts?: RunOptions): RunResult { return run(this.wrap(cmd), opts); }

  execAsync(cmd: string[], opts?: RunOptions): Promise<RunResult> { return runAsync(this.wrap(cmd), opts); }

  /** `ip -n NAME args...` */
  ip(args: string[], opts?: RunOptions): RunResult { return run(["ip", "-n", this.name, ...args], opts); }

  /** Starts a long-running command in this namespace; the pid is that of `cmd` (ip netns exec execs in place). */
  spawn(cmd: string[], opts: SpawnOptions): NsProcess {
    installProcessHooks();
    const fd = openSync(opts.logFile, "a");
    try {
      const child = spawn("ip", ["netns", "exec", this.name, ...cmd], {
        detached: true, // own session and process group: cleanup kills the group
        stdio: ["ignore", fd, fd],
        env: { ...process.env, ...opts.env, [OWNER_ENV]: String(process.pid) },
      });
      if (child.pid === undefined) throw new Error(`cannot spawn ${cmd.join(" ")} in ${this.name}`);
      registerProcessGroup(child.pid);
      child.unref(); // a forgotten process must not keep the test process alive; the exit hook kills it
      const exited = new Promise<ExitStatus>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
      return new NsProcess(child.pid, exited);
    } finally {
      closeSync(fd);
    }
  }

  /** Adds an address (CIDR) to an interface; IPv6 without duplicate address detection so it is usable at once. */
  addAddress(iface: string, cidr: string): void {
    this.ip(["addr", "add", cidr, "dev", iface, ...(cidr.includes(":") ? ["nodad"] : [])]);
  }

  /** A host address on `lo` (/32 or /128): this kernel has no dummy links. */
  addLoopbackAddress(addr: string): void {
    this.addAddress("lo", addr.includes("/") ? addr : `${addr}/${addr.includes(":") ? 128 : 32}`);
  }

  addRoute(dest: string, via: string): void { this.ip(["route", "add", dest, "via", via]); }

  /** Writes /proc/sys directly (procps may be absent); /proc/sys/net is per namespace. */
  sysctl(key: string, value: string): void {
    this.exec(["sh", "-c", 'echo "$2" > "/proc/sys/$1"', "sh", key.replaceAll(".", "/"), value]);
  }

  /** Deletes the namespace now (cleanup() does it otherwise); processes still inside are killed. */
  destroy(): void {
    deleteNamespace(this.name);
    forgetNamespace(this.name);
  }
}

const used = new Set<string>();

/** A new namespace named `wipsec-<pid>-<label>` with `lo` up. */
export function createNetns(label: string): Netns {
  if (!/^[a-z0-9]+$/i.test(label)) throw new Error(`namespace label must be alphanumeric: ${label}`);
  let name = `${RUN_PREFIX}${label}`;
  for (let i = 2; used.has(name); i++) name = `${RUN_PREFIX}${label}${i}`;
  used.add(name);
  installProcessHooks();
  run(["ip", "netns", "add", name]);
  registerNamespace(name);
  const ns = new Netns(name, label);
  ns.ip(["link", "set", "lo", "up"]);
  return ns;
}

export interface VethEnd { ns: Netns; iface?: string; addrs?: string[] }

/** A veth pair between two namespaces, both ends up with their addresses. Interface names default to `v-<peer label>`. */
export function connect(a: VethEnd, b: VethEnd, mtu?: number): { aIface: string; bIface: string } {
  const aIface = a.iface ?? `v-${b.ns.label}`.slice(0, 15);
  const bIface = b.iface ?? `v-${a.ns.label}`.slice(0, 15);
  a.ns.ip(["link", "add", aIface, ...(mtu ? ["mtu", String(mtu)] : []), "type", "veth",
    "peer", "name", bIface, "netns", b.ns.name, ...(mtu ? ["mtu", String(mtu)] : [])]);
  const ends = [[a, aIface], [b, bIface]] as const;
  // Up first: an IPv6 address added to a down link misses its first neighbour solicitation (a 1 s stall).
  for (const [end, iface] of ends) end.ns.ip(["link", "set", iface, "up"]);
  for (const [end, iface] of ends) for (const addr of end.addrs ?? []) end.ns.addAddress(iface, addr);
  return { aIface, bIface };
}

/** Makes `router` forward IPv4/IPv6 and masquerade (nftables) what leaves through `outIface`: a NAT box for NAT-T tests. */
export function makeNatRouter(router: Netns, outIface: string): void {
  router.sysctl("net.ipv4.ip_forward", "1");
  router.sysctl("net.ipv6.conf.all.forwarding", "1");
  router.exec(["nft", "-f", "-"], {
    input: `table inet wipsec_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${outIface}" masquerade
  }
}
`,
  });
}
