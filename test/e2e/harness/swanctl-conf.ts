// A small object model for strongSwan's settings syntax (swanctl.conf, strongswan.conf): nested sections of
// key = value, rendered with every string quoted so that values need no escaping rules of their own.

export type ConfValue = string | number | boolean | readonly string[] | ConfSection;
export interface ConfSection { [key: string]: ConfValue | undefined }

function quote(s: string): string {
  if (/[\n\r]/.test(s)) throw new Error(`settings value must be a single line: ${JSON.stringify(s)}`);
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function isSection(v: ConfValue): v is ConfSection {
  return typeof v === "object" && !Array.isArray(v);
}

export function renderConf(section: ConfSection, indent = ""): string {
  let out = "";
  for (const [key, value] of Object.entries(section)) {
    if (value === undefined) continue;
    if (!/^[A-Za-z0-9_.\-]+$/.test(key)) throw new Error(`bad settings key: ${key}`);
    if (isSection(value)) {
      out += `${indent}${key} {\n${renderConf(value, indent + "  ")}${indent}}\n`;
    } else if (Array.isArray(value)) {
      out += `${indent}${key} = ${quote(value.join(","))}\n`;
    } else if (typeof value === "boolean") {
      out += `${indent}${key} = ${value ? "yes" : "no"}\n`;
    } else {
      out += `${indent}${key} = ${typeof value === "number" ? String(value) : quote(value as string)}\n`;
    }
  }
  return out;
}

/** Merges `extra` over `base`, section by section (extra wins for plain values). */
export function mergeConf(base: ConfSection, extra: ConfSection | undefined): ConfSection {
  const out: ConfSection = { ...base };
  for (const [k, v] of Object.entries(extra ?? {})) {
    const b = out[k];
    out[k] = v !== undefined && b !== undefined && isSection(b) && isSection(v) ? mergeConf(b, v) : v;
  }
  return out;
}

export interface PskTunnelSpec {
  /** Connection name (default "tunnel") and CHILD_SA name (default "child"). */
  name?: string;
  childName?: string;
  localAddr: string;
  remoteAddr: string;
  localId: string;
  remoteId: string;
  /** Text, or raw bytes (written as 0x hex). */
  psk: string | Uint8Array;
  localTs: string | string[];
  remoteTs: string | string[];
  /** IKE proposal, default aes128-sha256-x25519. */
  ikeProposals?: string;
  /** ESP proposal, default aes128gcm16 (no ESN: kernel-libipsec refuses it). */
  espProposals?: string;
  /** Extra keys merged into connections.<name> (e.g. `{ mobike: true }`, off by default) and into its child. */
  conn?: ConfSection;
  child?: ConfSection;
}

/** A swanctl.conf for one PSK-authenticated IKEv2 tunnel-mode connection with one CHILD_SA. */
export function pskTunnel(s: PskTunnelSpec): ConfSection {
  const name = s.name ?? "tunnel", childName = s.childName ?? "child";
  const list = (v: string | string[]) => (typeof v === "string" ? [v] : v);
  const child = mergeConf({
    local_ts: list(s.localTs),
    remote_ts: list(s.remoteTs),
    esp_proposals: s.espProposals ?? "aes128gcm16",
    mode: "tunnel",
  }, s.child);
  const conn = mergeConf({
    version: 2,
    local_addrs: s.localAddr,
    remote_addrs: s.remoteAddr,
    proposals: s.ikeProposals ?? "aes128-sha256-x25519",
    // MOBIKE would send INFORMATIONAL address updates whenever an address appears in the namespace.
    mobike: false,
    local: { auth: "psk", id: s.localId },
    remote: { auth: "psk", id: s.remoteId },
    children: { [childName]: child },
  }, s.conn);
  const secret = typeof s.psk === "string" ? s.psk : `0x${Buffer.from(s.psk).toString("hex")}`;
  return {
    connections: { [name]: conn },
    secrets: { [`ike-${name}`]: { "id-local": s.localId, "id-remote": s.remoteId, secret } },
  };
}
