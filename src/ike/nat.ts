// NAT detection (RFC 7296 §2.23): SHA-1 over SPIs, address and port. A mismatch on the peer's
// destination hash means we are behind a NAT; on its source hash, the peer is.
import { createHash, randomBytes } from "node:crypto";
import { parseAddress } from "../dataplane/selectors.js";

export interface Endpoint { address: string; port: number }

export function natHash(spiI: bigint, spiR: bigint, ep: Endpoint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(spiI, 0);
  b.writeBigUInt64BE(spiR, 8);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(ep.port);
  return createHash("sha1").update(b).update(parseAddress(ep.address).bytes).update(port).digest();
}

/** A NAT_DETECTION_SOURCE_IP that never matches: forces UDP encapsulation (strongSwan's `encap = yes`,
 *  which userspace ESP relies on; our data plane always sends ESP-in-UDP). */
export const fakeNatHash = (): Buffer => randomBytes(20);
