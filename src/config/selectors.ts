// Traffic selectors and IKE addresses as swanctl.conf writes them (vici_config.c parse_ts, host.c,
// traffic_selector.c), and the `dynamic` selector that stands for an IKE SA's own or peer address.
import { isIP } from "node:net";
import { cidr, formatAddress, parseAddress, type TrafficSelector } from "../dataplane/selectors.js";
import { parseUint, UnsupportedError, ValueError } from "./values.js";

/**
 * `dynamic` in local_ts/remote_ts: the IKE SA's local (resp. remote) address, known only per SA. strongSwan
 * substitutes it when proposing and narrowing (traffic_selector_t set_address); so must the engine, with
 * resolveSelectors(), before using a configured selector list.
 */
export interface DynamicSelector {
  dynamic: true;
  protocol: number;
  portStart: number;
  portEnd: number;
}

export type ConfigSelector = TrafficSelector | DynamicSelector;

export const isDynamic = (ts: ConfigSelector): ts is DynamicSelector => (ts as DynamicSelector).dynamic === true;

/** Replaces each dynamic selector by the single-address selector of `address` (the SA's own or peer address). */
export function resolveSelectors(list: readonly ConfigSelector[], address: string): TrafficSelector[] {
  return list.map((ts) => {
    if (!isDynamic(ts)) return ts;
    const host = formatAddress(parseAddress(address).bytes);
    return { start: host, end: host, protocol: ts.protocol, portStart: ts.portStart, portEnd: ts.portEnd };
  });
}

const IPPROTO_ICMP = 1, IPPROTO_ICMPV6 = 58;

/** /etc/protocols names (netbase) for getprotobyname(3); numbers work for the rest. */
const PROTOCOLS = new Map(Object.entries({
  ip: 0, icmp: 1, igmp: 2, ipencap: 4, tcp: 6, egp: 8, udp: 17, dccp: 33, ipv6: 41, "ipv6-route": 43, "ipv6-frag": 44,
  rsvp: 46, gre: 47, esp: 50, ah: 51, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, eigrp: 88, ospf: 89, ipip: 94,
  etherip: 97, encap: 98, pim: 103, ipcomp: 108, vrrp: 112, l2tp: 115, isis: 124, sctp: 132, "mobility-header": 135,
  udplite: 136, "mpls-in-ip": 137, hip: 139,
}));

/** Common /etc/services names for getservbyname(3); numbers work for the rest. */
const SERVICES = new Map(Object.entries({
  "ftp-data": 20, ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, bootps: 67, bootpc: 68, tftp: 69, http: 80, www: 80,
  kerberos: 88, pop3: 110, sunrpc: 111, ntp: 123, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, imap: 143,
  imap2: 143, snmp: 161, "snmp-trap": 162, bgp: 179, ldap: 389, https: 443, "microsoft-ds": 445, isakmp: 500, syslog: 514,
  submission: 587, ldaps: 636, imaps: 993, pop3s: 995, openvpn: 1194, l2tp: 1701, radius: 1812, "radius-acct": 1813,
  nfs: 2049, mysql: 3306, "ipsec-nat-t": 4500, sip: 5060, postgresql: 5432,
}));

const EXPECTED_TS = "expected a subnet (10.1.0.0/16), a range (10.1.0.1-10.1.0.9) or dynamic, optionally with [protocol/port]";

