// This host's addresses (in the calling process's network namespace) as the kernel has them now.
import { networkInterfaces } from "node:os";

/** Every interface's addresses, loopback included, IPv6 link-local ones excepted (they would need a scope
 *  to bind to or to route from). */
export function hostAddresses(): { address: string; family: "IPv4" | "IPv6" }[] {
  return Object.values(networkInterfaces()).flatMap((l) => l ?? [])
    .filter((a) => !(a.family === "IPv6" && a.scopeid !== undefined && a.scopeid !== 0))
    .map((a) => ({ address: a.address, family: a.family }));
}
