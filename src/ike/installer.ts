// Installs negotiated Child SAs into a wasm-ipsec data plane (its SA database in shared memory).
import type { DataPlane } from "../dataplane/dataplane.js";
import type { ChildInstaller, ChildSaSpec, InstalledHandles } from "./child-sa.js";
import type { Endpoint } from "./nat.js";

export class DataPlaneInstaller implements ChildInstaller {
  constructor(private readonly dp: DataPlane) {}

  install(s: ChildSaSpec): InstalledHandles {
    const split = (k: Uint8Array) => ({ key: k.subarray(0, k.length - 4), salt: k.subarray(k.length - 4) });
    const kin = split(s.keysIn.encryptionKey), kout = split(s.keysOut.encryptionKey);
    const common = { mode: s.mode, esn: s.esn, icvLength: s.encr.icvLength, udpEncap: s.udpEncap } as const;
    const lt = s.lifetime;
    // Inbound first: the peer may start sending as soon as it has its own outbound SA.
    const hin = this.dp.sadb.install({
      ...common, direction: "in", spi: s.spiIn, key: kin.key, salt: kin.salt, replayWindow: s.replayWindow,
      localTs: s.localTs, remoteTs: s.remoteTs, local: s.local, remote: s.remote,
      lifetime: { hardBytes: lt.hardBytes, hardPackets: lt.hardPackets },
    });
    try {
      const hout = this.dp.sadb.install({
        ...common, direction: "out", spi: s.spiOut, key: kout.key, salt: kout.salt,
        local: s.local, remote: s.remote, lifetime: lt,
      });
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
