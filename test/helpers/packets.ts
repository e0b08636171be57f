// Test packet builders (IPv4/IPv6 with UDP, TCP or ICMP payloads). Independent of the product code.
import { randomBytes } from "node:crypto";

function sum16(b: Uint8Array, start = 0, end = b.length, init = 0): number {
  let s = init;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function v4(addr: string): Uint8Array { return Uint8Array.from(addr.split(".").map(Number)); }

export function v6(addr: string): Uint8Array {
  const [h, t] = addr.includes("::") ? addr.split("::") : [addr, ""];
  const g = (s: string) => (s ? s.split(":").map((x) => parseInt(x, 16)) : []);
  const hw = g(h), tw = g(t);
  const w = [...hw, ...Array(8 - hw.length - tw.length).fill(0), ...tw];
  const out = new Uint8Array(16);
  w.forEach((x, i) => { out[2 * i] = x >> 8; out[2 * i + 1] = x & 255; });
  return out;
}

export interface PacketSpec {
  src?: string; dst?: string; proto?: number; sport?: number; dport?: number;
  payload?: Uint8Array; payloadLen?: number; ttl?: number;
}

/** An IPv4 packet with a UDP (17), TCP (6) or raw payload. */
export function ipv4Packet(s: PacketSpec = {}): Uint8Array {
  const proto = s.proto ?? 17;
  const payload = s.payload ?? randomBytes(s.payloadLen ?? 32);
  const l4 = l4Header(proto, s.sport ?? 1234, s.dport ?? 5678, payload);
  const p = new Uint8Array(20 + l4.length);
  p[0] = 0x45; p[2] = p.length >> 8; p[3] = p.length & 255;
  p[4] = 0x12; p[5] = 0x34; p[6] = 0x40; p[8] = s.ttl ?? 64; p[9] = proto;
  p.set(v4(s.src ?? "10.1.0.1"), 12); p.set(v4(s.dst ?? "10.2.0.1"), 16);
  const c = ~sum16(p, 0, 20) & 0xffff;
  p[10] = c >> 8; p[11] = c & 255;
  p.set(l4, 20);
  return p;
}

/** An IPv6 packet with a UDP/TCP/raw payload. */
export function ipv6Packet(s: PacketSpec = {}): Uint8Array {
  const proto = s.proto ?? 17;
  const payload = s.payload ?? randomBytes(s.payloadLen ?? 32);
  const l4 = l4Header(proto, s.sport ?? 1234, s.dport ?? 5678, payload);
  const p = new Uint8Array(40 + l4.length);
  p[0] = 0x60; p[4] = l4.length >> 8; p[5] = l4.length & 255; p[6] = proto; p[7] = s.ttl ?? 64;
  p.set(v6(s.src ?? "fd01::1"), 8); p.set(v6(s.dst ?? "fd02::1"), 24);
  p.set(l4, 40);
  return p;
}

function l4Header(proto: number, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  if (proto === 17) {
    const u = new Uint8Array(8 + payload.length);
    u[0] = sport >> 8; u[1] = sport & 255; u[2] = dport >> 8; u[3] = dport & 255;
    u[4] = u.length >> 8; u[5] = u.length & 255;
    u.set(payload, 8);
    return u; // checksum 0 (allowed for IPv4; tests do not hand these to a kernel)
  }
  if (proto === 6) {
    const t = new Uint8Array(20 + payload.length);
    t[0] = sport >> 8; t[1] = sport & 255; t[2] = dport >> 8; t[3] = dport & 255;
    t[12] = 0x50;
    t.set(payload, 20);
    return t;
  }
  return Uint8Array.from(payload);
}

export function hex(b: Uint8Array): string { return Buffer.from(b).toString("hex"); }
export function unhex(s: string): Uint8Array { return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex")); }
