// An independent ESP (RFC 4303) + AES-GCM (RFC 4106) implementation with node:crypto, written from the
// RFCs for tests only: it builds and opens packets without any of the product's code.
import { createCipheriv, createDecipheriv } from "node:crypto";

export interface OracleSa { spi: number; key: Uint8Array; salt: Uint8Array; icv: number; esn?: boolean }

function aad(sa: OracleSa, seq: bigint): Buffer {
  const b = Buffer.alloc(sa.esn ? 12 : 8);
  b.writeUInt32BE(sa.spi >>> 0, 0);
  if (sa.esn) { b.writeUInt32BE(Number(seq >> 32n), 4); b.writeUInt32BE(Number(seq & 0xffffffffn), 8); }
  else b.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  return b;
}

const alg = (k: Uint8Array) => `aes-${k.length * 8}-gcm` as "aes-128-gcm";

/** Open an ESP packet (starting at the SPI): returns payload and next header, or throws. */
export function oracleOpen(sa: OracleSa, pkt: Uint8Array, seqHigh = 0n) {
  const b = Buffer.from(pkt);
  const spi = b.readUInt32BE(0), seqLow = BigInt(b.readUInt32BE(4));
  if (spi !== sa.spi >>> 0) throw new Error("SPI mismatch");
  const seq = (seqHigh << 32n) | seqLow;
  const iv = b.subarray(8, 16);
  const ct = b.subarray(16, b.length - sa.icv), tag = b.subarray(b.length - sa.icv);
  const d = createDecipheriv(alg(sa.key), sa.key, Buffer.concat([sa.salt, iv]), { authTagLength: sa.icv });
  d.setAAD(aad(sa, seq));
  d.setAuthTag(tag);
  const pt = Buffer.concat([d.update(ct), d.final()]);
  const padLen = pt[pt.length - 2], nextHeader = pt[pt.length - 1];
  const padding = pt.subarray(pt.length - 2 - padLen, pt.length - 2);
  return { seq, iv: Buffer.from(iv), payload: pt.subarray(0, pt.length - 2 - padLen), nextHeader, padding, padLen,
    ctLen: ct.length };
}

/** Build an ESP packet by hand. `padding` overrides the RFC's 1,2,3… bytes (to test rejection). */
export function oracleSeal(sa: OracleSa, seq: bigint, payload: Uint8Array, nextHeader: number,
                           opts: { padding?: Uint8Array; iv?: Uint8Array } = {}): Uint8Array {
  const padLen = opts.padding ? opts.padding.length : (4 - ((payload.length + 2) % 4)) % 4;
  const padding = opts.padding ?? Uint8Array.from({ length: padLen }, (_, i) => i + 1);
  const pt = Buffer.concat([payload, padding, Buffer.from([padLen, nextHeader])]);
  const iv = Buffer.alloc(8);
  if (opts.iv) iv.set(opts.iv); else iv.writeBigUInt64BE(seq);
  const c = createCipheriv(alg(sa.key), sa.key, Buffer.concat([sa.salt, iv]), { authTagLength: sa.icv });
  c.setAAD(aad(sa, seq));
  const ct = Buffer.concat([c.update(pt), c.final()]);
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(sa.spi >>> 0, 0);
  hdr.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  return Uint8Array.from(Buffer.concat([hdr, iv, ct, c.getAuthTag()]));
}
