// Installs negotiated Child SAs, ESP or AH, into a wasm-ipsec data plane (its SA database in shared memory).
import type { DataPlane } from "../dataplane/dataplane.js";
import type { SaParams } from "../dataplane/sadb.js";
import type { ChildInstaller, ChildSaSpec, InstalledHandles } from "./child-sa.js";
import type { Endpoint } from "./nat.js";

export class DataPlaneInstaller implements ChildInstaller {
  constructor(private readonly dp: DataPlane) {}

  install(s: ChildSaSpec): InstalledHandles {
    const split = (k: Uint8Array) => ({ key: k.subarray(0, k.length - 4), salt: k.subarray(k.length - 4) });
    // ESP: the AES-GCM key and salt; AH: the integrity transform and its key (GMAC's salt included).
    const keys = (k: ChildSaSpec["keysIn"]): Partial<SaParams> => (s.protocol === "ah"
      ? { protocol: "ah", integrity: s.integ.name, integrityKey: k.integrityKey }
      : { protocol: "esp", icvLength: s.encr.icvLength, udpEncap: s.udpEncap, ...split(k.encryptionKey) });
    const common = { mode: s.mode, esn: s.esn, local: s.local, remote: s.remote } as const;
    const lt = s.lifetime;
    // Inbound first: the peer may start sending as soon as it has its own outbound SA.
    const hin = this.dp.sadb.install({
      ...common, ...keys(s.keysIn), direction: "in", spi: s.spiIn, replayWindow: s.replayWindow,
      localTs: s.localTs, remoteTs: s.remoteTs, lifetime: { hardBytes: lt.hardBytes, hardPackets: lt.hardPackets },
    });
    try {
      const hout = this.dp.sadb.install({ ...common, ...keys(s.keysOut), direction: "out", spi: s.spiOut, lifetime: lt });
      return { in: hin, out: hout };
    } catch (e) {
      this.dp.sadb.delete(hin);
      throw e;
    }
  }

  uninstall(h: InstalledHandles): void {
    this.dp.sadb.delete(h.out);
    this.dp.sadb.delete(h.in);
  }

  updateRemote(h: InstalledHandles, remote: Endpoint): void {
    this.dp.sadb.update(h.out, { remote });
    this.dp.sadb.update(h.in, { remote });
  }

  softExpired(h: InstalledHandles): boolean {
    const o = this.dp.sadb.stats(h.out);
    return o.softExpired || o.hardExpired;
  }

  usage(h: InstalledHandles) {
    const i = this.dp.sadb.stats(h.in), o = this.dp.sadb.stats(h.out);
    return { bytesIn: i.bytes, bytesOut: o.bytes, packetsIn: i.packets, packetsOut: o.packets };
  }
}
