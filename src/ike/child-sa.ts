// A negotiated Child SA and the interface through which it is installed into a data plane.
import type { ChildConfig } from "./config.js";
import type { TrafficSelector } from "../dataplane/selectors.js";
import type { Endpoint } from "./nat.js";
import type { AhInteg } from "./crypto/transforms.js";
import { TransformType, transformIdName } from "./wire/index.js";

/** "rekeying": our rekey of it is on the wire; "rekeyed": replaced by a rekey, or the redundant SA of a rekey
 *  collision (RFC 7296 §2.8.1), until the peer's DELETE; "deleting": our DELETE is on the wire. */
export type ChildState = "installing" | "installed" | "rekeying" | "rekeyed" | "deleting" | "deleted";

export interface ChildKeys {
  encryptionKey: Uint8Array; // ESP: AES key ‖ 4-byte salt (AES-GCM); AH: empty
  integrityKey: Uint8Array;  // ESP: empty (AEAD); AH: HMAC key, or AES-GMAC key ‖ 4-byte salt (RFC 4543 §7)
}

/** Everything the data plane needs for one Child SA (both directions): an ESP SA with its AES-GCM cipher,
 *  or an AH SA (RFC 4302) with its integrity transform. */
export type ChildSaSpec = EspChildSaSpec | AhChildSaSpec;

export interface EspChildSaSpec extends ChildSaCommon {
  protocol: "esp";
  encr: { id: number; keyBits: number; icvLength: 8 | 12 | 16 };
}

export interface AhChildSaSpec extends ChildSaCommon {
  protocol: "ah";
  /** Transform Type 3 ID and the data plane's name for it (sadb.ts Integrity). */
  integ: { id: number; name: AhInteg["name"] };
  udpEncap: false; // AH cannot traverse a NAT: the engine refuses AH when one is detected
}

interface ChildSaCommon {
  name: string;
  mode: "tunnel" | "transport";
  esn: boolean;
  dhGroup?: number;      // PFS group of the exchange that created it (none for IKE_AUTH's child)
  spiIn: number;
  spiOut: number;
  keysIn: ChildKeys;
  keysOut: ChildKeys;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  local: Endpoint;
  remote: Endpoint;
  udpEncap: boolean;
  replayWindow: number;
  lifetime: { softBytes?: number; hardBytes?: number; softPackets?: number; hardPackets?: number };
}

/** The algorithm as swanctl --list-sas shows it after the protocol: "AES_GCM_16-128" (ESP), "HMAC_SHA2_256_128" (AH). */
export function childAlgorithm(spec: ChildSaSpec): string {
  return spec.protocol === "ah"
    ? transformIdName(TransformType.INTEG, spec.integ.id).replace(/^AUTH_/, "")
    : `AES_GCM_${spec.encr.icvLength}-${spec.encr.keyBits}`;
}

export interface InstalledHandles { in: number; out: number }

/** The data plane as the IKE engine sees it: inbound is installed before outbound, and the old SA of
 *  a rekey is removed only after its replacement is in place (the engine orders the calls). */
export interface ChildInstaller {
  install(spec: ChildSaSpec): InstalledHandles;
  /** Remove both directions; keys are zeroed by the data plane. */
  uninstall(handles: InstalledHandles): void;
  /** Update the peer's address/port after NAT-T port floating or MOBIKE. */
  updateRemote?(handles: InstalledHandles, remote: Endpoint): void;
  /** True once the data plane counted past the SA's soft byte/packet limit (time to rekey). */
  softExpired?(handles: InstalledHandles): boolean;
  /** Traffic counters, for status and DPD (the time of the last inbound packet). */
  usage?(handles: InstalledHandles): { bytesIn: bigint; bytesOut: bigint; packetsIn: bigint; packetsOut: bigint };
}

export class ChildSa {
  state: ChildState = "installing";
  handles?: InstalledHandles;
  installedAt = 0;
  rekeyAt = 0;
  expireAt = 0;
  rekeyTimer?: { cancel(): void };
  expireTimer?: { cancel(): void };
  /** The Child SA the peer rekeyed into this one (we answered): the peer installs its new inbound SA only when
   *  our response arrives, so outbound traffic stays on the old SA until the peer deletes it (strongSwan's
   *  child_delete.c install_outbound()). The data plane's SPD follows this. */
  replaces?: ChildSa;

  constructor(readonly uniqueId: number, readonly config: ChildConfig, readonly spec: ChildSaSpec,
              readonly initiatedByUs: boolean) {}

  get name(): string { return this.config.name; }
  get spiIn(): number { return this.spec.spiIn; }
  get spiOut(): number { return this.spec.spiOut; }
}
