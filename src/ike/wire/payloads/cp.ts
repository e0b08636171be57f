// Configuration payload (RFC 7296 §3.15) and its attributes, with the sizes RFC 7296 §3.15.1 fixes.
import { CpAttributeType as A, PayloadType } from "../constants.js";
import { ensure, ensureNoProblem, Reader, Writer, type DecodeContext } from "../bytes.js";
import { WireError } from "../errors.js";

export interface CpAttribute {
  type: number;
  /** Empty in a CFG_REQUEST that asks for the attribute without suggesting a value. */
  value: Buffer;
}

export interface CpPayload {
  type: typeof PayloadType.CP;
  /** CfgType. */
  cfgType: number;
  attributes: CpAttribute[];
}

const RESERVED_BIT = 0x8000;

/** Allowed value sizes of the attributes whose size is fixed. */
const SIZES: ReadonlyMap<number, readonly number[]> = new Map([
  [A.INTERNAL_IP4_ADDRESS, [0, 4]],
  [A.INTERNAL_IP4_NETMASK, [0, 4]],
  [A.INTERNAL_IP4_DNS, [0, 4]],
  [A.INTERNAL_IP4_NBNS, [0, 4]],
  [A.INTERNAL_IP4_DHCP, [0, 4]],
  [A.P_CSCF_IP4_ADDRESS, [0, 4]],
  [A.INTERNAL_IP4_SUBNET, [0, 8]],
  [A.INTERNAL_IP6_ADDRESS, [0, 17]],
  [A.INTERNAL_IP6_SUBNET, [0, 17]],
  [A.INTERNAL_IP6_DNS, [0, 16]],
  [A.INTERNAL_IP6_DHCP, [0, 16]],
  [A.P_CSCF_IP6_ADDRESS, [0, 16]],
]);

function attributeProblem(a: CpAttribute): string | undefined {
  const sizes = SIZES.get(a.type);
  if (sizes && !sizes.includes(a.value.length)) return `CP attribute ${a.type} of ${a.value.length} bytes`;
  if (a.type === A.SUPPORTED_ATTRIBUTES && a.value.length % 2 !== 0) return "SUPPORTED_ATTRIBUTES of odd length";
  return undefined;
}

export function decodeCp(r: Reader, ctx: DecodeContext): CpPayload {
  const cfgType = r.u8("CFG type");
  r.reserved(ctx, r.u8("reserved") | r.u16("reserved"), "reserved");
  const attributes: CpAttribute[] = [];
  while (r.remaining > 0) {
    const raw = r.u16("attribute type");
    r.reserved(ctx, raw & RESERVED_BIT, "attribute reserved bit");
    const length = r.u16("attribute length");
    if (length > r.remaining) {
      throw new WireError("BAD_ATTRIBUTE", `CP attribute length ${length} exceeds payload (${r.remaining} left)`);
    }
    const attribute = { type: raw & ~RESERVED_BIT, value: r.bytes(length, "attribute value") };
    const problem = attributeProblem(attribute);
    if (problem) throw new WireError("BAD_ATTRIBUTE", problem);
    attributes.push(attribute);
  }
  return { type: PayloadType.CP, cfgType, attributes };
}

export function encodeCp(p: CpPayload): Buffer {
  const w = new Writer().u8(p.cfgType, "CFG type").u8(0, "reserved").u16(0, "reserved");
  for (const a of p.attributes) {
    ensure(a.type >= 0 && a.type < RESERVED_BIT, `CP attribute type ${a.type} does not fit 15 bits`);
    ensureNoProblem(attributeProblem(a));
    w.u16(a.type, "attribute type").u16(a.value.length, "attribute length").bytes(a.value);
  }
  return w.toBuffer();
}
