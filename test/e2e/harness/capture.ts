// Packet capture (dumpcap in a namespace) and offline decoding with tshark: an independent dissector checks every
// IKE and ESP packet. Decryption keys are given inline as UAT records (`-o uat:esp_sa:...`,
// `-o uat:ikev2_decryption_table:...`), with the algorithm names Wireshark 4.0 uses.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runAsync, sleep, waitUntil } from "./exec.js";
import { makeRunDir } from "./registry.js";
import type { Netns, NsProcess } from "./netns.js";
import type { ChildSa, IkeSa } from "./sas.js";
import type { ChildKeys, IkeKeys } from "./charon-log.js";

export interface CaptureOptions {
  /** pcap filter; default IKE and NAT-T ports (veths also carry IPv6 link-local noise). */
  filter?: string;
  /** Directory for the file (default: a new run directory). */
  dir?: string;
}

export class Capture {
  private constructor(readonly path: string, private readonly proc: NsProcess) {}

  /** Starts dumpcap on `iface` in `ns` and returns once it is capturing. */
  static async start(ns: Netns, iface: string, opts: CaptureOptions = {}): Promise<Capture> {
    const dir = opts.dir ?? makeRunDir(`cap-${ns.label}`);
    const path = join(dir, `${iface}.pcapng`), out = join(dir, `${iface}.dumpcap.out`);
    const proc = ns.spawn(["dumpcap", "-q", "-i", iface, "-f", opts.filter ?? "udp port 500 or udp port 4500", "-w", path],
      { logFile: out });
    await waitUntil(`dumpcap on ${iface} in ${ns.name}`, 10_000, () => {
      if (proc.exitStatus) throw new Error(`dumpcap exited: ${readFileSync(out, "utf8")}`);
      return existsSync(out) && readFileSync(out, "utf8").includes("Capturing on") ? true : undefined;
    });
    return new Capture(path, proc);
  }

  /**
   * Stops dumpcap and returns the file's path. libpcap hands packets over in blocks retired after dumpcap's
   * 250 ms read timeout and a SIGTERM drops the open block, so wait settleMs after the last packet of interest.
   */
  async stop(settleMs = 600): Promise<string> {
    await sleep(settleMs);
    await this.proc.stop("SIGTERM", 5000);
    return this.path;
  }
}

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;

/** Wireshark ESP algorithm names for strongSwan's (swanctl --list-sas) names. */
export function wiresharkEspAlgorithms(encrAlg: string, integAlg?: string): { encryption: string; authentication: string } {
  const encryption = ({
    AES_GCM_16: "AES-GCM with 16 octet ICV [RFC4106]",
    AES_GCM_12: "AES-GCM with 12 octet ICV [RFC4106]",
    AES_GCM_8: "AES-GCM with 8 octet ICV [RFC4106]",
    AES_CBC: "AES-CBC [RFC3602]",
    AES_CTR: "AES-CTR [RFC3686]",
    NULL: "NULL",
  } as Record<string, string>)[encrAlg];
  const authentication = integAlg === undefined ? "NULL" : ({
    HMAC_SHA1_96: "HMAC-SHA-1-96 [RFC2404]",
    HMAC_SHA2_256_128: "HMAC-SHA-256-128 [RFC4868]",
    HMAC_SHA2_384_192: "HMAC-SHA-384-192 [RFC4868]",
    HMAC_SHA2_512_256: "HMAC-SHA-512-256 [RFC4868]",
  } as Record<string, string>)[integAlg];
  if (!encryption || !authentication) throw new Error(`no Wireshark ESP name for ${encrAlg}/${integAlg}`);
  return { encryption, authentication };
}

/** Wireshark IKEv2 algorithm names for strongSwan's names. */
export function wiresharkIkeAlgorithms(encrAlg: string, keySize: number, integAlg?: string): { encryption: string; integrity: string } {
  const gcm = /^AES_GCM_(8|12|16)$/.exec(encrAlg);
  const encryption = encrAlg === "AES_CBC" ? `AES-CBC-${keySize} [RFC3602]`
    : gcm ? `AES-GCM-${keySize} with ${gcm[1]} octet ICV [RFC5282]` : undefined;
  const integrity = integAlg === undefined ? "NONE [RFC4306]" : ({
    HMAC_SHA1_96: "HMAC_SHA1_96 [RFC2404]",
    HMAC_SHA2_256_128: "HMAC_SHA2_256_128 [RFC4868]",
    HMAC_SHA2_384_192: "HMAC_SHA2_384_192 [RFC4868]",
    HMAC_SHA2_512_256: "HMAC_SHA2_512_256 [RFC4868]",
  } as Record<string, string>)[integAlg];
  if (!encryption || !integrity) throw new Error(`no Wireshark IKEv2 name for ${encrAlg}-${keySize}/${integAlg}`);
  return { encryption, integrity };
}

