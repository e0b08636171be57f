// Human-readable output in swanctl's layout for --list-sas, --list-conns and --stats.
import type { IkeStatus, ConnStatus } from "./protocol.js";

export function duration(s: number | undefined): string {
  if (s === undefined) return "-";
  const v = Math.max(0, Math.round(s));
  if (v >= 86400) return `${Math.floor(v / 86400)}d ${Math.floor((v % 86400) / 3600)}h`;
  if (v >= 3600) return `${Math.floor(v / 3600)}h ${Math.floor((v % 3600) / 60)}m`;
  if (v >= 60) return `${Math.floor(v / 60)}m ${v % 60}s`;
  return `${v}s`;
}

export function formatSas(sas: IkeStatus[]): string {
  const out: string[] = [];
  for (const s of sas) {
    out.push(`${s.name}: #${s.uniqueId}, ${s.state.toUpperCase()}, IKEv2, ${s.spiI}_i${s.initiator ? "*" : ""} ${s.spiR}_r${s.initiator ? "" : "*"}`);
    out.push(`  local  '${s.localId}' @ ${s.localHost}[${s.localPort}]${s.natLocal ? " [NAT-T]" : ""}`);
    out.push(`  remote '${s.remoteId}' @ ${s.remoteHost}[${s.remotePort}]${s.natRemote ? " [NAT-T]" : ""}`);
    out.push(`  ${s.algorithms}`);
    // swanctl: "established 5s ago, rekeying in 13985s, reauth in 3590s"; half-open SAs show none of it.
    if (s.establishedSecondsAgo !== undefined) {
      out.push(`  established ${duration(s.establishedSecondsAgo)} ago${s.rekeyInSeconds !== undefined ? `, rekeying in ${duration(s.rekeyInSeconds)}` : ""}`
        + `${s.reauthInSeconds !== undefined ? `, reauth in ${duration(s.reauthInSeconds)}` : ""}`); // swanctl has no IKE "expires"
    }
    for (const c of s.children) {
      out.push(`  ${c.name}: #${c.uniqueId}, ${c.state.toUpperCase()}, ${c.mode.toUpperCase()}${c.encap ? "-in-UDP" : ""}, ${c.protocol}:${c.encr}${c.esn ? "/ESN" : ""}${c.dhGroup ? `/${c.dhGroup}` : ""}`);
      out.push(`    installed ${duration(c.installedSecondsAgo)} ago${c.rekeyInSeconds !== undefined ? `, rekeying in ${duration(c.rekeyInSeconds)}` : ""}${c.expiresInSeconds !== undefined ? `, expires in ${duration(c.expiresInSeconds)}` : ""}`);
      out.push(`    in  ${c.spiIn}, ${c.bytesIn.padStart(10)} bytes, ${c.packetsIn.padStart(8)} packets${drops(c.dropsIn)}`);
      out.push(`    out ${c.spiOut}, ${c.bytesOut.padStart(10)} bytes, ${c.packetsOut.padStart(8)} packets${drops(c.dropsOut)}`);
      out.push(`    local  ${c.localTs.join(" ")}`);
      out.push(`    remote ${c.remoteTs.join(" ")}`);
    }
  }
  return out.join("\n") + (out.length ? "\n" : "");
}

function drops(d: Record<string, string>): string {
  const e = Object.entries(d);
  return e.length ? `, dropped ${e.map(([k, v]) => `${k} ${v}`).join(", ")}` : "";
}

export function formatConns(conns: ConnStatus[]): string {
  const out: string[] = [];
  for (const c of conns) {
    out.push(`${c.name}: IKEv2, no reauthentication`);
    out.push(`  local:  ${c.localAddrs.join(", ")}`);
    out.push(`  remote: ${c.remoteAddrs.join(", ")}`);
    for (const [side, a] of [["local", c.local], ["remote", c.remote]] as const) {
      out.push(`  ${side} ${a.auth === "pubkey" ? "public key" : "pre-shared key"} authentication:`, `    id: ${a.id}`);
      for (const cert of a.certs ?? []) out.push(`    certs: ${cert}`);
      for (const ca of a.cacerts ?? []) out.push(`    cacerts: ${ca}`);
    }
    for (const ch of c.children) {
      out.push(`  ${ch.name}: ${ch.mode.toUpperCase()}, start_action ${ch.startAction}`);
      out.push(`    local:  ${ch.localTs.join(" ")}`);
      out.push(`    remote: ${ch.remoteTs.join(" ")}`);
    }
  }
  return out.join("\n") + (out.length ? "\n" : "");
}
