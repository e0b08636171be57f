// Shared set-up for data-plane tests: SA pairs with deterministic keys.
import { randomBytes } from "node:crypto";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { SaParams } from "../../src/dataplane/sadb.js";
import type { BackendName } from "../../src/crypto/backend.js";

export const BACKENDS: BackendName[] = ["wasm", "node", "noble", "auto"];

export interface Pair {
  dp: DataPlane; out: number; in: number;
  params: { spi: number; key: Uint8Array; salt: Uint8Array; icv: number; esn: boolean };
}

/** One data plane with an outbound SA and the matching inbound SA (same SPI/key: a loopback). */
export function loopback(backend: BackendName, p: Partial<SaParams> = {}, dp?: DataPlane): Pair {
  dp ??= DataPlane.create({ maxSAs: 64, backend });
  const key = p.key ?? randomBytes(16), salt = p.salt ?? randomBytes(4);
  const spi = p.spi ?? 0x10000 + Math.floor(Math.random() * 0xfff0000);
  const base: SaParams = {
    spi, key, salt, mode: "tunnel", direction: "out", icvLength: 16,
    local: { address: "192.0.2.1" }, remote: { address: "192.0.2.2" }, ...p,
  };
  const out = dp.sadb.install({ ...base, direction: "out" });
  const inb = dp.sadb.install({ ...base, direction: "in", local: base.remote, remote: base.local });
  return { dp, out, in: inb, params: { spi, key, salt, icv: base.icvLength ?? 16, esn: !!base.esn } };
}