export interface EspSaEntry {
  src: string;
  dst: string;
  /** Number or hex digits (with or without 0x). */
  spi: number | string;
  /** Wireshark names, see wiresharkEspAlgorithms(). */
  encryption: string;
  authentication: string;
  /** For AES-GCM: key followed by the 4-byte salt. */
  encryptionKey: Uint8Array;
  authenticationKey?: Uint8Array;
}

/** One `esp_sa` UAT record. */
export function espSaLine(e: EspSaEntry): string {
  const spi = typeof e.spi === "number" ? `0x${e.spi.toString(16).padStart(8, "0")}` : `0x${e.spi.replace(/^0x/, "")}`;
  const family = e.src.includes(":") ? "IPv6" : "IPv4";
  const authKey = e.authenticationKey && e.authenticationKey.length > 0 ? hex(e.authenticationKey) : "";
  return [family, e.src, e.dst, spi, e.encryption, hex(e.encryptionKey), e.authentication, authKey]
    .map((f) => `"${f}"`).join(",");
}

export interface IkeDecryptionEntry {
  /** IKE SPIs, 16 hex digits each. */
  initiatorSpi: string;
  responderSpi: string;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  /** Wireshark names, see wiresharkIkeAlgorithms(). */
  encryption: string;
  integrity: string;
}

/** One `ikev2_decryption_table` UAT record (SPIs and keys are unquoted hex there). */
export function ikev2DecryptionLine(e: IkeDecryptionEntry): string {
  const h = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return [e.initiatorSpi, e.responderSpi, h(e.skEi), h(e.skEr), `"${e.encryption}"`, h(e.skAi), h(e.skAr),
    `"${e.integrity}"`].join(",");
}

/** esp_sa records for both directions of a CHILD_SA as one charon sees it (addresses are the outer ones). */
export function espSaLinesFor(ike: IkeSa, child: ChildSa, keys: ChildKeys): string[] {
  const alg = wiresharkEspAlgorithms(child.encrAlg, child.integAlg);
  return [
    espSaLine({ src: ike.localHost, dst: ike.remoteHost, spi: child.spiOut, ...alg, encryptionKey: keys.encrOut,
      authenticationKey: keys.integOut }),
    espSaLine({ src: ike.remoteHost, dst: ike.localHost, spi: child.spiIn, ...alg, encryptionKey: keys.encrIn,
      authenticationKey: keys.integIn }),
  ];
}

/** The ikev2_decryption_table record of an IKE_SA. */
export function ikev2DecryptionLineFor(ike: IkeSa, keys: IkeKeys): string {
  if (!ike.encrAlg || ike.encrKeysize === undefined) throw new Error(`IKE_SA ${ike.name} has no algorithms yet`);
  return ikev2DecryptionLine({ initiatorSpi: ike.initiatorSpi, responderSpi: ike.responderSpi, ...keys,
    ...wiresharkIkeAlgorithms(ike.encrAlg, ike.encrKeysize, ike.integAlg) });
}

export interface DecodeOptions {
  /** esp_sa records (espSaLine); turns on ESP decryption and ICV checking. */
  espSas?: string[];
  /** ikev2_decryption_table records (ikev2DecryptionLine). */
  ikeSas?: string[];
  /** Display filter (-Y). */
  filter?: string;
  /** Fields to return (-e), e.g. "esp.spi", "esp.icv_good". */
  fields: string[];
  /** Further preferences (-o key:value). */
  prefs?: Record<string, string>;
}

/** One object per packet: field name -> values (tshark -T json -e ...); a field absent from a packet is absent. */
export type DecodedPacket = Record<string, string[]>;

let configDir: string | undefined;

/** Decodes a capture with tshark, independent of any user's Wireshark profile. */
export async function decode(path: string, opts: DecodeOptions): Promise<DecodedPacket[]> {
  if (!configDir) {
    configDir = join(makeRunDir("wireshark"), "config");
    mkdirSync(configDir);
  }
  const args = ["tshark", "-n", "-r", path, "-T", "json"];
  const prefs: Record<string, string> = { ...opts.prefs };
  if (opts.espSas?.length) {
    prefs["esp.enable_encryption_decode"] = "TRUE";
    prefs["esp.enable_authentication_check"] = "TRUE";
  }
  for (const [k, v] of Object.entries(prefs)) args.push("-o", `${k}:${v}`);
  for (const l of opts.espSas ?? []) args.push("-o", `uat:esp_sa:${l}`);
  for (const l of opts.ikeSas ?? []) args.push("-o", `uat:ikev2_decryption_table:${l}`);
  if (opts.filter) args.push("-Y", opts.filter);
  for (const f of opts.fields) args.push("-e", f);
  const r = await runAsync(args, { env: { WIRESHARK_CONFIG_DIR: configDir }, timeoutMs: 30_000 });
  const packets = JSON.parse(r.stdout || "[]") as { _source: { layers: DecodedPacket } }[];
  return packets.map((p) => p._source.layers);
}
