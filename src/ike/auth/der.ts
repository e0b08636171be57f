// A minimal DER reader (X.690 §8/§10) for what node:crypto does not expose: certificate names,
// extensions, validity, and RFC 7427 AlgorithmIdentifiers. Strict: definite, minimally encoded
// lengths; single-byte tags; every element within its parent's bounds. Peer data arrives here, so
// each failure is an AuthError("MALFORMED") naming what was being read.
import { AuthError } from "./errors.js";

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag [n], constructed (EXPLICIT or structured) or primitive. */
export const ctx = (n: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | n;

export interface DerNode {
  /** The whole identifier octet (class, constructed bit and number). */
  tag: number;
  /** The complete TLV. */
  raw: Buffer;
  /** The value octets. */
  content: Buffer;
}

const fail = (what: string, why: string): never => { throw new AuthError("MALFORMED", `${what}: ${why}`); };

/** The TLV at `offset`; `what` names the field for errors. */
export function readTlv(buf: Buffer, offset: number, what: string): DerNode {
  if (offset + 2 > buf.length) fail(what, "truncated DER header");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) fail(what, "multi-byte DER tags are not used here");
  let len = buf[offset + 1];
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) fail(what, "indefinite length is not DER");
    if (n > 4) fail(what, "DER length too large");
    if (pos + n > buf.length) fail(what, "truncated DER length");
    if (buf[pos] === 0) fail(what, "non-minimal DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i];
    if (len < 0x80) fail(what, "non-minimal DER length");
    pos += n;
  }
  if (pos + len > buf.length) fail(what, `DER value of ${len} bytes overruns its container`);
  return { tag, raw: buf.subarray(offset, pos + len), content: buf.subarray(pos, pos + len) };
}

/** Exactly one TLV filling `buf`, with tag `tag` if given. */
export function readSingle(buf: Buffer, what: string, tag?: number): DerNode {
  const n = readTlv(buf, 0, what);
  if (n.raw.length !== buf.length) fail(what, `${buf.length - n.raw.length} trailing bytes after DER value`);
  if (tag !== undefined) expectTag(n, tag, what);
  return n;
}

export function expectTag(n: DerNode, tag: number, what: string): DerNode {
  if (n.tag !== tag) fail(what, `expected DER tag 0x${tag.toString(16)}, found 0x${n.tag.toString(16)}`);
  return n;
}

/** The elements of a constructed value (SEQUENCE, SET, [n] EXPLICIT); they must fill it exactly. */
export function children(n: DerNode, what: string): DerNode[] {
  if (!(n.tag & 0x20)) fail(what, "expected a constructed DER value");
  const out: DerNode[] = [];
  for (let off = 0; off < n.content.length;) {
    const c = readTlv(n.content, off, what);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

/** Sequential reading of a constructed value's elements, with optional (tagged) fields. */
export class DerSeq {
  private i = 0;
  private readonly items: DerNode[];
  constructor(n: DerNode, private readonly what: string) { this.items = children(n, what); }

  next(tag: number, field: string): DerNode {
    const n = this.items[this.i++];
    if (!n) fail(this.what, `missing ${field}`);
    return expectTag(n, tag, `${this.what} ${field}`);
  }

  optional(tag: number): DerNode | undefined {
    const n = this.items[this.i];
    if (n?.tag !== tag) return undefined;
    this.i++;
    return n;
  }

  /** The next element if there is one (an optional ANY-typed field). */
  optionalAny(): DerNode | undefined {
    return this.i < this.items.length ? this.items[this.i++] : undefined;
  }

  /** Any element (an ANY-typed field). */
  any(field: string): DerNode {
    const n = this.items[this.i++];
    if (!n) fail(this.what, `missing ${field}`);
    return n;
  }

  end(): void {
    if (this.i !== this.items.length) fail(this.what, `${this.items.length - this.i} unexpected trailing elements`);
  }
}

export function readOid(n: DerNode, what: string): string {
  expectTag(n, Tag.OID, what);
  const b = n.content;
  if (b.length === 0) fail(what, "empty OBJECT IDENTIFIER");
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    if (v === 0 && b[i] === 0x80) fail(what, "non-minimal OBJECT IDENTIFIER arc");
    v = v * 128 + (b[i] & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) fail(what, "OBJECT IDENTIFIER arc too large");
    if (!(b[i] & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 40 ? 0 : v < 80 ? 1 : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    } else if (i === b.length - 1) {
      fail(what, "truncated OBJECT IDENTIFIER");
    }
  }
  return arcs.join(".");
}

/** A non-negative INTEGER small enough for a number (path lengths, salt lengths, versions). */
export function readSmallUint(n: DerNode, what: string): number {
  expectTag(n, Tag.INTEGER, what);
  const b = n.content;
  if (b.length === 0) fail(what, "empty INTEGER");
  if (b.length > 1 && ((b[0] === 0 && !(b[1] & 0x80)) || (b[0] === 0xff && b[1] & 0x80))) fail(what, "non-minimal INTEGER");
  if (b[0] & 0x80) fail(what, "negative INTEGER");
  if (b.length > 6) fail(what, "INTEGER too large");
  return b.readUIntBE(0, b.length);
}

export function readBoolean(n: DerNode, what: string): boolean {
  expectTag(n, Tag.BOOLEAN, what);
  if (n.content.length !== 1) fail(what, "BOOLEAN of wrong length");
  return n.content[0] !== 0;
}

/** BIT STRING value bits (first octet = number of unused bits, which must be zero-padded). */
export function readBitString(n: DerNode, what: string): { unused: number; bytes: Buffer } {
  expectTag(n, Tag.BIT_STRING, what);
  const b = n.content;
  if (b.length === 0 || b[0] > 7 || (b.length === 1 && b[0] !== 0)) fail(what, "malformed BIT STRING");
  const unused = b[0], bytes = b.subarray(1);
  if (unused && bytes[bytes.length - 1] & ((1 << unused) - 1)) fail(what, "BIT STRING with non-zero padding bits");
  return { unused, bytes };
}

/** UTCTime (RFC 5280 §4.1.2.5.1: YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ). */
export function readTime(n: DerNode, what: string): Date {
  const s = n.content.toString("latin1");
  const m = n.tag === Tag.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
    : n.tag === Tag.GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : fail(what, "expected UTCTime or GeneralizedTime");
  if (!m) return fail(what, `malformed time '${s}'`);
  let year = Number(m[1]);
  if (n.tag === Tag.UTC_TIME) year += year >= 50 ? 1900 : 2000;
  const [mo, d, h, mi, se] = m.slice(2).map(Number);
  const t = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  if (t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) fail(what, `invalid time '${s}'`);
  return t;
}

// ------------------------------------------------------------------ writing (names from configuration)

export function tlv(tag: number, content: Uint8Array): Buffer {
  const len = content.length;
  const header = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : len < 0x10000 ? [tag, 0x82, len >> 8, len & 0xff]
    : fail("DER encoding", "value too long");
  return Buffer.concat([Buffer.from(header), content]);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0) || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40)) {
    fail("DER encoding", `invalid OBJECT IDENTIFIER '${dotted}'`);
  }
  const out: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const bytes = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v % 128) | 0x80);
    out.push(...bytes);
  }
  return tlv(Tag.OID, Buffer.from(out));
}
