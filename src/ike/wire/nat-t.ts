// UDP port 4500 framing (RFC 3948 §2.2, RFC 7296 §2.23): IKE datagrams there start with a 4-byte zero
// Non-ESP marker, which cannot be an ESP SPI; a single 0xFF byte is a NAT keepalive. Stripping it is the
// I/O layer's job before decodeMessage; these helpers keep the rule in one place.
import { WireError } from "./errors.js";

export const NON_ESP_MARKER = Buffer.alloc(4);

export type Port4500Datagram = "ike" | "esp" | "keepalive";

export function classifyPort4500(datagram: Uint8Array): Port4500Datagram {
  if (datagram.length === 1 && datagram[0] === 0xff) return "keepalive";
  if (datagram.length < NON_ESP_MARKER.length) return "esp";
  return datagram[0] === 0 && datagram[1] === 0 && datagram[2] === 0 && datagram[3] === 0 ? "ike" : "esp";
}

/** The IKE message after the marker (a view, no copy); NO_NON_ESP_MARKER if the datagram is not IKE. */
export function stripNonEspMarker(datagram: Uint8Array): Buffer {
  if (classifyPort4500(datagram) !== "ike") throw new WireError("NO_NON_ESP_MARKER", "port 4500 datagram is not IKE");
  return Buffer.from(datagram.buffer, datagram.byteOffset + 4, datagram.byteLength - 4);
}

export function addNonEspMarker(message: Uint8Array): Buffer {
  return Buffer.concat([NON_ESP_MARKER, message]);
}
