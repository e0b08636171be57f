// Traffic Selector payloads TSi/TSr (RFC 7296 §3.13) with IPv4/IPv6 address ranges and RFC 9478 security labels.
import { PayloadType, TsType } from "../constants.js";
import { ensure, ensureNoProblem, Reader, Writer, type DecodeContext } from "../bytes.js";
import { WireError } from "../errors.js";

export type TsPayloadType = typeof PayloadType.TSi | typeof PayloadType.TSr;

export interface AddressRangeSelector {
  type: typeof TsType.TS_IPV4_ADDR_RANGE | typeof TsType.TS_IPV6_ADDR_RANGE;
  /** IP protocol number, 0 = any. */
  ipProtocol: number;
  /** Inclusive; 0..65535 is any port, start 65535 with end 0 is OPAQUE (RFC 7296 §3.13.1). */
  startPort: number;
  endPort: number;
  /** 4 bytes for IPv4, 16 for IPv6, network order. */
  startAddress: Buffer;
  endAddress: Buffer;
}

export interface SecLabelSelector {
  type: typeof TsType.TS_SECLABEL;
  label: Buffer;
}

export type TrafficSelector = AddressRangeSelector | SecLabelSelector;

export interface TsPayload<T extends TsPayloadType = TsPayloadType> {
  type: T;
  selectors: TrafficSelector[];
}

const SELECTOR_HEADER = 4;
const OPAQUE_START = 0xffff;
const OPAQUE_END = 0;

function addressLength(type: number): number | undefined {
  if (type === TsType.TS_IPV4_ADDR_RANGE) return 4;
  if (type === TsType.TS_IPV6_ADDR_RANGE) return 16;
  return undefined;
}

function portsProblem(start: number, end: number): string | undefined {
  const opaque = start === OPAQUE_START && end === OPAQUE_END;
  return start > end && !opaque ? `port range ${start}-${end}` : undefined;
}

function decodeSelector(r: Reader, ctx: DecodeContext): TrafficSelector {
  const type = r.u8("TS type");
  const second = r.u8("IP protocol ID");
  const length = r.u16("selector length");
  if (length < SELECTOR_HEADER) throw new WireError("BAD_LENGTH", `selector length ${length}`);
  const s = r.sub(length - SELECTOR_HEADER, "traffic selector");
  if (type === TsType.TS_SECLABEL) {
    s.reserved(ctx, second, "reserved");
    if (s.remaining === 0) throw new WireError("BAD_TRAFFIC_SELECTOR", "empty security label");
    return { type, label: s.rest("security label") };
  }
  const addrLength = addressLength(type);
  if (addrLength === undefined) throw new WireError("BAD_TRAFFIC_SELECTOR", `TS type ${type}`);
  if (length !== SELECTOR_HEADER + 4 + 2 * addrLength) {
    throw new WireError("BAD_LENGTH", `selector length ${length} for TS type ${type}`);
  }
  const startPort = s.u16("start port");
  const endPort = s.u16("end port");
  const problem = portsProblem(startPort, endPort);
  if (problem) throw new WireError("BAD_TRAFFIC_SELECTOR", problem);
  const startAddress = s.bytes(addrLength, "starting address");
  const endAddress = s.bytes(addrLength, "ending address");
  const rangeType = type as AddressRangeSelector["type"];
  return { type: rangeType, ipProtocol: second, startPort, endPort, startAddress, endAddress };
}

export function decodeTs<T extends TsPayloadType>(type: T, r: Reader, ctx: DecodeContext): TsPayload<T> {
  const count = r.u8("number of TSs");
  r.reserved(ctx, r.u8("reserved") | r.u16("reserved"), "reserved");
  const selectors: TrafficSelector[] = [];
  for (let i = 0; i < count; i++) {
    if (r.remaining === 0) throw new WireError("BAD_COUNT", `TS payload declares ${count} selectors, has ${i}`);
    selectors.push(decodeSelector(r, ctx));
  }
  if (r.remaining > 0) throw new WireError("BAD_COUNT", `TS payload has bytes beyond its ${count} selectors`);
  return { type, selectors };
}

function encodeSelector(s: TrafficSelector): Buffer {
  if (s.type === TsType.TS_SECLABEL) {
    ensure(s.label.length > 0, "empty security label");
    return new Writer()
      .u8(s.type, "TS type")
      .u8(0, "reserved")
      .u16(SELECTOR_HEADER + s.label.length, "selector length")
      .bytes(s.label)
      .toBuffer();
  }
  const addrLength = addressLength(s.type);
  ensure(addrLength !== undefined, `TS type ${s.type}`);
  const sizesOk = s.startAddress.length === addrLength && s.endAddress.length === addrLength;
  ensure(sizesOk, `address length for TS type ${s.type}`);
  ensureNoProblem(portsProblem(s.startPort, s.endPort));
  return new Writer()
    .u8(s.type, "TS type")
    .u8(s.ipProtocol, "IP protocol ID")
    .u16(SELECTOR_HEADER + 4 + 2 * addrLength, "selector length")
    .u16(s.startPort, "start port")
    .u16(s.endPort, "end port")
    .bytes(s.startAddress)
    .bytes(s.endAddress)
    .toBuffer();
}

export function encodeTs(p: TsPayload): Buffer {
  const w = new Writer().u8(p.selectors.length, "number of TSs").u8(0, "reserved").u16(0, "reserved");
  for (const s of p.selectors) w.bytes(encodeSelector(s));
  return w.toBuffer();
}
