// The kernel's routing decision toward a peer (`ip -j route get`), for what strongSwan asks the kernel too:
// the source address to initiate from when local_addrs leaves it open (%any), and the path MTU (mtu.ts).
import { execFileSync } from "node:child_process";
import { isIPv6 } from "node:net";

/** Runs `ip` with these arguments and returns its stdout (routing.ts's exemptRouteGet() adds our mark). */
export type IpExec = (args: string[]) => string;

export const ip: IpExec = (args) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

/** The fields of `ip -j route get` we read. */
export interface RouteJson { dev?: string; prefsrc?: string; mtu?: number; metrics?: { mtu?: number }[] }

/** The kernel's route toward `peer`, or undefined (no route, or `ip` failed). */
export function routeTo(peer: string, exec: IpExec = ip): RouteJson | undefined {
  try {
    return (JSON.parse(exec(["-j", ...(isIPv6(peer) ? ["-6"] : []), "route", "get", peer])) as RouteJson[])[0];
  } catch {
    return undefined;
  }
}

/** The address the kernel would send from to reach `peer`, or undefined. */
export function sourceAddress(peer: string, exec: IpExec = ip): string | undefined {
  return routeTo(peer, exec)?.prefsrc;
}
