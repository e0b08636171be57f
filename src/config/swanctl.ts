// swanctl.conf mapped onto the IKE engine's configuration model (src/ike/config.ts), with strongSwan's key
// names, value syntax and defaults (src/swanctl/swanctl.opt, the vici plugin's vici_config.c, swanctl's
// load_conns.c/load_creds.c). Every problem is reported, with where it was written:
//   - a misspelt key or section: "unknown key 'rekey_tme' in connections.gw (did you mean 'rekey_time'?)";
//   - a malformed value: "connections.gw.rekey_time = 1x: expected a duration like 30m, 1h, 2d";
//   - strongSwan syntax for something wasm-ipsec does not implement (IKEv1, EAP, raw public keys, CRL/OCSP,
//     virtual IPs, BEET, marks, ...): "... = beet: not supported by wasm-ipsec: ...". A value that asks for
//     what we do anyway (mode = tunnel, ipcomp = no, ...) is accepted. Nothing is silently ignored, except
//     settings without effect here: ocsp = reply|never (we hold no OCSP responses to send), hostaccess (a
//     variable for updown), label_mode (labels only), childless = allow|never.
//
// Certificates (auth = pubkey, strongSwan's default for the local side) come from swanctl's directories next
// to the file (credentials.ts): `certs` names files in x509/, `cacerts` in x509ca/ (or absolute paths, or 0x/0s
// DER), private keys are found in private/, rsa/, ecdsa/ and pkcs8/ by the certificate's public key.
//
// Settings of our own live in a section strongSwan's swanctl does not read, so one file serves both:
//
//   wasm-ipsec {
//     crypto_backend = wasm    # ESP AES-GCM implementation: wasm, node, noble or auto (default wasm)
//     auto_threshold = 1k      # with auto: ESP payloads from this size use node:crypto (bytes, k/m/g)
//     workers = 1              # data-plane threads per direction (encap/decap pairs), 1-64 (default: half the
//                              #   cores, at least 1: one thread per core); more use TUN queues and SO_REUSEPORT
//     max_sas = 1024           # capacity of the SA database, inbound + outbound (default 1024)
//     keylog = /path/file      # append IKE and ESP keys for Wireshark (default: none)
//     retransmit_timeout = 4.0 # IKE retransmissions and so DPD, as strongswan.conf's charon.retransmit_*:
//     retransmit_base = 1.8    #   timeout * base^n before retransmission n+1, seconds; a peer is given up
//     retransmit_tries = 5     #   after `tries` retransmissions (defaults: strongSwan's, 165 s in all)
//     routing_table = 221      # routes into the TUN live in this table, as charon.routing_table (default 221:
//     routing_table_prio = 221 #   charon's 220 stays its own); the rule's priority (rules at prio-1..prio+1)
//     fwmark = 221             # SO_MARK of our ESP-in-UDP and AH sockets, exempt from that table (default 221)
//     tun {
//       name = wipsec%d        # TUN device name, at most 15 bytes; %d numbers it (default wipsec%d)
//       mtu = 1400             # 68-1856 (default: the path MTU toward the peers less the ESP overhead)
//     }
//   }
import { dirname, isAbsolute, join } from "node:path";
import { readFileSync, statSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import type { AuthConfig, ChildConfig, ConnectionConfig, EngineTimers, SharedSecret } from "../ike/config.js";
import { parseProposal, lookupKeyword, isAeadEncr, type Proposal } from "../ike/crypto/transforms.js";
import { ProposalError } from "../ike/crypto/errors.js";
import { parseIdentity } from "../ike/identity.js";
import { BACKEND_NAMES, type BackendName } from "../crypto/backend.js";
import {
  ConfigError, issueAt, loadSettings, parseSettings, view, formatIssue,
  type ConfigIssue, type ParseOptions, type Position, type SettingsSection, type SettingsView,
} from "./settings.js";
import {
  didYouMean, listItems, parseBool, parseBytes, parseCount, parseDuration, parseSecret, parseUint,
  UnsupportedError, ValueError,
} from "./values.js";
import { checkAddressSpec, parseTrafficSelector, type ConfigSelector } from "./selectors.js";
import { certificateFile, loadCredentials, KEY_DIRS, type Credentials, type KeyDir } from "./credentials.js";
import { certHasIdentity, MAX_PATH_LEN, type Certificate } from "../ike/auth/certs.js";
import { localCredentials } from "../ike/auth/pubkey.js";
import { spkiOf } from "../ike/auth/keys.js";
import { dnEquals } from "../ike/auth/dn.js";
import { AuthError } from "../ike/auth/errors.js";
import { MAX_INNER_PACKET } from "../daemon/mtu.js";
import type { RoutingSettings } from "../daemon/routing.js";

export interface SwanctlChild extends Omit<ChildConfig, "localTs" | "remoteTs"> {
  localTs: ConfigSelector[];   // may hold `dynamic` selectors, see selectors.ts
  remoteTs: ConfigSelector[];
  lifeTime: number;
  randTime: number;
  randBytes: number;
  randPackets: number;
  closeAction: "none" | "trap" | "start";
  dpdAction: "clear" | "trap" | "restart";
  updown?: string;             // script to run on CHILD_SA up/down events
}

export interface SwanctlConnection extends Omit<ConnectionConfig, "children"> {
  children: SwanctlChild[];
  version: 0 | 2;              // 0: IKEv2 (strongSwan would also answer IKEv1)
  overTime: number;
  randTime: number;
  unique: "no" | "never" | "keep" | "replace";
  mobike: boolean;
  dpdTimeout: number;
  keyingTries: number;
}

export interface WasmIpsecSettings {
  cryptoBackend: BackendName;
  autoThreshold?: number;
  /** Encap/decap worker pairs; absent: one data-plane thread per core (gateway.ts defaultPairs()). */
  workers?: number;
  maxSas: number;
  keylog?: string;
  timers?: Partial<EngineTimers>;
  tun: { name: string; mtu?: number };
  /** Given keys only: DEFAULT_ROUTING (src/daemon/routing.ts) for the others. */
  routing?: Partial<RoutingSettings>;
}

export interface SwanctlConfig {
  connections: SwanctlConnection[];
  secrets: SharedSecret[];
  wasmIpsec: WasmIpsecSettings;
  /** x509/ next to the file: end-entity certificates (trusted as they are, as strongSwan trusts what it loaded). */
  certs: Certificate[];
  /** x509ca/: trust anchors. */
  caCerts: Certificate[];
  /** private/, rsa/, ecdsa/, pkcs8/. */
  privateKeys: KeyObject[];
}

/** Reads a swanctl.conf (and its includes) and maps it; throws ConfigError listing every problem. */
export function loadSwanctl(path: string, opts: ParseOptions = {}): SwanctlConfig {
  return mapSwanctl(loadSettings(path, opts));
}

/** Parses and maps swanctl.conf text; `file` names it in messages and anchors relative includes and the
 *  credential directories. */
export function parseSwanctl(text: string, file = "swanctl.conf", opts: ParseOptions = {}): SwanctlConfig {
  return mapSwanctl(parseSettings(text, file, opts));
}

// ---------------------------------------------------------------------------------------- defaults

/**
 * `default` proposals: strongSwan's (proposal.c proposal_create_default[_aead]) restricted to what is
 * implemented. IKE: AES-CBC with HMAC-SHA2, then AES-GCM, each with the SHA-2 PRFs and ECP-256/384/521 and
 * Curve25519 (strongSwan's order). ESP: AES-GCM with 16-byte ICV only, as the data plane implements only GCM;
 * without strongSwan's optional PFS groups, which a strongSwan peer accepts as "no PFS".
 */
export const DEFAULT_IKE_PROPOSALS = [
  "aes128-aes192-aes256-sha256-sha384-sha512-prfsha256-prfsha384-prfsha512-ecp256-ecp384-ecp521-x25519",
  "aes128gcm16-aes192gcm16-aes256gcm16-aes128gcm12-aes192gcm12-aes256gcm12-aes128gcm8-aes192gcm8-aes256gcm8-"
    + "prfsha256-prfsha384-prfsha512-ecp256-ecp384-ecp521-x25519",
];
export const DEFAULT_ESP_PROPOSALS = ["aes128gcm16-aes192gcm16-aes256gcm16"];
/** AH: strongSwan's (HMAC-SHA2-256/384/512, HMAC-SHA1, AES-XCBC, noesn, optional PFS groups) without the
 *  two the data plane lacks. A child with ah_proposals and no esp_proposals proposes AH only (vici_config.c
 *  adds the ESP default only to a child without any proposals). */
export const DEFAULT_AH_PROPOSALS = ["sha256-sha384-sha512"];

/** strongSwan's default replay window (charon.replay_window) and the data plane's largest. */
const DEFAULT_REPLAY_WINDOW = 32;
const MAX_REPLAY_WINDOW = 16320; // REPLAY_MAX_WINDOW in assembly/replay.ts

const DEFAULT_IKE_REKEY = 4 * 3600;   // LFT_DEFAULT_IKE_REKEY_TIME
const DEFAULT_CHILD_REKEY = 3600;     // LFT_DEFAULT_CHILD_REKEY_TIME

/** strongSwan's proposal keywords (proposal_keywords_static.txt), to tell "not implemented" from "misspelt". */
const STRONGSWAN_KEYWORDS = new Set((
  "null des 3des aes aes128 aes192 aes256 aes128ctr aes192ctr aes256ctr blowfish blowfish128 blowfish192 blowfish256 "
  + "camellia camellia128 camellia192 camellia256 camellia128ctr camellia192ctr camellia256ctr cast128 serpent "
  + "serpent128 serpent192 serpent256 twofish twofish128 twofish192 twofish256 aes128gmac aes192gmac aes256gmac "
  + "chacha20poly1305 chacha20poly1305compat sha sha1 sha1_160 sha256 sha2_256 sha256_96 sha2_256_96 sha384 sha2_384 "
  + "sha512 sha2_512 md5 md5_128 aesxcbc camelliaxcbc aescmac prfsha1 prfsha256 prfsha384 prfsha512 prfmd5 prfaesxcbc "
  + "prfcamelliaxcbc prfaescmac none modpnone modpnull modp768 modp1024 modp1536 modp2048 modp3072 modp4096 modp6144 "
  + "modp8192 ecp192 ecp224 ecp256 ecp384 ecp521 modp1024s160 modp2048s224 modp2048s256 ecp224bp ecp256bp ecp384bp "
  + "ecp512bp curve25519 x25519 curve448 x448 gost256 gost512 mlkem512 mlkem768 mlkem1024 noesn esn"
).split(" ").concat([128, 192, 256].flatMap((b) => ["", 8, 64, 12, 96, 16, 128].flatMap((i) =>
  [`aes${b}ccm${i}`, `aes${b}gcm${i}`, ...(i === "" ? [] : [`camellia${b}ccm${i}`])]))));

const implemented = (k: string): boolean => { try { lookupKeyword(k); return true; } catch { return false; } };
const OUR_KEYWORDS = [...STRONGSWAN_KEYWORDS].filter(implemented);

// ---------------------------------------------------------------------------------------- reporting

class Report {
  readonly issues: ConfigIssue[] = [];
  private readonly seen = new Set<string>();
  at(pos: Position, message: string): void {
    const issue = issueAt(pos, message), key = formatIssue(issue);
    if (!this.seen.has(key)) { this.seen.add(key); this.issues.push(issue); }
  }
  /** A problem with a whole file (a credential): no line to point at. */
  file(file: string, message: string): void {
    const issue: ConfigIssue = { file, message }, key = formatIssue(issue);
    if (!this.seen.has(key)) { this.seen.add(key); this.issues.push(issue); }
  }
}

/** A handler parses a value and stores it; it throws ValueError, UnsupportedError or ProposalError. */
type Handlers = Record<string, (value: string) => void>;

const show = (v: string): string => (/^[!-~]+( [!-~]+)*$/.test(v) && !/["']/.test(v) ? v : JSON.stringify(v));

/** Runs the handler of every key of `v`; unknown keys and failed values become issues. */
function applyKeys(r: Report, v: SettingsView, where: string, handlers: Handlers, secret?: string): void {
  for (const k of v.keys()) {
    const h = Object.hasOwn(handlers, k.name) ? handlers[k.name] : undefined;
    const origin = k.section === v.sections[0]?.path ? where : k.section;
    if (!h) {
      r.at(k.position, `unknown key '${k.name}' in ${origin}${didYouMean(k.name, Object.keys(handlers))}`);
      continue;
    }
    try {
      h(k.value!);
    } catch (e) {
      r.at(k.position, `${origin}.${k.name}${k.name === secret ? "" : ` = ${show(k.value!)}`}: ${explain(e)}`);
    }
  }
}

function explain(e: unknown): string {
  if (e instanceof UnsupportedError) return `not supported by wasm-ipsec: ${e.message}`;
  if (e instanceof ValueError) return e.message;
  if (e instanceof ProposalError) return proposalMessage(e);
  throw e;
}

function proposalMessage(e: ProposalError): string {
  const k = e.keyword;
  if (e.code !== "UNKNOWN_KEYWORD" || k === undefined) return e.message;
  if (STRONGSWAN_KEYWORDS.has(k) || /^ke[1-7]_/.test(k)) {
    return `not supported by wasm-ipsec: algorithm '${k}' is not implemented (available: ${OUR_KEYWORDS.join(" ")})`;
  }
  return `unknown algorithm keyword '${k}'${didYouMean(k, OUR_KEYWORDS)}`;
}

// ------------------------------------------------------------------------------ value combinators

const EXPECT = {
  bool: "expected yes or no",
  uint: "expected a whole number",
  duration: "expected a duration like 30m, 1h, 2d (units s, m, h, d; seconds without one)",
  bytes: "expected a byte count like 500000, 500k, 100M, 2G (binary multiples)",
  count: "expected a whole number of packets",
};

function need<T>(value: T | undefined, expected: string): T {
  if (value === undefined) throw new ValueError(expected);
  return value;
}

const bool = (set: (b: boolean) => void) => (v: string) => set(need(parseBool(v), EXPECT.bool));
const uint = (set: (n: number) => void, max?: number, expected = EXPECT.uint) => (v: string) => set(need(parseUint(v, max), expected));
const duration = (set: (n: number) => void) => (v: string) => set(need(parseDuration(v), EXPECT.duration));
const bytes = (set: (n: number) => void) => (v: string) => set(need(parseBytes(v), EXPECT.bytes));
const count = (set: (n: number) => void) => (v: string) => set(need(parseCount(v), EXPECT.count));

/** A keyword from `map` (case-insensitive, as vici's parse_map). */
function choice<T>(map: Record<string, T>, set: (t: T) => void) {
  const m = new Map(Object.entries(map));
  return (v: string) => set(need(m.get(v.toLowerCase()), `expected one of ${[...m.keys()].join(", ")}`));
}

/** A setting we do not implement: any value is an error. */
const never = (why: string) => () => { throw new UnsupportedError(why); };

/** A setting whose default (or any value `ok` accepts) matches what we do; other valid values are errors. */
function only<T>(parse: (v: string) => T | undefined, expected: string, ok: (t: T) => boolean, why: string) {
  return (v: string) => { if (!ok(need(parse(v), expected))) throw new UnsupportedError(why); };
}

const noBool = (why: string) => only(parseBool, EXPECT.bool, (b) => !b, why);
const yesBool = (why: string) => only(parseBool, EXPECT.bool, (b) => b, why);
const zeroUint = (why: string) => only((v) => parseUint(v), EXPECT.uint, (n) => n === 0, why);

/** An interface ID (vici parse_if_id): a number, %unique or %unique-dir; only 0 (none) is supported. */
const ifId = only((v) => (/^%unique(-dir)?$/i.test(v) ? -1 : parseUint(v)), "expected a number, %unique or %unique-dir",
  (n) => n === 0, "XFRM interface IDs");

/** A mark (ipsec_types.c mark_from_string): value[/mask], value a number, %unique[-dir] or (set_mark) %same. */
const mark = (same: boolean) => only((v) => {
  const [value, mask, ...more] = v.split("/");
  if (more.length || (mask !== undefined && parseUint(mask) === undefined)) return undefined;
  if (/^%unique(-dir)?$/i.test(value) || (same && /^%same$/i.test(value))) return -1;
  return parseUint(value);
}, `expected a mark value[/mask] (number${same ? ", %same" : ""} or %unique)`, (n) => n === 0, "netfilter marks");

/** A comma-separated list; each item through `item`. */
function list<T>(item: (s: string) => T[], set: (all: T[]) => void) {
  return (v: string) => set(listItems(v).flatMap(item));
}

const ACTION_WORDS = new Map(Object.entries({ start: 2, restart: 2, route: 1, trap: 1, none: 0, clear: 0 }));
const ACTION_FLAGS = new Map(Object.entries({ none: 0, trap: 1, start: 2 }));

/** Actions (vici parse_action): a keyword, or none/trap/start flags joined by '|'. Returns TRAP=1 | START=2. */
function actionFlags(v: string): number | undefined {
  const single = ACTION_WORDS.get(v.toLowerCase());
  if (single !== undefined) return single;
  let flags = 0;
  for (const name of v.split("|").map((s) => s.trim().toLowerCase()).filter((s) => s !== "")) {
    const f = ACTION_FLAGS.get(name);
    if (f === undefined) return undefined;
    flags |= f;
  }
  return flags;
}

function action<T>(names: readonly [T, T, T], set: (t: T) => void) {
  return (v: string) => {
    const f = need(actionFlags(v), "expected none, trap or start (or clear/restart/route)");
    if (f === 3) throw new UnsupportedError("combined actions (trap|start)");
    set(names[f]);
  };
}

function ikeProposalList(item: string): Proposal[] {
  if (item.toLowerCase() === "default") return DEFAULT_IKE_PROPOSALS.map((p) => parseProposal(p, "ike"));
  return [parseProposal(item, "ike")];
}

function ahProposalList(item: string): Proposal[] {
  return (item.toLowerCase() === "default" ? DEFAULT_AH_PROPOSALS : [item]).map((p) => parseProposal(p, "ah"));
}

function espProposalList(item: string): Proposal[] {
  if (item.toLowerCase() === "default") return DEFAULT_ESP_PROPOSALS.map((p) => parseProposal(p, "esp"));
  const p = parseProposal(item, "esp");
  if (!p.encr.every((e) => isAeadEncr(e.id))) {
    throw new UnsupportedError(`'${item}': the data plane implements AES-GCM only (e.g. aes256gcm16)`);
  }
  return [p];
}

const ID_TYPE_PREFIX = /^(ipv4|ipv6|rfc822|email|userfqdn|fqdn|dns|asn1dn|asn1gn|keyid|\{[0-9]+\}):/i;

/** An IKE identity in a form the engine's identity.ts reads (%any kept as is), else a ValueError/UnsupportedError. */
function identity(text: string, role: "local" | "remote" | "secret"): string {
  if (text === "%any") return text;
  if (text === "") throw new ValueError("expected an identity (address, fqdn, user@fqdn, @fqdn or @#hex)");
  if (ID_TYPE_PREFIX.test(text)) throw new UnsupportedError("identity type prefixes like fqdn: or email: (write the identity without it)");
  if (text.includes("=")) {
    // A distinguished name; the peer's may hold "*" for any value of an RDN (strongSwan's wildcard DNs).
    if (role === "local" && text.includes("*")) throw new ValueError("our own identity cannot hold wildcards");
    try { parseIdentity(text); } catch (e) { throw new ValueError(`expected a distinguished name like "C=CH, O=org, CN=name": ${(e as Error).message}`); }
    return text;
  }
  if (text.startsWith("@@")) throw new UnsupportedError("@@ identities");
  if (role !== "local" && /[*^]/.test(text)) throw new UnsupportedError("wildcard and regular-expression identities other than in distinguished names");
  if (text.startsWith("@#") && !/^@#([0-9a-fA-F]{2})+$/.test(text)) throw new ValueError("expected @# followed by hex digits");
  if (text === "@") throw new ValueError("expected a name after @ (write \"@#hex\" in quotes: # starts a comment)");
  parseIdentity(text);
  return text;
}

// ------------------------------------------------------------------------------------------ mapping

/** `base`: the directory of swanctl's credential directories (x509/, private/, ...), by default the file's. */
export function mapSwanctl(root: SettingsSection, base = dirname(root.position.file)): SwanctlConfig {
  const r = new Report();
  const top = view(root, []);
  const referenced = new Set<string>();
  for (const stack = [root]; stack.length;) { // iterative: nesting depth is the file's to choose
    const s = stack.pop()!;
    for (const ref of s.references) referenced.add(ref.name.split(".")[0]);
    for (const c of s.sections.values()) stack.push(c);
  }

  const known = ["connections", "secrets", "pools", "authorities", "wasm-ipsec"];
  applyKeys(r, top, "the top level", {});
  for (const name of top.sectionNames()) {
    if (known.includes(name) || referenced.has(name)) continue;
    r.at(top.child(name).position, `unknown section '${name}'${didYouMean(name, known)}`);
  }
  for (const name of ["pools", "authorities"]) {
    const v = top.child(name);
    if (v.keys().length || v.sectionNames().length) {
      r.at(v.position, `${name}: not supported by wasm-ipsec: ${name === "pools" ? "virtual IP address pools" : "certification authorities"}`);
    }
  }

  const { shared: secrets, passphrases } = mapSecrets(r, top.child("secrets"));
  const creds = loadCredentials(base, (dir, rel) => passphrases.filter((p) => p.dir === dir && p.file.toLowerCase() === rel.toLowerCase())
    .map((p) => p.secret), (file, message) => r.file(file, message));
  for (const p of passphrases) {
    // swanctl matches `file` against the names in the directory; one that names nothing would never apply.
    const path = join(base, p.dir, p.file);
    if (!isFile(path)) r.at(p.position, `${p.where}.file = ${show(p.file)}: no such file ${path}`);
  }
  const conns = top.child("connections");
  applyKeys(r, conns, "connections", {});
  const connections = conns.sectionNames().map((name) => mapConnection(r, conns.child(name), name, { base, creds }))
    .filter((c): c is SwanctlConnection => c !== undefined);
  const wasmIpsec = mapWasmIpsec(r, top.child("wasm-ipsec"));
  if (r.issues.length) throw new ConfigError(sortIssues(r.issues));
  return { connections, secrets, wasmIpsec, ...creds };
}

const isFile = (path: string): boolean => { try { return statSync(path).isFile(); } catch { return false; } };

/** Where a connection's credential files are found, and what the directories hold. */
interface CredContext { base: string; creds: Credentials }

/** File order (files in order of first mention), then line and column. */
function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const files = [...new Set(issues.map((i) => i.file))];
  return issues.map((i, n) => ({ i, n })).sort((a, b) => files.indexOf(a.i.file) - files.indexOf(b.i.file)
    || (a.i.line ?? 0) - (b.i.line ?? 0) || (a.i.column ?? 0) - (b.i.column ?? 0) || a.n - b.n).map((x) => x.i);
}

function mapConnection(r: Report, v: SettingsView, name: string, ctx: CredContext): SwanctlConnection | undefined {
  const where = `connections.${name}`;
  const before = r.issues.length;
  let version: 0 | 2 = 0, localAddrs = ["%any"], remoteAddrs = ["%any"], localPort = 500, remotePort = 500;
  let proposals: Proposal[] | undefined, encap = false, mobike = true, dpdDelay = 0, dpdTimeout = 0, fragmentation = true;
  let keyingTries = 1, unique: SwanctlConnection["unique"] = "no";
  let sendCert: SwanctlConnection["sendCert"] = "ifasked", sendCertreq = true;
  let rekey: number | undefined, reauth: number | undefined, over: number | undefined, rand: number | undefined;
  const addrs = (set: (a: string[]) => void) => list((s) => { checkAddressSpec(s); return [s]; }, (a) => {
    if (!a.length) throw new ValueError("expected at least one address");
    set(a);
  });
  applyKeys(r, v, where, {
    version: uint((n) => {
      if (n === 1) throw new UnsupportedError("IKEv1");
      if (n !== 0 && n !== 2) throw new ValueError("expected 0 (any), 1 (IKEv1) or 2 (IKEv2)");
      version = n;
    }),
    local_addrs: addrs((a) => { localAddrs = a; }),
    remote_addrs: addrs((a) => { remoteAddrs = a; }),
    local_port: uint((n) => { localPort = n || 500; }, 0xffff, "expected a UDP port 0-65535"),
    remote_port: uint((n) => {
      if (n === 0) throw new ValueError("expected a UDP port 1-65535");
      remotePort = n;
    }, 0xffff, "expected a UDP port 1-65535"),
    proposals: list(ikeProposalList, (p) => { proposals = p; }),
    vips: never("virtual IPs (configuration payloads)"),
    aggressive: noBool("IKEv1 Aggressive Mode"),
    pull: yesBool("IKEv1 Mode Config push"),
    dscp: only((s) => (/^[01]{1,32}$/.test(s) ? parseInt(s, 2) & 0x3f : undefined), "expected six binary digits like 101110",
      (n) => n === 0, "DSCP marking of IKE packets"),
    encap: bool((b) => { encap = b; }),
    mobike: bool((b) => { mobike = b; }),
    dpd_delay: duration((n) => { dpdDelay = n; }),
    dpd_timeout: duration((n) => { dpdTimeout = n; }),
    fragmentation: choice({ yes: "yes", accept: "accept", no: "no", force: "force" }, (f) => {
      if (f === "accept" || f === "force") throw new UnsupportedError("only yes and no");
      fragmentation = f === "yes";
    }),
    childless: choice({ allow: true, never: true, prefer: false, force: false }, (ok) => {
      if (!ok) throw new UnsupportedError("childless IKE_SA initiation (RFC 6023)");
    }),
    send_certreq: bool((b) => { sendCertreq = b; }),
    send_cert: choice({ ifasked: "ifasked", always: "always", never: "never" } as const, (c) => { sendCert = c; }),
    ocsp: choice({ both: false, reply: true, request: false, never: true }, (ok) => {
      if (!ok) throw new UnsupportedError("OCSP (only reply and never)");
    }),
    ppk_id: never("postquantum preshared keys (RFC 8784)"),
    ppk_required: noBool("postquantum preshared keys (RFC 8784)"),
    keyingtries: uint((n) => { keyingTries = n; }),
    unique: choice({ never: "never", no: "no", keep: "keep", replace: "replace" } as const, (u) => { unique = u; }),
    reauth_time: duration((n) => { reauth = n; }),
    rekey_time: duration((n) => { rekey = n; }),
    over_time: duration((n) => { over = n; }),
    rand_time: duration((n) => { rand = n; }),
    pools: never("virtual IP address pools"),
    if_id_in: ifId,
    if_id_out: ifId,
    mediation: noBool("IKEv2 mediation"),
    mediated_by: never("IKEv2 mediation"),
    mediation_peer: never("IKEv2 mediation"),
  });

  const locals: SettingsView[] = [], remotes: SettingsView[] = [];
  const children: SwanctlChild[] = [];
  for (const sub of v.sectionNames()) {
    const lower = sub.toLowerCase(), sv = v.child(sub);
    if (lower === "children") {
      applyKeys(r, sv, `${where}.${sub}`, {});
      for (const child of sv.sectionNames()) {
        const c = mapChild(r, sv.child(child), `${where}.${sub}.${child}`, child);
        if (c) children.push(c);
      }
    } else if (lower.startsWith("local")) locals.push(sv);
    else if (lower.startsWith("remote")) remotes.push(sv);
    else r.at(sv.position, `unknown section '${sub}' in ${where}${didYouMean(sub, ["children", "local", "remote"])}`);
  }
  const local = mapRounds(r, locals, where, "local", v.position, ctx);
  const remote = mapRounds(r, remotes, where, "remote", v.position, ctx);

  // Lifetimes as vici_config.c config_sn derives them.
  if (rekey === undefined && reauth === undefined) { rekey = DEFAULT_IKE_REKEY; reauth = 0; }
  const rekeyTime = rekey ?? 0, reauthTime = reauth ?? 0;
  const overTime = over ?? Math.floor(Math.max(rekeyTime, reauthTime) / 10);
  const randTime = rand ?? Math.min(overTime,
    Math.floor((rekeyTime && reauthTime ? Math.min(rekeyTime, reauthTime) : Math.max(rekeyTime, reauthTime)) / 2));

  if (r.issues.length !== before || !local || !remote) return undefined;
  return {
    name, version, localAddrs, remoteAddrs, localPort, remotePort,
    proposals: proposals?.length ? proposals : DEFAULT_IKE_PROPOSALS.map((p) => parseProposal(p, "ike")),
    local, remote, children, rekeyTime, reauthTime, overTime, randTime, dpdDelay, dpdTimeout, encap, fragmentation,
    keyingTries, unique, mobike, sendCert, sendCertreq,
  };
}

/** The authentication rounds of one side; wasm-ipsec does one (no RFC 4739 multiple authentication). */
function mapRounds(r: Report, views: SettingsView[], where: string, side: "local" | "remote", connPos: Position,
                   ctx: CredContext): AuthConfig | undefined {
  const rounds = views.map((v) => mapAuth(r, v, `${where}.${v.path[v.path.length - 1]}`, side, ctx));
  rounds.sort((a, b) => a.round - b.round); // stable: equal rounds keep their order, as vici's insertion
  if (rounds.length > 1) {
    r.at(rounds[1].v.position, `${where}: not supported by wasm-ipsec: more than one ${side} authentication round `
      + `(${rounds.map((x) => x.v.path[x.v.path.length - 1]).join(", ")}; RFC 4739)`);
    return undefined;
  }
  const first = rounds[0];
  if (first?.failed) return undefined; // reported by mapAuth
  const id = first?.id ?? "%any";
  // strongSwan: our side defaults to pubkey; without an auth key it accepts any method from the peer, which
  // here means a certificate if certs or cacerts say which, else a pre-shared key.
  const auth = first?.auth ?? (side === "local" || first?.certs || first?.cacerts ? "pubkey" : "psk");
  if (auth === "psk") {
    const extra = first?.certs ?? first?.cacerts;
    if (extra) { r.at(extra.position, `${first!.where}: certs and cacerts need auth = pubkey`); return undefined; }
    return { auth, id };
  }
  if (side === "remote") {
    if (first?.certs && first.cacerts) {
      r.at(first.cacerts.position, `${first.where}.cacerts: not supported by wasm-ipsec: cacerts together with a pinned peer certificate (certs)`);
      return undefined;
    }
    // A pinned certificate is its own trust anchor (verifyChain); cacerts restrict the anchors.
    const anchors = first?.certs ?? first?.cacerts;
    return { auth, id, ...(anchors ? { cacerts: anchors.list } : {}) };
  }
  if (first?.cacerts) {
    r.at(first.cacerts.position, `${first.where}.cacerts: not supported by wasm-ipsec: CA constraints on our own certificate`);
    return undefined;
  }
  const at = first?.certs?.position ?? first?.v.position ?? connPos, label = first ? first.where : where;
  const cert = first?.certs?.list[0] ?? ourCertificate(ctx.creds, id);
  if (!cert) {
    r.at(at, `${label}: public key authentication${first?.auth ? "" : " (the default without auth = psk)"} needs our certificate: `
      + `add certs = <file in ${join(ctx.base, "x509")}>${id !== "%any" ? ` (none there for '${id}' with its private key)` : ""}`);
    return undefined;
  }
  const named = [cert, ...(first?.certs?.list.slice(1) ?? [])];
  const certs = [...named, ...chainOf(cert, [...ctx.creds.caCerts, ...ctx.creds.certs]).filter((c) => !named.some((n) => n.der.equals(c.der)))];
  try {
    localCredentials(certs, ctx.creds.privateKeys, id);
  } catch (e) {
    const idPos = first?.v.get("id")?.position;
    const noKey = e instanceof AuthError && e.code === "NO_KEY";
    r.at(noKey || !idPos ? at : idPos, `${label}: ${(e as Error).message}`
      + (noKey ? ` in ${KEY_DIRS.map((d) => `${d}/`).join(", ")} of ${ctx.base}` : ""));
    return undefined;
  }
  return { auth, id, certs };
}

/** strongSwan picks our certificate by identity when certs names none: one in x509/ with its private key. */
function ourCertificate(creds: Credentials, id: string): Certificate | undefined {
  if (id === "%any") return undefined;
  const want = parseIdentity(id);
  const keys = creds.privateKeys.map(spkiOf);
  return creds.certs.find((c) => certHasIdentity(c, want) && keys.some((k) => k.equals(c.spki)));
}

/** The intermediate CAs above `cert` among `pool`, to send with it (a self-signed root is the peer's to have). */
function chainOf(cert: Certificate, pool: Certificate[]): Certificate[] {
  const out: Certificate[] = [];
  for (let cur = cert; out.length < MAX_PATH_LEN;) {
    const next = pool.find((c) => c.ca && c !== cur && !out.includes(c) && dnEquals(c.subject, cur.issuer) && signs(c, cur));
    if (!next || dnEquals(next.subject, next.issuer)) break;
    out.push(next);
    cur = next;
  }
  return out;
}

function signs(issuer: Certificate, cert: Certificate): boolean {
  try { return cert.x509.verify(issuer.publicKey); } catch { return false; }
}

interface AuthRound {
  v: SettingsView;
  where: string;
  round: number;
  auth?: "psk" | "pubkey";
  failed?: boolean;
  id?: string;
  certs?: { list: Certificate[]; position: Position };
  cacerts?: { list: Certificate[]; position: Position };
}

/** vici parse_auth: pubkey, and strongSwan's aliases for it, without signature or strength constraints. */
const PUBKEY_AUTH = new Set(["pubkey", "rsa", "rsa/pss", "ecdsa", "ike:pubkey", "ike:rsa", "ike:rsa/pss", "ike:ecdsa", "ike:ed25519"]);

/** Certificates named by certs/cacerts: files relative to x509/ or x509ca/ (load_conns.c), absolute paths, 0x/0s DER. */
function certList(value: string, dir: "x509" | "x509ca", base: string): Certificate[] {
  return listItems(value).map((item) => {
    const blob = /^0[xs]/i.test(item);
    const path = blob ? item : isAbsolute(item) ? item : join(base, dir, item);
    let data: Buffer;
    if (blob) data = Buffer.from(item.slice(2), /^0x/i.test(item) ? "hex" : "base64");
    else {
      try { data = readFileSync(path); } catch (e) { throw new ValueError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`); }
    }
    try {
      return certificateFile(data);
    } catch (e) {
      throw new ValueError(`${blob ? "" : `${path}: `}${(e as Error).message}`);
    }
  });
}

function mapAuth(r: Report, v: SettingsView, where: string, side: "local" | "remote", ctx: CredContext): AuthRound {
  const out: AuthRound = { v, where, round: 0 };
  const before = r.issues.length;
  const certs = (key: "certs" | "cacerts", dir: "x509" | "x509ca") => (s: string) => {
    out[key] = { list: certList(s, dir, ctx.base), position: v.get(key)!.position };
  };
  applyKeys(r, v, where, {
    auth: (s) => {
      if (s.toLowerCase() === "psk") { out.auth = "psk"; return; }
      out.failed = true;
      if (/^(ike:|pubkey|rsa|ecdsa)/.test(s)) {
        if (PUBKEY_AUTH.has(s)) { out.auth = "pubkey"; out.failed = false; return; }
        if (PUBKEY_AUTH.has(s.split("-")[0])) throw new UnsupportedError("signature scheme and key strength constraints (use auth = pubkey)");
        throw new ValueError(`expected pubkey, rsa, ecdsa or rsa/pss, optionally after ike:`);
      }
      if (/^eap/i.test(s)) throw new UnsupportedError("EAP authentication (only psk and pubkey)");
      if (/^xauth/i.test(s)) throw new UnsupportedError("XAuth (IKEv1; only psk and pubkey)");
      throw new ValueError("expected psk, pubkey, eap[-method] or xauth[-backend]");
    },
    id: (s) => { out.id = identity(s, side); },
    round: uint((n) => { out.round = n; }),
    certs: certs("certs", "x509"),
    cacerts: certs("cacerts", "x509ca"),
    pubkeys: never("raw public keys (use certificates)"),
    ca_id: never("CA identity constraints (use cacerts)"),
    cert_policy: never("certificate policy constraints"),
    groups: never("authorization groups"),
    revocation: choice({ relaxed: true, strict: false, ifuri: false }, (ok) => {
      if (!ok) throw new UnsupportedError("revocation checking (CRL, OCSP): only relaxed");
    }),
    eap_id: never("EAP authentication"),
    aaa_id: never("EAP authentication"),
    xauth_id: never("XAuth (IKEv1)"),
  });
  for (const sub of v.sectionNames()) {
    const pos = v.child(sub).position;
    if (/^(ca)?cert/i.test(sub)) r.at(pos, `${where}.${sub}: not supported by wasm-ipsec: certificates on tokens or smartcards (use certs = <file>)`);
    else r.at(pos, `unknown section '${sub}' in ${where}`);
  }
  if (r.issues.length !== before) out.failed = true;
  return out;
}

function mapChild(r: Report, v: SettingsView, where: string, name: string): SwanctlChild | undefined {
  const before = r.issues.length;
  let localTs: ConfigSelector[] = [], remoteTs: ConfigSelector[] = [], espProposals: Proposal[] = [], ahProposals: Proposal[] = [];
  let mode: SwanctlChild["mode"] = "tunnel", startAction: SwanctlChild["startAction"] = "none";
  let closeAction: SwanctlChild["closeAction"] = "none", dpdAction: SwanctlChild["dpdAction"] = "clear";
  let replayWindow = DEFAULT_REPLAY_WINDOW, updown: string | undefined;
  const t: Record<"rekey" | "life" | "rand", { time?: number; bytes?: number; packets?: number }> = { rekey: {}, life: {}, rand: {} };
  const selectors = (set: (ts: ConfigSelector[]) => void) => list((s) => [parseTrafficSelector(s)], set);
  applyKeys(r, v, where, {
    ah_proposals: list(ahProposalList, (p) => { ahProposals = p; }),
    esp_proposals: list(espProposalList, (p) => { espProposals = p; }),
    local_ts: selectors((ts) => { localTs = ts; }),
    remote_ts: selectors((ts) => { remoteTs = ts; }),
    updown: (s) => { updown = s; },
    hostaccess: bool(() => {}), // a variable for the updown script only
    mode: choice({ tunnel: "tunnel", transport: "transport", transport_proxy: "", iptfs: "", beet: "", pass: "", drop: "" }, (m) => {
      if (m === "") throw new UnsupportedError("only tunnel and transport mode");
      mode = m as SwanctlChild["mode"];
    }),
    policies: yesBool("the data plane always enforces the traffic selectors"),
    policies_fwd_out: noBool("kernel FWD policies"),
    replay_window: uint((n) => {
      if (n !== 0 && (n < 32 || n > MAX_REPLAY_WINDOW)) {
        throw new UnsupportedError(`replay windows other than 0 (off) and 32-${MAX_REPLAY_WINDOW}`);
      }
      replayWindow = n;
    }),
    rekey_time: duration((n) => { t.rekey.time = n; }),
    life_time: duration((n) => { t.life.time = n; }),
    rand_time: duration((n) => { t.rand.time = n; }),
    rekey_bytes: bytes((n) => { t.rekey.bytes = n; }),
    life_bytes: bytes((n) => { t.life.bytes = n; }),
    rand_bytes: bytes((n) => { t.rand.bytes = n; }),
    rekey_packets: count((n) => { t.rekey.packets = n; }),
    life_packets: count((n) => { t.life.packets = n; }),
    rand_packets: count((n) => { t.rand.packets = n; }),
    dpd_action: action(["clear", "trap", "restart"] as const, (a) => { dpdAction = a; }),
    start_action: action(["none", "trap", "start"] as const, (a) => { startAction = a; }),
    close_action: action(["none", "trap", "start"] as const, (a) => { closeAction = a; }),
    ipcomp: noBool("IPComp"),
    inactivity: only(parseDuration, EXPECT.duration, (n) => n === 0, "inactivity timeouts"),
    reqid: zeroUint("fixed reqids"),
    priority: zeroUint("fixed policy priorities"),
    interface: never("restricting policies to an interface"),
    mark_in: mark(false), mark_out: mark(false), set_mark_in: mark(true), set_mark_out: mark(true),
    mark_in_sa: noBool("netfilter marks"),
    tfc_padding: only((s) => (s === "mtu" ? -1 : parseUint(s)), "expected a number of bytes or mtu", (n) => n === 0, "TFC padding"),
    hw_offload: choice({ no: true, yes: false, crypto: false, packet: false, auto: false }, (ok) => {
      if (!ok) throw new UnsupportedError("hardware offload");
    }),
    sha256_96: noBool("96-bit truncated HMAC-SHA-256"),
    copy_df: yesBool("clearing the DF bit"),
    copy_ecn: yesBool("not copying ECN"),
    copy_dscp: choice({ out: true, in: false, yes: false, no: false }, (ok) => {
      if (!ok) throw new UnsupportedError("only copy_dscp = out");
    }),
    icmp: noBool("forwarding ICMP errors outside the selectors"),
    if_id_in: ifId,
    if_id_out: ifId,
    label: never("security labels"),
    label_mode: choice({ system: 0, simple: 0, selinux: 0 }, () => {}),
    per_cpu_sas: only((s) => (s.toLowerCase() === "encap" ? true : parseBool(s)), "expected yes, no or encap", (b) => !b, "per-CPU SAs"),
  });
  for (const sub of v.sectionNames()) r.at(v.child(sub).position, `unknown section '${sub}' in ${where}`);
  if (r.issues.length !== before) return undefined;

  // vici_config.c check_lifetimes: a missing soft limit is the hard one less 10%, a missing hard limit the
  // soft one plus 10% (both truncated), and the jitter defaults to their difference.
  const lifetimes = (kind: "time" | "bytes" | "packets", dflt: number) => {
    const life = t.life[kind];
    const rekey = t.rekey[kind] ?? (life !== undefined ? Math.trunc(life / 1.1) : dflt);
    const hard = life ?? Math.trunc(rekey * 1.1);
    return { rekey, life: hard, rand: t.rand[kind] ?? hard - Math.min(hard, rekey) };
  };
  const time = lifetimes("time", DEFAULT_CHILD_REKEY), vol = lifetimes("bytes", 0), pkts = lifetimes("packets", 0);
  const dynamic = (): ConfigSelector => ({ dynamic: true, protocol: 0, portStart: 0, portEnd: 0xffff });
  return {
    name,
    localTs: localTs.length ? localTs : [dynamic()],
    remoteTs: remoteTs.length ? remoteTs : [dynamic()],
    espProposals: espProposals.length || ahProposals.length ? espProposals : DEFAULT_ESP_PROPOSALS.map((p) => parseProposal(p, "esp")),
    ...(ahProposals.length ? { ahProposals } : {}),
    mode, startAction, closeAction, dpdAction, replayWindow,
    rekeyTime: time.rekey, lifeTime: time.life, randTime: time.rand,
    rekeyBytes: vol.rekey, lifeBytes: vol.life, randBytes: vol.rand,
    rekeyPackets: pkts.rekey, lifePackets: pkts.life, randPackets: pkts.rand,
    ...(updown !== undefined ? { updown } : {}),
  };
}

const SECRET_TYPES = ["eap", "xauth", "ntlm", "ike", "ppk", "private", "rsa", "ecdsa", "pkcs8", "pkcs12", "token"];

/** A passphrase for an encrypted private key in one of the key directories (load_creds.c decrypt_with_config). */
interface Passphrase { dir: KeyDir; file: string; secret: string; where: string; position: Position }

function mapSecrets(r: Report, v: SettingsView): { shared: SharedSecret[]; passphrases: Passphrase[] } {
  applyKeys(r, v, "secrets", {});
  const shared: SharedSecret[] = [], passphrases: Passphrase[] = [];
  for (const name of v.sectionNames()) {
    const sv = v.child(name), where = `secrets.${name}`;
    const type = SECRET_TYPES.find((t) => name.startsWith(t)); // case-sensitive, as load_creds.c strpfx
    if ((KEY_DIRS as readonly string[]).includes(type ?? "")) {
      passphrases.push(...mapPassphrases(r, sv, where, type as KeyDir));
      continue;
    }
    if (type !== "ike") {
      r.at(sv.position, type
        ? `${where}: not supported by wasm-ipsec: ${type} secrets (only ike<suffix> pre-shared keys and private/rsa/ecdsa/pkcs8<suffix> key passphrases)`
        : `unknown secret type '${name}' in secrets: pre-shared keys go in sections named ike<suffix>`);
      continue;
    }
    const before = r.issues.length;
    let secret: Uint8Array | undefined;
    const ids: string[] = [];
    const handlers: Handlers = { secret: (s) => { secret = parseSecret(s); } };
    for (const k of sv.keys()) if (k.name.startsWith("id")) handlers[k.name] = (s) => { ids.push(identity(s, "secret")); };
    applyKeys(r, sv, where, handlers, "secret");
    for (const sub of sv.sectionNames()) r.at(sv.child(sub).position, `unknown section '${sub}' in ${where}`);
    if (!sv.get("secret")) r.at(sv.position, `${where}: missing secret = ...`);
    if (r.issues.length !== before || !secret) continue;
    // %any owns the secret for every identity, which the engine expresses with no ids.
    shared.push({ ids: ids.includes("%any") ? [] : ids, secret });
  }
  return { shared, passphrases };
}

/** secrets.<dir><suffix> { file = name in <dir>/, secret<suffix> = passphrase, ... }: every secret is tried. */
function mapPassphrases(r: Report, sv: SettingsView, where: string, dir: KeyDir): Passphrase[] {
  const before = r.issues.length;
  let file: string | undefined;
  const secrets: string[] = [];
  const handlers: Handlers = { file: (s) => { file = s; } };
  for (const k of sv.keys()) if (k.name.startsWith("secret")) handlers[k.name] = (s) => { secrets.push(s); };
  applyKeys(r, sv, where, handlers, "secret");
  for (const sub of sv.sectionNames()) r.at(sv.child(sub).position, `unknown section '${sub}' in ${where}`);
  if (file === undefined) r.at(sv.position, `${where}: missing file = <name of the key in ${dir}/>`);
  if (!secrets.length) r.at(sv.position, `${where}: missing secret = <passphrase>`);
  if (r.issues.length !== before || file === undefined) return [];
  const position = sv.get("file")!.position;
  return secrets.map((secret) => ({ dir, file: file!, secret, where, position }));
}

const PRIO = "expected a rule priority of 2-32764";

function mapWasmIpsec(r: Report, v: SettingsView): WasmIpsecSettings {
  const out: WasmIpsecSettings = { cryptoBackend: "wasm", maxSas: 1024, tun: { name: "wipsec%d" } };
  // strongswan.conf takes these as floating-point numbers (charon.retransmit_timeout = 4.0).
  const seconds = (set: (n: number) => void, min: number) => (v: string) => {
    const n = /^\d{1,6}(\.\d{1,6})?$/.test(v) ? Number(v) : NaN;
    if (!(n >= min)) throw new ValueError(`expected a decimal number of at least ${min}, like 4.0`);
    set(n);
  };
  applyKeys(r, v, "wasm-ipsec", {
    crypto_backend: choice(Object.fromEntries(BACKEND_NAMES.map((b) => [b, b])), (b: BackendName) => { out.cryptoBackend = b; }),
    auto_threshold: bytes((n) => { out.autoThreshold = n; }),
    workers: uint((n) => {
      if (n < 1 || n > 64) throw new ValueError("expected 1-64 worker pairs");
      out.workers = n;
    }),
    max_sas: uint((n) => {
      if (n < 2 || n > 1 << 20) throw new ValueError(`expected 2-${1 << 20} SAs`);
      out.maxSas = n;
    }),
    keylog: (s) => { out.keylog = s; },
    retransmit_timeout: seconds((n) => { (out.timers ??= {}).retransmitTimeout = n; }, 0.01),
    retransmit_base: seconds((n) => { (out.timers ??= {}).retransmitBase = n; }, 1),
    retransmit_tries: uint((n) => { (out.timers ??= {}).retransmitTries = n; }, 100, "expected 0-100 retransmissions"),
    // 0 and 253-255 are the kernel's unspec, default, main and local tables.
    routing_table: uint((n) => {
      if (n === 0 || (n >= 253 && n <= 255)) throw new ValueError("expected a table number other than 0 and 253-255 (the kernel's)");
      (out.routing ??= {}).table = n;
    }),
    // The rules take prio-1 and prio+1 too; 0 is the local table's rule, 32766 main's.
    routing_table_prio: uint((n) => {
      if (n < 2) throw new ValueError(PRIO);
      (out.routing ??= {}).priority = n;
    }, 32764, PRIO),
    fwmark: uint((n) => {
      if (n === 0) throw new ValueError("expected a non-zero mark (unmarked packets are the ones routed into the TUN)");
      (out.routing ??= {}).fwmark = n;
    }),
  });
  for (const sub of v.sectionNames()) {
    if (sub !== "tun") { r.at(v.child(sub).position, `unknown section '${sub}' in wasm-ipsec${didYouMean(sub, ["tun"])}`); continue; }
    applyKeys(r, v.child(sub), "wasm-ipsec.tun", {
      name: (s) => {
        if (Buffer.byteLength(s) > 15 || !/^[^\s/]+$/.test(s)) throw new ValueError("expected an interface name of at most 15 bytes, without blanks or '/'");
        out.tun.name = s;
      },
      mtu: uint((n) => {
        if (n < 68 || n > 65535) throw new ValueError("expected an MTU of 68-65535 bytes");
        if (n > MAX_INNER_PACKET) throw new UnsupportedError(`packets above ${MAX_INNER_PACKET} bytes (the data plane's packet slots)`);
        out.tun.mtu = n;
      }),
    });
  }
  return out;
}
