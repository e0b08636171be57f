// The control protocol between `wasm-ipsec` commands and the daemon (our VICI): one JSON object per
// line over a Unix socket. A request gets zero or more {"log": …} lines (progress, as swanctl shows
// charon's log while initiating) and then exactly one {"ok": true, "result": …} or {"ok": false, "error": …}.

export const DEFAULT_SOCKET = "/run/wasm-ipsec.sock";

export type Command =
  | { cmd: "initiate"; child?: string; ike?: string; timeout?: number }
  | { cmd: "terminate"; child?: string; ike?: string; timeout?: number }
  | { cmd: "rekey"; child?: string; ike?: string }
  | { cmd: "load-all" }
  | { cmd: "list-conns" }
  | { cmd: "list-sas"; ike?: string }
  | { cmd: "stats" };

export const COMMANDS = ["initiate", "terminate", "rekey", "load-all", "list-conns", "list-sas", "stats"] as const;

export interface ChildStatus {
  name: string; uniqueId: number; state: string; mode: string; protocol: "ESP" | "AH"; encap: boolean;
  encr: string; // the algorithm: ESP's cipher, AH's integrity transform
  esn: boolean; dhGroup?: string;
  spiIn: string; spiOut: string;
  bytesIn: string; packetsIn: string; bytesOut: string; packetsOut: string;
  dropsIn: Record<string, string>; dropsOut: Record<string, string>;
  localTs: string[]; remoteTs: string[];
  installedSecondsAgo: number; rekeyInSeconds?: number; expiresInSeconds?: number;
}

export interface IkeStatus {
  name: string; uniqueId: number; state: string; version: 2; initiator: boolean;
  spiI: string; spiR: string;
  localHost: string; localPort: number; localId: string;
  remoteHost: string; remotePort: number; remoteId: string;
  natLocal: boolean; natRemote: boolean;
  algorithms: string;
  establishedSecondsAgo?: number; rekeyInSeconds?: number; reauthInSeconds?: number; expiresInSeconds?: number;
  children: ChildStatus[];
}

/** An authentication round; certs: subjects of our certificate and its intermediates, or the peer's pinned one;
 *  cacerts: the trust anchors a connection restricts the peer to. */
export interface AuthStatus { auth: string; id: string; certs?: string[]; cacerts?: string[] }

export interface ConnStatus {
  name: string; localAddrs: string[]; remoteAddrs: string[]; proposals: string[];
  local: AuthStatus; remote: AuthStatus;
  children: { name: string; mode: string; localTs: string[]; remoteTs: string[]; espProposals: string[]; ahProposals: string[]; startAction: string }[];
}

export type Response =
  | { log: string }
  | { ok: true; result: unknown }
  | { ok: false; error: string };

/** Split a byte stream into JSON lines; malformed lines are reported, never thrown. */
export class LineReader {
  private buf = "";
  constructor(private readonly onLine: (v: unknown) => void, private readonly onError: (msg: string) => void,
              private readonly maxLine = 1 << 20) {}
  push(chunk: string): void {
    this.buf += chunk;
    if (this.buf.length > this.maxLine && !this.buf.includes("\n")) {
      this.buf = "";
      this.onError(`control message longer than ${this.maxLine} bytes`);
      return;
    }
    let i: number;
    while ((i = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (!line) continue;
      try { this.onLine(JSON.parse(line)); } catch { this.onError(`not JSON: ${line.slice(0, 80)}`); }
    }
  }
}

/** Validate an untrusted request object into a Command, or explain what is wrong. */
export function parseCommand(v: unknown): Command | string {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "request must be a JSON object";
  const o = v as Record<string, unknown>;
  if (typeof o.cmd !== "string" || !(COMMANDS as readonly string[]).includes(o.cmd)) {
    return `unknown command ${JSON.stringify(o.cmd)}; expected one of ${COMMANDS.join(", ")}`;
  }
  for (const k of ["child", "ike"]) if (o[k] !== undefined && typeof o[k] !== "string") return `${k} must be a string`;
  if (o.timeout !== undefined && (typeof o.timeout !== "number" || !(o.timeout >= 0) || o.timeout > 3600)) return "timeout must be 0..3600 seconds";
  if ((o.cmd === "initiate" || o.cmd === "terminate" || o.cmd === "rekey") && o.child === undefined && o.ike === undefined) {
    return `${o.cmd} needs --child NAME or --ike NAME`;
  }
  return o as Command;
}
