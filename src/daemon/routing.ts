// Policy routing into the TUN device, as strongSwan's kernel-netlink does it for kernel-libipsec
// (charon.routing_table 220 and a rule at priority charon.routing_table_prio 220) with the fwmark options
// kernel-libipsec's allow_peer_ts asks for: routes for the remote selectors go into a table of our own, one
// rule sends every packet through it, and our own packets are exempt. So a remote selector may cover the
// peer's address (0.0.0.0/0, transport mode) without IKE, ESP-in-UDP or AH to the peer entering the tunnel.
// Per address family, with P = routing_table_prio and T = routing_table, one rule:
//   P    not fwmark M lookup T     our IKE (port 500), ESP-in-UDP and raw AH sockets carry mark M and skip T
// It is all every forwarded packet pays for: a rule matching ports (an earlier version exempted IKE by
// "ipproto udp sport 500") makes the kernel dissect every packet's flow, and each rule is another step of
// every route lookup, twice with the reverse-path check that custom rules bring.
// T holds a route per remote prefix (dev TUN, with one of our addresses in the local selector as the source,
// as strongSwan's route src) and "throw" routes sending back to the host's rules what must not enter the
// tunnel though a wider remote prefix covers it: our own local selectors (a full tunnel's LAN: the peer's
// decapsulated traffic to it, and ours) and link-local/multicast/broadcast destinations.
//
// Not 220 by default: a charon on the same host owns that table and its rule and flushes them; ours are
// cleaned on start (leftovers of a crash) and removed on shutdown, and must not take charon's with them.
// Strict reverse-path filtering (rp_filter = 1) on the WAN interface drops the peer's packets when a remote
// selector covers the peer (the reverse route points into the TUN): use loose mode (2) there, as wg-quick does.
import { execFileSync } from "node:child_process";
import { hostAddresses } from "../io/host.js";
import { parseAddress } from "../dataplane/selectors.js";
import type { TrafficSelector } from "../dataplane/selectors.js";
import { rangeToPrefixes } from "./policies.js";
import { ip, type IpExec } from "./route.js";

export interface RoutingSettings {
  /** Our routing table (1..2^32-1 except the kernel's 253-255). */
  table: number;
  /** Priority of the rule looking up `table`. */
  priority: number;
  /** SO_MARK of the ESP-in-UDP and raw AH sockets: packets carrying it bypass `table`. */
  fwmark: number;
}

/** Table and rule 221 (next to charon's 220), and the table's number as the mark, as wg-quick does. */
export const DEFAULT_ROUTING: RoutingSettings = { table: 221, priority: 221, fwmark: 221 };

/** A route in our table: into the TUN device (with a preferred source), or a throw back to the host's rules. */
export type Route = { prefix: string; throw: true } | { prefix: string; throw: false; src?: string };

/** What never crosses a router, so never a tunnel, though a wide remote prefix (0.0.0.0/0, ::/0) covers it. */
const NEVER_ROUTED = ["224.0.0.0/4", "255.255.255.255/32", "fe80::/10", "ff00::/8"];

interface Range { version: 4 | 6; lo: bigint; hi: bigint }

const big = (b: Uint8Array) => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);

function prefixRange(prefix: string): Range {
  const [addr, len] = prefix.split("/");
  const a = parseAddress(addr);
  const host = BigInt(a.bytes.length * 8 - Number(len));
  const lo = (big(a.bytes) >> host) << host;
  return { version: a.version, lo, hi: lo + (1n << host) - 1n };
}

function selectorRange(ts: TrafficSelector): Range {
  const a = parseAddress(ts.start);
  return { version: a.version, lo: big(a.bytes), hi: big(parseAddress(ts.end).bytes) };
}

const inside = (inner: Range, outer: Range) => inner.version === outer.version && inner.lo >= outer.lo && inner.hi <= outer.hi;

/**
 * The routes our table should hold for a set of policies (PROTECT and TRAP: local = source selector, remote =
 * destination). `ours` are our addresses, candidates for a route's source: the one in the narrowest local
 * selector of the policies behind the route (none if no local selector holds one of ours).
 */
export function plannedRoutes(policies: readonly { local: TrafficSelector; remote: TrafficSelector }[],
                              ours: readonly string[]): Route[] {
  const hosts = ours.map((a) => ({ a, r: prefixRange(`${a}/${a.includes(":") ? 128 : 32}`) }));
  const routes = new Map<string, { range: Range; src?: string; width?: bigint }>();
  const locals = new Set<string>();
  for (const p of policies) {
    const local = selectorRange(p.local);
    for (const l of rangeToPrefixes(p.local)) locals.add(l);
    const src = hosts.find((h) => inside(h.r, local))?.a;
    const width = local.hi - local.lo;
    for (const prefix of rangeToPrefixes(p.remote)) {
      const r = routes.get(prefix) ?? { range: prefixRange(prefix) };
      if (src && (r.width === undefined || width < r.width)) Object.assign(r, { src, width });
      routes.set(prefix, r);
    }
  }
  const out: Route[] = [...routes].map(([prefix, r]) => ({ prefix, throw: false, ...(r.src ? { src: r.src } : {}) }));
  const ranges = [...routes.values()].map((r) => r.range);
  for (const prefix of new Set([...locals, ...NEVER_ROUTED])) {
    if (routes.has(prefix)) continue;
    const t = prefixRange(prefix);
    if (ranges.some((r) => inside(t, r) && r.hi - r.lo > t.hi - t.lo)) out.push({ prefix, throw: true });
  }
  return out;
}

