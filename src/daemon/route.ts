// The kernel's routing decision toward a peer (`ip -j route get`), for what strongSwan asks the kernel too:
// the source address to initiate from when local_addrs leaves it open (%any).
import { execFileSync } from "node:child_process";
import { isIPv6 } from "node:net";

/** The address the kernel would send from to reach `peer`, or undefined (no route, or `ip` failed). */
export function sourceAddress(peer: string, exec: (args: string[]) => string = ip): string | undefined {
  try {
    const [route] = JSON.parse(exec(["-j", ...(isIPv6(peer) ? ["-6"] : []), "route", "get", peer])) as { prefsrc?: string }[];
    return route?.prefsrc;
  } catch {
    return undefined;
  }
}

function ip(args: string[]): string {
  return execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
}
