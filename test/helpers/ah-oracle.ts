// An independent AH (RFC 4302) implementation with node:crypto, written from the RFCs for tests only:
// it builds AH packets, and the image of a packet that its ICV covers (mutable fields and the ICV
// zeroed by hand), without any of the product's code. HMAC-SHA2 ICVs per RFC 4868 (createHmac,
// truncated); AES-GMAC per RFC 4543 (createCipheriv aes-gcm: nonce = salt ‖ IV, the image as AAD,
// no plaintext; the Authentication Data is IV ‖ tag, §4 with erratum 3643).
import { createCipheriv, createHmac } from "node:crypto";

export type OracleIntegrity = "sha256" | "sha384" | "sha512" | "aes128gmac" | "aes256gmac";
/** key: the SA's integrityKey (GMAC: AES key ‖ 4-byte salt). */
export interface AhOracleSa { spi: number; integrity: OracleIntegrity; key: Uint8Array; esn?: boolean }

const PROTO_AH = 51;
const gmac = (i: OracleIntegrity) => i === "aes128gmac" || i === "aes256gmac";

export function icvLength(i: OracleIntegrity): number {
  return gmac(i) ? 16 : { sha256: 16, sha384: 24, sha512: 32 }[i as "sha256"];
}

/** AH with its Authentication Data, padded to 4 bytes (IPv4) or 8 bytes (IPv6), RFC 4302 §2.6. */
export function ahLength(i: OracleIntegrity, version: number): number {
  const raw = 12 + (gmac(i) ? 8 : 0) + icvLength(i);
  const align = version === 6 ? 8 : 4;
  return Math.ceil(raw / align) * align;
}

/** Offset of the ICV within AH (after GMAC's 8-byte IV). */
export function icvOffset(i: OracleIntegrity): number { return 12 + (gmac(i) ? 8 : 0); }

// RFC 4302 Appendix A.1: the IPv4 options included in the ICV. All others are zeroed whole.
const IMMUTABLE_V4_OPTIONS = new Set([0, 1, 130, 133, 134, 148, 149]);
const LSRR = 131, SSRR = 137;

