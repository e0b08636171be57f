// IKE identities (RFC 7296 §3.5) in strongSwan's text syntax, and matching against configuration.
import { isIPv4, isIPv6 } from "node:net";
import { IdType } from "./wire/index.js";
import { parseAddress, formatAddress } from "../dataplane/selectors.js";
import { parseDn, formatDn, dnMatches } from "./auth/dn.js";

export interface Identity { type: number; data: Buffer }

/** 192.0.2.1 → IPv4, fd00::1 → IPv6, @host → FQDN "host", @#hex → KEY_ID, C=CH, CN=x → DER DN, user@host → RFC822, host → FQDN. */
export function parseIdentity(text: string): Identity {
  if (isIPv4(text)) return { type: IdType.ID_IPV4_ADDR, data: Buffer.from(parseAddress(text).bytes) };
  if (isIPv6(text)) return { type: IdType.ID_IPV6_ADDR, data: Buffer.from(parseAddress(text).bytes) };
  if (text.startsWith("@#")) return { type: IdType.ID_KEY_ID, data: Buffer.from(text.slice(2), "hex") };
  if (text.startsWith("@")) return { type: IdType.ID_FQDN, data: Buffer.from(text.slice(1)) };
  if (text.includes("=")) return { type: IdType.ID_DER_ASN1_DN, data: parseDn(text) };
  if (text.includes("@")) return { type: IdType.ID_RFC822_ADDR, data: Buffer.from(text) };
  return { type: IdType.ID_FQDN, data: Buffer.from(text) };
}

export function formatIdentity(id: Identity): string {
  switch (id.type) {
    case IdType.ID_IPV4_ADDR: case IdType.ID_IPV6_ADDR: return formatAddress(id.data);
    case IdType.ID_FQDN: case IdType.ID_RFC822_ADDR: return id.data.toString("utf8");
    case IdType.ID_KEY_ID: return `@#${id.data.toString("hex")}`;
    case IdType.ID_DER_ASN1_DN:
      try { return formatDn(id.data); } catch { return `(invalid DN) ${id.data.toString("hex")}`; }
    default: return `(type ${id.type}) ${id.data.toString("hex")}`;
  }
}

/** Does the received identity satisfy the configured one? "%any" matches everything; DNs compare as
 *  strongSwan does (string types, case of PrintableStrings) and may hold "*" wildcard values. */
export function identityMatches(configured: string, received: Identity): boolean {
  if (configured === "%any") return true;
  const want = parseIdentity(configured);
  if (want.type !== received.type) return false;
  if (want.type !== IdType.ID_DER_ASN1_DN) return want.data.equals(received.data);
  try { return dnMatches(want.data, received.data); } catch { return false; }
}
