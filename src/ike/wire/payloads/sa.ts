// Security Association payload (RFC 7296 §3.3): proposals → transforms → attributes.
import { PayloadType, ProtocolId, TransformAttributeType } from "../constants.js";
import { ensure, ensureNoProblem, Reader, Writer, type DecodeContext } from "../bytes.js";
import { WireError } from "../errors.js";

/** A transform attribute other than Key Length: a number is TV format (AF=1), a Buffer is TLV format. */
export interface TransformAttribute {
  type: number;
  value: number | Buffer;
}

export interface Transform {
  type: number;
  id: number;
  /** The Key Length attribute (bits), the only attribute RFC 7296 defines. */
  keyLength?: number;
  /** Attributes this codec does not interpret; RFC 7296 §3.3.6 makes the transform unacceptable, not the message. */
  attributes?: TransformAttribute[];
}

export interface Proposal {
  number: number;
  protocol: number;
  /** Empty or 8 bytes for IKE (8 when rekeying), 4 bytes for AH/ESP. */
  spi: Buffer;
  transforms: Transform[];
}

export interface SaPayload {
  type: typeof PayloadType.SA;
  proposals: Proposal[];
}

const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const ATTRIBUTE_TV = 0x8000;
const PROPOSAL_HEADER = 8;
const TRANSFORM_HEADER = 8;

function spiSizeProblem(protocol: number, size: number): string | undefined {
  switch (protocol) {
    case ProtocolId.IKE:
      return size === 0 || size === 8 ? undefined : `IKE proposal SPI size ${size} (must be 0 or 8)`;
    case ProtocolId.AH:
    case ProtocolId.ESP:
      return size === 4 ? undefined : `AH/ESP proposal SPI size ${size} (must be 4)`;
    default:
      return undefined;
  }
}

const isProposalProtocol = (p: number): boolean =>
  p === ProtocolId.IKE || p === ProtocolId.AH || p === ProtocolId.ESP;

/** Reads the "last substruc" marker and length shared by proposals and transforms; returns [more, body]. */
function substructure(r: Reader, ctx: DecodeContext, what: string, more: number, minLength: number): [boolean, Reader] {
  const marker = r.u8(`${what} last-substruc`);
  r.reserved(ctx, r.u8(`${what} reserved`), "reserved");
  const length = r.u16(`${what} length`);
  if (length < minLength) throw new WireError("BAD_LENGTH", `${what} length ${length} is below ${minLength}`);
  const body = r.sub(length - 4, what);
  if (marker !== LAST && marker !== more) {
    throw new WireError("BAD_SUBSTRUCTURE", `${what} last-substruc ${marker} (must be 0 or ${more})`);
  }
  return [marker === more, body];
}

function decodeTransform(r: Reader, ctx: DecodeContext): [boolean, Transform] {
  const [more, t] = substructure(r, ctx, "transform", MORE_TRANSFORMS, TRANSFORM_HEADER);
  const type = t.u8("transform type");
  t.reserved(ctx, t.u8("transform reserved"), "reserved");
  const transform: Transform = { type, id: t.u16("transform ID") };
  const attributes: TransformAttribute[] = [];
  while (t.remaining > 0) {
    const raw = t.u16("attribute type");
    const attrType = raw & ~ATTRIBUTE_TV;
    const tv = (raw & ATTRIBUTE_TV) !== 0;
    if (attrType === TransformAttributeType.KEY_LENGTH) {
      if (!tv) throw new WireError("BAD_ATTRIBUTE", "Key Length attribute in TLV format");
      if (transform.keyLength !== undefined) throw new WireError("BAD_ATTRIBUTE", "duplicate Key Length attribute");
      transform.keyLength = t.u16("key length");
    } else if (tv) {
      attributes.push({ type: attrType, value: t.u16("attribute value") });
    } else {
      const length = t.u16("attribute length");
      if (length > t.remaining) {
        throw new WireError("BAD_ATTRIBUTE", `attribute length ${length} exceeds transform (${t.remaining} left)`);
      }
      attributes.push({ type: attrType, value: t.bytes(length, "attribute value") });
    }
  }
  if (attributes.length > 0) transform.attributes = attributes;
  return [more, transform];
}