function sum16(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Recompute an IPv4 header checksum in place. */
export function fixIpv4Checksum(p: Uint8Array): void {
  const hl = (p[0] & 15) * 4;
  p[10] = 0; p[11] = 0;
  const c = ~sum16(p, 0, hl) & 0xffff;
  p[10] = c >> 8; p[11] = c & 255;
}

export function ipv4ChecksumOk(p: Uint8Array): boolean { return sum16(p, 0, (p[0] & 15) * 4) === 0xffff; }

/** An IPv4 packet with `options` (a multiple of 4 bytes) inserted after its 20-byte header. */
export function withIpv4Options(pkt: Uint8Array, options: Uint8Array): Uint8Array {
  if (options.length % 4 !== 0 || options.length > 40) throw new Error("options must be 4-aligned, at most 40 bytes");
  const out = new Uint8Array(pkt.length + options.length);
  out.set(pkt.subarray(0, 20));
  out.set(options, 20);
  out.set(pkt.subarray(20), 20 + options.length);
  out[0] = 0x40 | ((20 + options.length) / 4);
  out[2] = out.length >> 8; out[3] = out.length & 255;
  fixIpv4Checksum(out);
  return out;
}

/** An IPv6 packet with extension headers (type and body; each body 6 + 8k bytes) after its base header. */
export function withIpv6ExtHeaders(pkt: Uint8Array, exts: { type: number; body: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [pkt.subarray(0, 40)];
  const first = pkt[6];
  exts.forEach((e, i) => {
    if ((e.body.length + 2) % 8 !== 0) throw new Error("extension header body must be 6 + 8k bytes");
    const h = new Uint8Array(e.body.length + 2);
    h[0] = i + 1 < exts.length ? exts[i + 1].type : first;
    h[1] = (h.length >> 3) - 1;
    h.set(e.body, 2);
    parts.push(h);
  });
  parts.push(pkt.subarray(40));
  const out = Uint8Array.from(Buffer.concat(parts));
  if (exts.length) out[6] = exts[0].type;
  const plen = out.length - 40;
  out[4] = plen >> 8; out[5] = plen & 255;
  return out;
}

/** Where AH starts in an AH packet, and the offset of the Next Header field that says 51. */
export function findAh(pkt: Uint8Array): { ah: number; nhAt: number } {
  if (pkt[0] >> 4 === 4) return { ah: (pkt[0] & 15) * 4, nhAt: 9 };
  let nh = pkt[6], at = 6, off = 40;
  while (nh !== PROTO_AH) {
    if (nh !== 0 && nh !== 43 && nh !== 60) throw new Error(`no AH (next header ${nh})`);
    at = off;
    nh = pkt[off];
    off += (pkt[off + 1] + 1) * 8;
  }
  return { ah: off, nhAt: at };
}

/**
 * The bytes an AH packet's ICV covers (RFC 4302 §3.3.3.1): a copy with, zeroed, IPv4 DSCP/ECN, flags,
 * fragment offset, TTL, checksum and every option not in Appendix A.1's immutable list (the whole
 * option); IPv6 traffic class, flow label, hop limit and the data of options whose type has the
 * "may change en route" bit (0x20) in hop-by-hop and destination options headers; and the ICV field.
 * outbound: a source route's final hop is the destination the receiver will see (§3.3.3.1.1.1).
 */
export function icvImage(pkt: Uint8Array, integrity: OracleIntegrity, outbound = false): Uint8Array {
  const img = Uint8Array.from(pkt);
  const { ah } = findAh(img);
  if (img[0] >> 4 === 4) {
    img[1] = 0;
    img[6] = 0; img[7] = 0;
    img[8] = 0;
    img[10] = 0; img[11] = 0;
    for (let o = 20; o < ah;) {
      const type = img[o];
      if (type === 0) break;
      if (type === 1) { o++; continue; }
      const n = img[o + 1];
      if (o + 2 > ah || n < 2 || o + n > ah) throw new Error("malformed IPv4 option");
      if (!IMMUTABLE_V4_OPTIONS.has(type)) {
        if (outbound && (type === LSRR || type === SSRR)) img.set(pkt.subarray(o + n - 4, o + n), 16);
        img.fill(0, o, o + n);
      }
      o += n;
    }
  } else {
    img[0] &= 0xf0; img[1] = 0; img[2] = 0; img[3] = 0;
    img[7] = 0;
    let nh = img[6], off = 40;
    while (off < ah) {
      const end = off + (img[off + 1] + 1) * 8;
      if (nh === 0 || nh === 60) {
        for (let o = off + 2; o < end;) {
          if (img[o] === 0) { o++; continue; }
          const n = img[o + 1];
          if (o + 2 > end || o + 2 + n > end) throw new Error("malformed IPv6 option");
          if (img[o] & 0x20) img.fill(0, o + 2, o + 2 + n);
          o += 2 + n;
        }
      }
      nh = img[off];
      off = end;
    }
  }
  const at = ah + icvOffset(integrity);
  img.fill(0, at, at + icvLength(integrity));
  return img;
}

/** The ICV over `image` (and, with ESN, the high half of the sequence number after it, RFC 4302 §2.5.1). */
export function computeIcv(sa: AhOracleSa, image: Uint8Array, seqHigh = 0n): Buffer {
  const hi = Buffer.alloc(sa.esn ? 4 : 0);
  if (sa.esn) hi.writeUInt32BE(Number(seqHigh));
  if (gmac(sa.integrity)) {
    const key = sa.key.subarray(0, sa.key.length - 4), salt = sa.key.subarray(sa.key.length - 4);
    const { ah } = findAh(image);
    const iv = image.subarray(ah + 12, ah + 20);
    const c = createCipheriv(`aes-${key.length * 8}-gcm` as "aes-128-gcm", key, Buffer.concat([salt, iv]));
    c.setAAD(Buffer.concat([image, hi]));
    c.final(); // empty plaintext: the tag is GMAC over the AAD
    return c.getAuthTag();
  }
  const h = createHmac(sa.integrity, sa.key).update(image).update(hi).digest();
  return h.subarray(0, icvLength(sa.integrity));
}

export interface AhFields {
  ah: number; nextHeader: number; payloadLength: number; reserved: number; spi: number; seq: number;
  iv: Buffer; icv: Buffer; padding: Buffer;
}

/** Check an AH packet's ICV the RFC's way; returns its AH fields, or throws on a mismatch. */
export function oracleVerify(sa: AhOracleSa, pkt: Uint8Array, seqHigh = 0n, outbound = false): AhFields {
  const b = Buffer.from(pkt);
  const { ah } = findAh(pkt);
  const at = ah + icvOffset(sa.integrity), n = icvLength(sa.integrity);
  const expected = computeIcv(sa, icvImage(pkt, sa.integrity, outbound), seqHigh);
  const icv = b.subarray(at, at + n);
  if (!expected.equals(icv)) throw new Error(`ICV mismatch: packet ${icv.toString("hex")}, expected ${expected.toString("hex")}`);
  return {
    ah, nextHeader: b[ah], payloadLength: b[ah + 1], reserved: b.readUInt16BE(ah + 2), spi: b.readUInt32BE(ah + 4),
    seq: b.readUInt32BE(ah + 8), iv: b.subarray(ah + 12, ah + 12 + (gmac(sa.integrity) ? 8 : 0)), icv,
    padding: b.subarray(at + n, ah + (b[ah + 1] + 2) * 4),
  };
}

export interface OuterSpec { version: 4 | 6; src: Uint8Array; dst: Uint8Array; tos?: number; ttl?: number; id?: number }

/**
 * Build an AH packet by hand. Transport mode inserts AH after the IP header (IPv6: after leading hop-by-hop,
 * routing and destination options headers); tunnel mode puts `outer` and AH in front of the packet. The
 * sequence number's low half goes on the wire; `iv` overrides GMAC's IV (default: the sequence number);
 * `nextHeader` overrides AH's (to test rejection).
 */
export function oracleAhSeal(sa: AhOracleSa, seq: bigint, packet: Uint8Array, mode: "tunnel" | "transport",
                             opts: { outer?: OuterSpec; iv?: Uint8Array; nextHeader?: number } = {}): Uint8Array {
  let header: Uint8Array, payload: Uint8Array, nh: number, nhAt: number;
  if (mode === "tunnel") {
    const o = opts.outer;
    if (!o) throw new Error("tunnel mode needs an outer header");
    payload = packet;
    nh = packet[0] >> 4 === 4 ? 4 : 41;
    if (o.version === 4) {
      header = new Uint8Array(20);
      header[0] = 0x45; header[1] = o.tos ?? 0; header[4] = (o.id ?? 0x2345) >> 8; header[5] = (o.id ?? 0x2345) & 255;
      header[8] = o.ttl ?? 64; header.set(o.src, 12); header.set(o.dst, 16);
      nhAt = 9;
    } else {
      header = new Uint8Array(40);
      header[0] = 0x60 | ((o.tos ?? 0) >> 4); header[1] = ((o.tos ?? 0) & 15) << 4;
      header[7] = o.ttl ?? 64; header.set(o.src, 8); header.set(o.dst, 24);
      nhAt = 6;
    }
  } else if (packet[0] >> 4 === 4) {
    const hl = (packet[0] & 15) * 4;
    header = Uint8Array.from(packet.subarray(0, hl));
    payload = packet.subarray(hl);
    nhAt = 9;
    nh = packet[9];
  } else {
    let off = 40;
    nhAt = 6;
    while ([0, 43, 60].includes(packet[nhAt])) {
      nhAt = off;
      off += (packet[off + 1] + 1) * 8;
    }
    header = Uint8Array.from(packet.subarray(0, off));
    payload = packet.subarray(off);
    nh = packet[nhAt];
  }
  const version = header[0] >> 4;
  const ahLen = ahLength(sa.integrity, version);
  const ah = new Uint8Array(ahLen);
  ah[0] = opts.nextHeader ?? nh;
  ah[1] = ahLen / 4 - 2;
  const dv = new DataView(ah.buffer);
  dv.setUint32(4, sa.spi >>> 0);
  dv.setUint32(8, Number(seq & 0xffffffffn));
  if (gmac(sa.integrity)) {
    if (opts.iv) ah.set(opts.iv, 12); else dv.setBigUint64(12, seq);
  }
  const out = Uint8Array.from(Buffer.concat([header, ah, payload]));
  out[nhAt] = PROTO_AH;
  if (version === 4) { out[2] = out.length >> 8; out[3] = out.length & 255; }
  else { const plen = out.length - 40; out[4] = plen >> 8; out[5] = plen & 255; }
  const icv = computeIcv(sa, icvImage(out, sa.integrity, true), seq >> 32n);
  out.set(icv, header.length + icvOffset(sa.integrity));
  if (version === 4) fixIpv4Checksum(out);
  return out;
}
