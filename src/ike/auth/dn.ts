// X.501 distinguished names as strongSwan handles them (src/libstrongswan/utils/identification.c):
// text "C=CH, O=strongSwan, CN=moon" <-> DER Name, and comparison RDN by RDN where PrintableStrings and
// emailAddress IA5Strings compare case-insensitively and everything else byte for byte (rdn_equals()).
import { AuthError } from "./errors.js";
import { DerSeq, Tag, children, expectTag, oid, readOid, readSingle, tlv, type DerNode } from "./der.js";

/** Attribute names strongSwan's atodn() accepts (a subset of its x501rdns[] table) and their string type. */
const ATTRIBUTES: ReadonlyArray<{ names: string[]; oid: string; type: number }> = [
  { names: ["C"], oid: "2.5.4.6", type: Tag.PRINTABLE_STRING },
  { names: ["ST"], oid: "2.5.4.8", type: Tag.PRINTABLE_STRING },
  { names: ["L"], oid: "2.5.4.7", type: Tag.PRINTABLE_STRING },
  { names: ["STREET"], oid: "2.5.4.9", type: Tag.PRINTABLE_STRING },
  { names: ["O"], oid: "2.5.4.10", type: Tag.PRINTABLE_STRING },
  { names: ["OU"], oid: "2.5.4.11", type: Tag.PRINTABLE_STRING },
  { names: ["CN"], oid: "2.5.4.3", type: Tag.PRINTABLE_STRING },
  { names: ["SN"], oid: "2.5.4.4", type: Tag.PRINTABLE_STRING },
  { names: ["serialNumber"], oid: "2.5.4.5", type: Tag.PRINTABLE_STRING },
  { names: ["T"], oid: "2.5.4.12", type: Tag.PRINTABLE_STRING },
  { names: ["G"], oid: "2.5.4.42", type: Tag.PRINTABLE_STRING },
  { names: ["postalCode"], oid: "2.5.4.17", type: Tag.PRINTABLE_STRING },
  { names: ["DC"], oid: "0.9.2342.19200300.100.1.25", type: Tag.PRINTABLE_STRING },
  { names: ["UID"], oid: "0.9.2342.19200300.100.1.1", type: Tag.PRINTABLE_STRING },
  { names: ["E", "Email", "emailAddress"], oid: "1.2.840.113549.1.9.1", type: Tag.IA5_STRING },
];
const EMAIL_OID = "1.2.840.113549.1.9.1";

export interface Rdn { oid: string; type: number; value: Buffer }

/** The AttributeTypeAndValue elements of a DER Name in order (multi-valued RDNs flattened, as strongSwan does). */
export function rdns(name: Buffer): Rdn[] {
  const out: Rdn[] = [];
  for (const set of children(readSingle(name, "distinguished name", Tag.SEQUENCE), "distinguished name")) {
    expectTag(set, Tag.SET, "relative distinguished name");
    const atvs = children(set, "relative distinguished name");
    if (atvs.length === 0) throw new AuthError("MALFORMED", "relative distinguished name: empty SET");
    for (const atv of atvs) {
      const s = new DerSeq(expectTag(atv, Tag.SEQUENCE, "attribute"), "attribute");
      const id = readOid(s.next(Tag.OID, "type"), "attribute type");
      const v: DerNode = s.any("value");
      s.end();
      out.push({ oid: id, type: v.tag, value: v.content });
    }
  }
  return out;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** strongSwan's atodn(): "C=CH, O=strongSwan, CN=moon" (or "/C=CH/O=..") to a DER Name. */
export function parseDn(text: string): Buffer {
  const sep = text.trimStart().startsWith("/") ? "/" : ",";
  const parts = text.split(sep).map((p) => p.trim()).filter((p, i) => !(sep === "/" && i === 0 && p === ""));
  const set = parts.map((part) => {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new AuthError("MALFORMED", `'${text}' is not a distinguished name: '${part}' lacks 'attribute=value'`);
    const key = part.slice(0, eq).trim(), value = part.slice(eq + 1).trim();
    const attr = ATTRIBUTES.find((a) => a.names.some((n) => n.toLowerCase() === key.toLowerCase()));
    if (!attr) throw new AuthError("UNSUPPORTED", `unknown attribute '${key}' in distinguished name '${text}'`);
    const type = attr.type === Tag.PRINTABLE_STRING && !PRINTABLE.test(value) ? Tag.UTF8_STRING : attr.type;
    return tlv(Tag.SET, tlv(Tag.SEQUENCE, Buffer.concat([oid(attr.oid), tlv(type, Buffer.from(value, "utf8"))])));
  });
  return tlv(Tag.SEQUENCE, Buffer.concat(set));
}

function decodeString(r: Rdn): string {
  switch (r.type) {
    case Tag.UTF8_STRING: return r.value.toString("utf8");
    case Tag.PRINTABLE_STRING: case Tag.IA5_STRING: case Tag.T61_STRING: return r.value.toString("latin1");
    case Tag.BMP_STRING: return Buffer.from(r.value).swap16().toString("utf16le");
    default: return `#${r.value.toString("hex")}`;
  }
}

/** strongSwan's text form: "C=CH, O=strongSwan, CN=moon"; unknown attribute types as dotted OIDs. */
export function formatDn(name: Buffer): string {
  return rdns(name).map((r) => `${ATTRIBUTES.find((a) => a.oid === r.oid)?.names[0] ?? r.oid}=${decodeString(r)}`).join(", ");
}

function rdnEquals(a: Rdn, b: Rdn): boolean {
  if (a.oid !== b.oid || a.value.length !== b.value.length) return false;
  const caseless = a.type === b.type && (a.type === Tag.PRINTABLE_STRING || (a.type === Tag.IA5_STRING && a.oid === EMAIL_OID));
  return caseless ? a.value.toString("latin1").toLowerCase() === b.value.toString("latin1").toLowerCase() : a.value.equals(b.value);
}

function compare(pattern: Buffer, dn: Buffer, wildcards: boolean): boolean {
  if (pattern.equals(dn)) return true;
  const p = rdns(pattern), d = rdns(dn);
  return p.length === d.length
    && p.every((r, i) => (wildcards && r.oid === d[i].oid && r.value.toString() === "*") || rdnEquals(r, d[i]));
}

/** strongSwan's DN equality (compare_dn()): same attributes in the same order, values per rdnEquals(). */
export function dnEquals(a: Buffer, b: Buffer): boolean {
  return compare(a, b, false);
}

/** Like dnEquals(), but a `pattern` value of "*" matches any value (wildcard DNs in configured remote ids). */
export function dnMatches(pattern: Buffer, dn: Buffer): boolean {
  return compare(pattern, dn, true);
}