/** The rules of one family, as `ip rule add|del` arguments. */
export function ruleSpecs(s: RoutingSettings): string[][] {
  return [["priority", String(s.priority), "not", "fwmark", String(s.fwmark), "lookup", String(s.table)]];
}

/** The exemption rules of earlier versions, removed when cleaning (exactly these: never another's rule at
 *  the same priority, such as charon's 220). */
function legacyRuleSpecs(s: RoutingSettings): string[][] {
  const p = s.priority;
  return [["priority", String(p - 1), "ipproto", "udp", "sport", "500", "goto", String(p + 1)], ["priority", String(p + 1), "nop"]];
}

/** `ip route replace|del` arguments for a route of our table through `dev`. */
export function routeArgs(op: "replace" | "del", r: Route, dev: string, table: number): string[] {
  const family = r.prefix.includes(":") ? ["-6"] : ["-4"];
  if (r.throw) return [...family, "route", op, "throw", r.prefix, "table", String(table)];
  return [...family, "route", op, r.prefix, "dev", dev, ...(op === "replace" && r.src ? ["src", r.src] : []), "table", String(table)];
}

/** Our addresses, route source candidates: every interface's (the inner ones often sit on lo), but not
 *  loopback's own nor IPv6 link-local ones (a route source needs no scope). */
export function sourceCandidates(): string[] {
  return hostAddresses().map((a) => a.address).filter((a) => !a.startsWith("127.") && a !== "::1");
}

/** `ip` with `route get` as our own sockets' packets see it (marked: past our table), for the helpers that take
 *  an exec (route.ts sourceAddress, mtu.ts pathMtu): the peer's address is not reached through the TUN. */
export function exemptRouteGet(fwmark: number): IpExec {
  return (args) => ip(args.includes("route") && args.includes("get") ? [...args, "mark", String(fwmark)] : args);
}

const key = (r: Route) => `${r.prefix} ${r.throw ? "throw" : `src ${r.src ?? ""}`}`;

type Ip = (args: string[], input?: string) => void;

function ipExec(args: string[], input?: string): void {
  execFileSync("ip", args, { stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"], input });
}

/** The rules and our table, kept in line with the policies. */
export class PolicyRouting {
  private routes = new Map<string, Route>();

  private constructor(private readonly s: RoutingSettings, private readonly dev: string,
                      private readonly log: (msg: string) => void, private readonly ip: Ip) {}

  /** Clean what a crashed run left, then add the rules: failing if the kernel refuses the IPv4 ones, logging it
   *  for IPv6 (a kernel without IPv6, booted with ipv6.disable=1, has no IPv6 rules, nor IPv6 to route). */
  static open(s: RoutingSettings, dev: string, log: (msg: string) => void, ip: Ip = ipExec): PolicyRouting {
    const me = new PolicyRouting(s, dev, log, ip);
    me.clean(["-4", "-6"]);
    for (const family of ["-4", "-6"] as const) {
      for (const spec of ruleSpecs(s)) {
        try {
          ip([family, "rule", "add", ...spec]);
        } catch (e) {
          const why = `ip ${family} rule add ${spec.join(" ")}: ${stderrOf(e)}`;
          me.clean(family === "-4" ? ["-4", "-6"] : ["-6"]);
          if (family === "-4") throw new Error(why);
          log(`${why}: no IPv6 routes into ${dev}`);
          break;
        }
      }
    }
    return me;
  }

  /** Make the table hold exactly `want`. */
  sync(want: readonly Route[]): void {
    const next = new Map(want.map((r) => [key(r), r]));
    for (const [k, r] of this.routes) if (!next.has(k)) this.apply("del", r);
    for (const [k, r] of next) if (!this.routes.has(k)) this.apply("replace", r);
    this.routes = next;
  }

  /** Put back the routes `pick` selects (the kernel drops a device's IPv6 routes when its MTU falls below 1280). */
  reinstall(pick: (r: Route) => boolean): void {
    for (const r of this.routes.values()) if (pick(r)) this.apply("replace", r);
  }

  /** Remove the rules and empty the table. */
  close(): void {
    this.routes.clear();
    this.clean(["-4", "-6"]);
  }

  private apply(op: "replace" | "del", r: Route): void {
    const args = routeArgs(op, r, this.dev, this.s.table);
    try {
      this.ip(args);
    } catch (e) {
      this.log(`ip ${args.join(" ")} failed: ${stderrOf(e)}`);
    }
  }

  // Our rules (what a crashed run left: each start cleans first), then the table. One `ip`
  // run per family with -force: a rule or table that is not there is no error.
  private clean(families: readonly ("-4" | "-6")[]): void {
    for (const family of families) {
      const cmds = [...[...ruleSpecs(this.s), ...legacyRuleSpecs(this.s)].map((spec) => `rule del ${spec.join(" ")}`),
        `route flush table ${this.s.table}`];
      try { this.ip([family, "-force", "-batch", "-"], cmds.join("\n") + "\n"); } catch { /* nothing to delete */ }
    }
  }
}

function stderrOf(e: unknown): string {
  return ((e as { stderr?: Buffer }).stderr ?? "").toString().trim() || (e as Error).message;
}