/** The parsed IP address, or ValueError(why). */
function ip(text: string, why: string): { version: 4 | 6; bytes: Uint8Array } {
  if (isIP(text) === 0) throw new ValueError(why);
  return parseAddress(text);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

const NOT_PERCENT_ANY = " (swanctl.conf writes any; %any is ipsec.conf syntax)";

function parseProtocol(text: string): number {
  if (text === "" || text === "any") return 0;
  if (text === "%any") throw new ValueError(`unknown protocol '%any'${NOT_PERCENT_ANY}`);
  const named = PROTOCOLS.get(text.toLowerCase());
  if (named !== undefined) return named;
  const n = parseUint(text, 255);
  if (n === undefined) throw new ValueError(`unknown protocol '${text}' (expected a name like tcp, udp, icmp or a number 0-255)`);
  return n;
}

function parsePorts(text: string): [number, number] {
  if (text === "" || text === "any") return [0, 0xffff];
  if (text === "opaque") throw new UnsupportedError("OPAQUE ports (RFC 4301)");
  if (text === "%any") throw new ValueError(`bad port '%any'${NOT_PERCENT_ANY}`);
  const named = SERVICES.get(text.toLowerCase());
  if (named !== undefined) return [named, named];
  const [a, b, ...more] = text.split("-");
  const from = parseUint(a, 0xffff), to = b === undefined ? from : parseUint(b, 0xffff);
  if (from === undefined || to === undefined || more.length || from > to) {
    throw new ValueError(`bad port '${text}' (expected a number 0-65535, a range like 1024-2048 or a service name)`);
  }
  return [from, to];
}

/** One item of local_ts/remote_ts: 10.1.0.0/16, fec1::/16, 10.1.0.1-10.1.0.9, dynamic, each optionally [proto/port]. */
export function parseTrafficSelector(text: string): ConfigSelector {
  let addr = text, protocol = 0, portStart = 0, portEnd = 0xffff;
  const open = text.indexOf("[");
  if (open >= 0) {
    const close = text.lastIndexOf("]");
    if (close < open) throw new ValueError(`missing ']' (${EXPECTED_TS})`);
    if (text.slice(close + 1).trim() !== "") throw new ValueError(`unexpected text after ']' (${EXPECTED_TS})`);
    const inner = text.slice(open + 1, close), slash = inner.indexOf("/");
    protocol = parseProtocol(slash < 0 ? inner : inner.slice(0, slash));
    [portStart, portEnd] = parsePorts(slash < 0 ? "" : inner.slice(slash + 1));
    if (protocol === IPPROTO_ICMP || protocol === IPPROTO_ICMPV6) {
      // ICMP type in the high byte, code in the low byte (traffic_selector.c traffic_selector_create).
      if (portStart < 256) portStart <<= 8;
      if (portEnd < 256) portEnd <<= 8;
    }
    addr = text.slice(0, open).trim();
  }
  if (addr === "dynamic") return { dynamic: true, protocol, portStart, portEnd };
  const dash = addr.indexOf("-");
  if (dash >= 0) {
    const to = ip(addr.slice(dash + 1).trim(), EXPECTED_TS), from = ip(addr.slice(0, dash).trim(), EXPECTED_TS);
    if (from.version !== to.version) throw new ValueError("the two ends of a range must be of the same address family");
    if (compare(from.bytes, to.bytes) > 0) throw new ValueError("the start of a range must not be above its end");
    return { start: formatAddress(from.bytes), end: formatAddress(to.bytes), protocol, portStart, portEnd };
  }
  const [net, len, ...more] = addr.split("/");
  const a = ip(net, EXPECTED_TS), bits = a.version === 4 ? 32 : 128;
  if (more.length || (len !== undefined && (!/^[0-9]{1,3}$/.test(len) || Number(len) > bits))) {
    throw new ValueError(`bad prefix length (expected /0 to /${bits})`);
  }
  return cidr(len === undefined ? net : `${net}/${Number(len)}`, protocol, portStart, portEnd);
}

// ------------------------------------------------------------------------------------ IKE addresses

const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const EXPECTED_ADDR = "expected an IP address, a subnet (192.0.2.0/24), a range (192.0.2.1-192.0.2.9), %any, %any4 or %any6";

type AddressSpec =
  | { kind: "any"; version?: 4 | 6 }
  | { kind: "range"; version: 4 | 6; from: Uint8Array; to: Uint8Array };

function addressSpec(text: string): AddressSpec {
  if (text === "%any") return { kind: "any" };
  if (text === "%any4") return { kind: "any", version: 4 };
  if (text === "%any6") return { kind: "any", version: 6 };
  if (isIP(text)) {
    const a = parseAddress(text);
    return { kind: "range", version: a.version, from: a.bytes, to: a.bytes };
  }
  if (text.includes("/")) {
    const [net, len, ...more] = text.split("/");
    if (isIP(net) && !more.length && /^[0-9]{1,3}$/.test(len)) {
      const bits = isIP(net) === 4 ? 32 : 128;
      if (Number(len) <= bits) {
        const ts = cidr(`${net}/${Number(len)}`);
        const from = parseAddress(ts.start), to = parseAddress(ts.end);
        return { kind: "range", version: from.version, from: from.bytes, to: to.bytes };
      }
    }
    throw new ValueError(EXPECTED_ADDR);
  }
  const dash = text.indexOf("-");
  if (dash >= 0) {
    const from = text.slice(0, dash).trim(), to = text.slice(dash + 1).trim();
    if (isIP(from) && isIP(from) === isIP(to)) {
      const a = parseAddress(from), b = parseAddress(to);
      if (compare(a.bytes, b.bytes) > 0) throw new ValueError("the start of a range must not be above its end");
      return { kind: "range", version: a.version, from: a.bytes, to: b.bytes };
    }
  }
  if (HOSTNAME.test(text)) throw new UnsupportedError("DNS names are not supported here, use an IP address");
  throw new ValueError(EXPECTED_ADDR);
}

/** Checks one item of local_addrs/remote_addrs (throws ValueError/UnsupportedError). */
export function checkAddressSpec(text: string): void {
  addressSpec(text);
}

/** Whether `address` is one of `specs` (as validated by checkAddressSpec): %any/%any4/%any6, address, subnet, range. */
export function matchesAddress(specs: readonly string[], address: string): boolean {
  if (isIP(address) === 0) return false;
  const a = parseAddress(address);
  return specs.some((text) => {
    let s: AddressSpec;
    try { s = addressSpec(text); } catch { return false; }
    if (s.kind === "any") return s.version === undefined || s.version === a.version;
    return s.version === a.version && compare(s.from, a.bytes) <= 0 && compare(a.bytes, s.to) <= 0;
  });
}
