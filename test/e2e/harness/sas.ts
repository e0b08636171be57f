// Parses `swanctl --list-sas --pretty` into objects. --pretty rather than --raw: both print the same vici messages,
// but --raw puts values unquoted on one line, so a value with a space (a DN identity) cannot be told from the next
// key; --pretty puts every value on its own line.

export type ViciValue = string | string[] | ViciSection;
export interface ViciSection { [key: string]: ViciValue }

/** Parses the pretty dump of a stream of vici messages: `label {` ... `}` each. */
export function parseViciPretty(text: string): { label: string; body: ViciSection }[] {
  const messages: { label: string; body: ViciSection }[] = [];
  const stack: ViciSection[] = [];
  let list: string[] | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (list) {
      if (line === "]") list = undefined;
      else list.push(line);
      continue;
    }
    const top = stack[stack.length - 1];
    const kv = /^([^\s=]+) = (.*)$/.exec(line);
    if (kv && top && kv[2] === "[") {
      list = [];
      top[kv[1]] = list;
    } else if (kv && top) {
      top[kv[1]] = kv[2];
    } else if (line.endsWith(" {")) {
      const section: ViciSection = {};
      if (top) top[line.slice(0, -2)] = section;
      else messages.push({ label: line.slice(0, -2), body: section });
      stack.push(section);
    } else if (line === "}" && top) {
      stack.pop();
    } else {
      throw new Error(`unexpected vici output line: ${raw}`);
    }
  }
  if (stack.length !== 0 || list) throw new Error("truncated vici output");
  return messages;
}

export interface ChildSa {
  /** The key in child-sas, e.g. "child-3". */
  key: string;
  name: string;
  uniqueId: number;
  reqid: number;
  state: string;
  mode: string;
  protocol: string;
  encap: boolean;
  /** SPIs as 8 hex digits, as swanctl prints them. */
  spiIn: string;
  spiOut: string;
  encrAlg: string;
  encrKeysize?: number;
  integAlg?: string;
  dhGroup?: string;
  esn: boolean;
  bytesIn: number;
  packetsIn: number;
  bytesOut: number;
  packetsOut: number;
  localTs: string[];
  remoteTs: string[];
  raw: ViciSection;
}

export interface IkeSa {
  name: string;
  uniqueId: number;
  state: string;
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  localId: string;
  remoteId: string;
  initiator: boolean;
  /** IKE SPIs as 16 hex digits. */
  initiatorSpi: string;
  responderSpi: string;
  encrAlg?: string;
  encrKeysize?: number;
  integAlg?: string;
  prfAlg?: string;
  dhGroup?: string;
  children: ChildSa[];
  raw: ViciSection;
}

function str(s: ViciSection, k: string): string {
  const v = s[k];
  if (typeof v !== "string") throw new Error(`vici: missing ${k} in ${JSON.stringify(s)}`);
  return v;
}
const optStr = (s: ViciSection, k: string) => (typeof s[k] === "string" ? (s[k] as string) : undefined);
const num = (s: ViciSection, k: string) => Number(str(s, k));
const optNum = (s: ViciSection, k: string) => (typeof s[k] === "string" ? Number(s[k]) : undefined);
const counter = (s: ViciSection, k: string) => Number(optStr(s, k) ?? 0);
const strList = (s: ViciSection, k: string) => (Array.isArray(s[k]) ? (s[k] as string[]) : []);
const section = (s: ViciSection, k: string) =>
  (typeof s[k] === "object" && !Array.isArray(s[k]) ? (s[k] as ViciSection) : {});

function toChild(key: string, c: ViciSection): ChildSa {
  return {
    key,
    name: str(c, "name"),
    uniqueId: num(c, "uniqueid"),
    reqid: num(c, "reqid"),
    state: str(c, "state"),
    mode: str(c, "mode"),
    protocol: str(c, "protocol"),
    encap: optStr(c, "encap") === "yes",
    spiIn: str(c, "spi-in"),
    spiOut: str(c, "spi-out"),
    encrAlg: str(c, "encr-alg"),
    encrKeysize: optNum(c, "encr-keysize"),
    integAlg: optStr(c, "integ-alg"),
    dhGroup: optStr(c, "dh-group"),
    esn: optStr(c, "esn") === "1",
    bytesIn: counter(c, "bytes-in"),
    packetsIn: counter(c, "packets-in"),
    bytesOut: counter(c, "bytes-out"),
    packetsOut: counter(c, "packets-out"),
    localTs: strList(c, "local-ts"),
    remoteTs: strList(c, "remote-ts"),
    raw: c,
  };
}

/** The IKE_SAs (with their CHILD_SAs) in the output of `swanctl --list-sas --pretty`. */
export function parseListSas(text: string): IkeSa[] {
  const out: IkeSa[] = [];
  for (const m of parseViciPretty(text)) {
    if (m.label !== "list-sa event") continue;
    for (const [name, v] of Object.entries(m.body)) {
      if (typeof v !== "object" || Array.isArray(v)) continue;
      const children = Object.entries(section(v, "child-sas"))
        .filter((e): e is [string, ViciSection] => typeof e[1] === "object" && !Array.isArray(e[1]))
        .map(([k, c]) => toChild(k, c));
      out.push({
        name,
        uniqueId: num(v, "uniqueid"),
        state: str(v, "state"),
        localHost: str(v, "local-host"),
        localPort: num(v, "local-port"),
        remoteHost: str(v, "remote-host"),
        remotePort: num(v, "remote-port"),
        localId: str(v, "local-id"),
        remoteId: str(v, "remote-id"),
        initiator: optStr(v, "initiator") === "yes",
        initiatorSpi: str(v, "initiator-spi"),
        responderSpi: str(v, "responder-spi"),
        encrAlg: optStr(v, "encr-alg"),
        encrKeysize: optNum(v, "encr-keysize"),
        integAlg: optStr(v, "integ-alg"),
        prfAlg: optStr(v, "prf-alg"),
        dhGroup: optStr(v, "dh-group"),
        children,
        raw: v,
      });
    }
  }
  return out;
}
