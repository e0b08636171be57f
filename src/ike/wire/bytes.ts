// Bounds-checked big-endian reader and range-checked writer. Every decoder goes through Reader, so an
// out-of-range read is a WireError("TRUNCATED") naming the field, never a RangeError from Buffer.
import { WireError } from "./errors.js";

/** Per-decode settings threaded through the payload decoders. */
export interface DecodeContext {
  /** Reject non-zero reserved fields instead of ignoring them (RFC 7296 §2.5 says ignore; default false). */
  readonly strictReserved: boolean;
}

export class Reader {
  private pos: number;

  /** Reads `buf[start, end)`; `what` names the structure in error messages. */
  constructor(
    private readonly buf: Buffer,
    readonly what: string,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): number {
    if (n > this.end - this.pos) {
      throw new WireError("TRUNCATED", `${this.what}: ${field} needs ${n} bytes, ${this.end - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field: string): number {
    return this.buf[this.need(1, field)]!;
  }

  u16(field: string): number {
    return this.buf.readUInt16BE(this.need(2, field));
  }

  u32(field: string): number {
    return this.buf.readUInt32BE(this.need(4, field));
  }

  u64(field: string): bigint {
    return this.buf.readBigUInt64BE(this.need(8, field));
  }

  /** A copy, so decoded objects never alias a receive buffer the I/O layer may reuse. */
  bytes(n: number, field: string): Buffer {
    const at = this.need(n, field);
    return Buffer.from(this.buf.subarray(at, at + n));
  }

  rest(field: string): Buffer {
    return this.bytes(this.remaining, field);
  }

  /** A reader over the next `n` bytes; this reader moves past them. */
  sub(n: number, what: string): Reader {
    const at = this.need(n, what);
    return new Reader(this.buf, what, at, at + n);
  }

  /** Reserved field: ignored unless strict (then it must be zero). */
  reserved(ctx: DecodeContext, value: number, field: string): void {
    if (ctx.strictReserved && value !== 0) {
      throw new WireError("RESERVED_NOT_ZERO", `${this.what}: ${field} is 0x${value.toString(16)}`);
    }
  }

  /** The structure is complete: nothing may follow. */
  done(): void {
    if (this.pos !== this.end) throw new WireError("TRAILING_DATA", `${this.what}: ${this.remaining} bytes left over`);
  }
}

export class Writer {
  private readonly parts: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  private uint(value: number, bytes: 1 | 2 | 4, field: string): this {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * bytes)) {
      throw new WireError("BAD_VALUE", `${field} = ${value} does not fit ${bytes} byte(s)`);
    }
    const b = Buffer.allocUnsafe(bytes);
    b.writeUIntBE(value, 0, bytes);
    return this.bytes(b);
  }

  u8(value: number, field: string): this {
    return this.uint(value, 1, field);
  }

  u16(value: number, field: string): this {
    return this.uint(value, 2, field);
  }

  u32(value: number, field: string): this {
    return this.uint(value, 4, field);
  }

  u64(value: bigint, field: string): this {
    if (value < 0n || value >= 1n << 64n) throw new WireError("BAD_VALUE", `${field} = ${value} does not fit 8 bytes`);
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(value);
    return this.bytes(b);
  }

  bytes(b: Uint8Array): this {
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    this.size += b.byteLength;
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** Throws BAD_VALUE when an encoder input violates a rule the decoder enforces. */
export function ensure(ok: boolean, message: string): asserts ok {
  if (!ok) throw new WireError("BAD_VALUE", message);
}

/** Encoder side of the shared "…Problem()" validators: a described problem is a BAD_VALUE. */
export function ensureNoProblem(problem: string | undefined): void {
  if (problem !== undefined) throw new WireError("BAD_VALUE", problem);
}
