// Traffic selectors (RFC 7296 §3.13.1 ranges) and the address parsing they need.
import { isIPv4, isIPv6 } from "node:net";

export interface TrafficSelector {
  start: string;          // first address of the range
  end: string;            // last address of the range (same family)
  protocol?: number;      // IP protocol, 0 or absent = any
  portStart?: number;     // default 0
  portEnd?: number;       // default 65535
}

export interface ParsedAddress { version: 4 | 6; bytes: Uint8Array }

export function parseAddress(s: string): ParsedAddress {
  if (isIPv4(s)) return { version: 4, bytes: Uint8Array.from(s.split(".").map(Number)) };
  if (isIPv6(s)) return { version: 6, bytes: ipv6Bytes(s) };
  throw new Error(`not an IP address: ${JSON.stringify(s)}`);
}

function ipv6Bytes(s: string): Uint8Array {
  // Rewrite an embedded IPv4 tail (::ffff:1.2.3.4) as two hex groups, then expand "::".
  const text = s.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    ((+a << 8) | +b).toString(16) + ":" + ((+c << 8) | +d).toString(16));
  const [head, tail] = text.includes("::") ? text.split("::") : [text, ""];
  const groups = (t: string) => (t === "" ? [] : t.split(":").map((x) => parseInt(x, 16)));
  const h = groups(head), t = groups(tail);
  const words = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 255; });
  return out;
}

/** A selector for a CIDR prefix such as "10.1.0.0/16" or "fd00::/64" (a single address without /n). */
export function cidr(prefix: string, protocol = 0, portStart = 0, portEnd = 0xffff): TrafficSelector {
  const [addr, lenText] = prefix.split("/");
  const a = parseAddress(addr);
  const bits = a.bytes.length * 8;
  const len = lenText === undefined ? bits : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > bits) throw new Error(`bad prefix length in ${prefix}`);
  const lo = Uint8Array.from(a.bytes), hi = Uint8Array.from(a.bytes);
  for (let i = 0; i < lo.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    lo[i] &= mask;
    hi[i] = (hi[i] & mask) | (~mask & 0xff);
  }
  return { start: formatAddress(lo), end: formatAddress(hi), protocol, portStart, portEnd };
}

export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16));
  return w.join(":");
}