function decodeProposal(r: Reader, ctx: DecodeContext): [boolean, Proposal] {
  const [more, p] = substructure(r, ctx, "proposal", MORE_PROPOSALS, PROPOSAL_HEADER);
  const number = p.u8("proposal number");
  const protocol = p.u8("protocol ID");
  const spiSize = p.u8("SPI size");
  const count = p.u8("number of transforms");
  if (!isProposalProtocol(protocol)) throw new WireError("BAD_PROTOCOL", `proposal protocol ID ${protocol}`);
  const spiProblem = spiSizeProblem(protocol, spiSize);
  if (spiProblem) throw new WireError("BAD_SPI_SIZE", spiProblem);
  const spi = p.bytes(spiSize, "SPI");
  const transforms: Transform[] = [];
  const markers: boolean[] = [];
  for (let i = 0; i < count; i++) {
    if (p.remaining === 0) throw new WireError("BAD_COUNT", `proposal declares ${count} transforms, has ${i}`);
    const [moreTransforms, t] = decodeTransform(p, ctx);
    markers.push(moreTransforms);
    transforms.push(t);
  }
  if (p.remaining > 0) throw new WireError("BAD_COUNT", `proposal has bytes beyond its ${count} transforms`);
  // Checked after the count so that a wrong count is reported as such rather than as a marker mismatch.
  if (markers.some((m, i) => m !== i < count - 1)) {
    throw new WireError("BAD_SUBSTRUCTURE", "transform last-substruc markers disagree with the count");
  }
  return [more, { number, protocol, spi, transforms }];
}

export function decodeSa(r: Reader, ctx: DecodeContext): SaPayload {
  if (r.remaining === 0) throw new WireError("BAD_COUNT", "SA payload without proposals");
  const proposals: Proposal[] = [];
  for (;;) {
    const [more, proposal] = decodeProposal(r, ctx);
    const previous = proposals.at(-1);
    // The first proposal is 1 in a request and echoes the chosen one in a response; the rest count up by one.
    if (previous ? proposal.number !== previous.number + 1 : proposal.number === 0) {
      const after = previous ? ` after ${previous.number}` : "";
      throw new WireError("BAD_PROPOSAL_NUMBER", `proposal number ${proposal.number}${after}`);
    }
    proposals.push(proposal);
    if (more !== r.remaining > 0) {
      throw new WireError("BAD_SUBSTRUCTURE", `proposal ${proposal.number} last-substruc disagrees with what follows`);
    }
    if (!more) return { type: PayloadType.SA, proposals };
  }
}

function encodeTransform(t: Transform, last: boolean): Buffer {
  const attrs = new Writer();
  if (t.keyLength !== undefined) {
    attrs.u16(ATTRIBUTE_TV | TransformAttributeType.KEY_LENGTH, "attribute type").u16(t.keyLength, "key length");
  }
  for (const a of t.attributes ?? []) {
    ensure(a.type !== TransformAttributeType.KEY_LENGTH, "Key Length goes in Transform.keyLength");
    ensure(a.type >= 0 && a.type < ATTRIBUTE_TV, `attribute type ${a.type} does not fit 15 bits`);
    if (typeof a.value === "number") attrs.u16(ATTRIBUTE_TV | a.type, "attribute type").u16(a.value, "attribute value");
    else attrs.u16(a.type, "attribute type").u16(a.value.length, "attribute length").bytes(a.value);
  }
  return new Writer()
    .u8(last ? LAST : MORE_TRANSFORMS, "last-substruc")
    .u8(0, "reserved")
    .u16(TRANSFORM_HEADER + attrs.length, "transform length")
    .u8(t.type, "transform type")
    .u8(0, "reserved")
    .u16(t.id, "transform ID")
    .bytes(attrs.toBuffer())
    .toBuffer();
}

function encodeProposal(p: Proposal, last: boolean): Buffer {
  ensure(isProposalProtocol(p.protocol), `proposal protocol ID ${p.protocol}`);
  ensureNoProblem(spiSizeProblem(p.protocol, p.spi.length));
  const transforms = p.transforms.map((t, i) => encodeTransform(t, i === p.transforms.length - 1));
  const body = Buffer.concat(transforms);
  return new Writer()
    .u8(last ? LAST : MORE_PROPOSALS, "last-substruc")
    .u8(0, "reserved")
    .u16(PROPOSAL_HEADER + p.spi.length + body.length, "proposal length")
    .u8(p.number, "proposal number")
    .u8(p.protocol, "protocol ID")
    .u8(p.spi.length, "SPI size")
    .u8(p.transforms.length, "number of transforms")
    .bytes(p.spi)
    .bytes(body)
    .toBuffer();
}

export function encodeSa(sa: SaPayload): Buffer {
  ensure(sa.proposals.length > 0, "SA payload without proposals");
  sa.proposals.forEach((p, i) => {
    const previous = sa.proposals[i - 1];
    ensure(previous ? p.number === previous.number + 1 : p.number > 0, `proposal number ${p.number} at index ${i}`);
  });
  return Buffer.concat(sa.proposals.map((p, i) => encodeProposal(p, i === sa.proposals.length - 1)));
}
