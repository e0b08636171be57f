// Typed API over the SA database in shared memory: install, update, delete and read SAs. Field
// offsets come from the WASM module (layout.ts); the data plane expands keys and publishes SPIs.
// ESP SAs carry an AES-GCM key; AH SAs (RFC 4302) an integrity key for HMAC-SHA2 or AES-GMAC.
import type { Layout, DropReason } from "./layout.js";
import { DROP_REASONS, writeSelector } from "./layout.js";
import type { SharedViews } from "./memory.js";
import type { RawExports } from "./wasm.js";
import { parseAddress, type TrafficSelector } from "./selectors.js";

export type Direction = "in" | "out";
export type Mode = "tunnel" | "transport";
export type Protocol = "esp" | "ah";
/** AH integrity transforms: HMAC-SHA2-256-128 / -384-192 / -512-256 (RFC 4868), AES-GMAC (RFC 4543). */
export type Integrity = "sha256" | "sha384" | "sha512" | "aes128gmac" | "aes256gmac";

export interface Endpoint { address: string; port?: number }

export interface Lifetime {
  softPackets?: bigint | number; softBytes?: bigint | number;
  hardPackets?: bigint | number; hardBytes?: bigint | number;
}

export interface SaParams {
  spi: number;                 // 32-bit SPI as on the wire, 256..2^32-1 (unique across ESP and AH)
  direction: Direction;
  mode: Mode;
  protocol?: Protocol;         // default "esp"
  key?: Uint8Array;            // ESP: AES key, 16, 24 or 32 bytes (required)
  salt?: Uint8Array;           // ESP: RFC 4106 salt, 4 bytes (required)
  icvLength?: 8 | 12 | 16;     // ESP: default 16 (aes*gcm16); AH's follows from the integrity transform
  integrity?: Integrity;       // AH: default "sha256"
  integrityKey?: Uint8Array;   // AH (required): HMAC key as long as the digest (32/48/64, RFC 4868 §2.1.2);
                               // GMAC: AES key ‖ 4-byte salt (20 or 36 bytes, RFC 4543 §7)
  esn?: boolean;               // 64-bit extended sequence numbers
  replayWindow?: number;       // inbound only; 0 disables; default 32 (strongSwan's default)
  udpEncap?: boolean;          // ESP-in-UDP (RFC 3948); informational for the I/O layer; not for AH
  lifetime?: Lifetime;
  localTs?: TrafficSelector[]; // inbound policy check: inner destination
  remoteTs?: TrafficSelector[];// inbound policy check: inner source
  local?: Endpoint;            // outer addresses (ESP transport-mode header rebuild, AH tunnel-mode outer
  remote?: Endpoint;           // header, I/O layer)
}

export interface SaStats {
  handle: number; spi: number; protocol: Protocol; direction: Direction; mode: Mode; esn: boolean;
  packets: bigint; bytes: bigint; seqOut: bigint;
  drops: Partial<Record<DropReason, bigint>>;
  softExpired: boolean; hardExpired: boolean; seqExhausted: boolean;
}

export class SaError extends Error {
  constructor(message: string) { super(message); this.name = "SaError"; }
}

const ACTIVATE_ERRORS: Record<number, string> = {
  [-1]: "handle out of range", [-2]: "SA handle already active", [-3]: "key length wrong for the algorithm",
  [-4]: "ICV length wrong for the algorithm", [-5]: "replay window out of range",
  [-6]: "SPI reserved (< 256) or already used by another inbound SA", [-7]: "SPI hash table full",
  [-8]: "unknown integrity transform", [-9]: "an outbound AH tunnel needs local and remote endpoints",
};

/** AH integrity transforms: data-plane id, ICV bytes, integrity key bytes (GMAC: AES key ‖ salt). */
const INTEGRITY: Record<Integrity, { id: "INTEG_HMAC_SHA256" | "INTEG_HMAC_SHA384" | "INTEG_HMAC_SHA512" | "INTEG_AES_GMAC";
                                    icv: number; keyLength: number; gmac: boolean }> = {
  sha256: { id: "INTEG_HMAC_SHA256", icv: 16, keyLength: 32, gmac: false },
  sha384: { id: "INTEG_HMAC_SHA384", icv: 24, keyLength: 48, gmac: false },
  sha512: { id: "INTEG_HMAC_SHA512", icv: 32, keyLength: 64, gmac: false },
  aes128gmac: { id: "INTEG_AES_GMAC", icv: 16, keyLength: 20, gmac: true },
  aes256gmac: { id: "INTEG_AES_GMAC", icv: 16, keyLength: 36, gmac: true },
};

export class SaDatabase {
  private free: number[] = [];
  private active = new Set<number>();

  constructor(private readonly ex: RawExports, private readonly L: Layout, private readonly v: SharedViews,
              readonly capacity: number) {
    for (let h = capacity - 1; h >= 0; h--) this.free.push(h);
  }

  get size(): number { return this.active.size; }
  get maxReplayWindow(): number { return this.L.REPLAY_MAX_WINDOW; }

  /** Byte address of a record. */
  ptr(handle: number): number {
    if (!Number.isInteger(handle) || handle < 0 || handle >= this.capacity) throw new SaError(`bad SA handle ${handle}`);
    return this.ex.saAddress(handle) as number;
  }

  install(p: SaParams): number {
    const L = this.L;
    validate(p, L);
    const handle = this.free.pop();
    if (handle === undefined) throw new SaError(`SA database full (${this.capacity} SAs)`);
    const sa = this.ptr(handle);
    const { dv, u8 } = this.v.refresh();
    try {
      const out = p.direction === "out";
      let flags = 0;
      if (out) flags |= L.SAF_OUTBOUND;
      if (p.mode === "tunnel") flags |= L.SAF_TUNNEL;
      if (p.esn) flags |= L.SAF_ESN;
      if (p.udpEncap) flags |= L.SAF_UDP_ENCAP;
      if (p.protocol === "ah") {
        flags |= L.SAF_AH;
        const t = INTEGRITY[p.integrity ?? "sha256"];
        const ik = p.integrityKey!;
        dv.setUint32(sa + L.SA_INTEG, L[t.id], true);
        dv.setUint32(sa + L.SA_ICV_LEN, t.icv, true);
        if (t.gmac) {
          dv.setUint32(sa + L.SA_KEY_LEN, ik.length - 4, true);
          u8.set(ik.subarray(0, ik.length - 4), sa + L.SA_KEY);
          u8.set(ik.subarray(ik.length - 4), sa + L.SA_SALT);
        } else {
          dv.setUint32(sa + L.SA_KEY_LEN, ik.length, true);
          u8.set(ik, sa + L.SA_AUTH_KEY); // activation turns it into the HMAC states and wipes it
        }
      } else {
        dv.setUint32(sa + L.SA_KEY_LEN, p.key!.length, true);
        dv.setUint32(sa + L.SA_ICV_LEN, p.icvLength ?? 16, true);
        u8.set(p.salt!, sa + L.SA_SALT);
        u8.set(p.key!, sa + L.SA_KEY);
      }
      dv.setUint32(sa + L.SA_SPI, p.spi >>> 0, true);
      dv.setUint32(sa + L.SA_FLAGS, flags, true);
      dv.setUint32(sa + L.SA_REPLAY_WINDOW, out ? 0 : (p.replayWindow ?? 32), true);
      this.writeLifetime(sa, p.lifetime ?? {});
      this.writeSelectors(sa, p.localTs ?? [], p.remoteTs ?? []);
      this.writeEndpoints(sa, p.local, p.remote);
      const rc = this.ex.saActivate(handle) as number;
      if (rc !== 0) throw new SaError(`cannot install SA 0x${(p.spi >>> 0).toString(16)}: ${ACTIVATE_ERRORS[rc] ?? rc}`);
    } catch (e) {
      this.ex.saDelete(handle); // wipes whatever was written, key included
      this.free.push(handle);
      throw e;
    }
    this.active.add(handle);
    return handle;
  }

  /** Change lifetimes, selectors or endpoints of a live SA (e.g. after a peer's address floated). */
  update(handle: number, p: Pick<SaParams, "lifetime" | "localTs" | "remoteTs" | "local" | "remote">): void {
    const sa = this.live(handle);
    if (p.lifetime) this.writeLifetime(sa, p.lifetime);
    if (p.localTs || p.remoteTs) {
      if (!p.localTs || !p.remoteTs) throw new SaError("update selectors as a pair (localTs and remoteTs)");
      this.writeSelectors(sa, p.localTs, p.remoteTs);
    }
    if (p.local || p.remote) this.writeEndpoints(sa, p.local, p.remote);
  }

  /** Delete an SA: the data plane unpublishes the SPI and zeroes the record, keys included. */
  delete(handle: number): void {
    this.live(handle);
    this.ex.saDelete(handle);
    this.active.delete(handle);
    this.free.push(handle);
  }

  /** Handle of the inbound SA with this SPI, or -1. */
  lookup(spi: number): number { return this.ex.saLookup(spi >>> 0) as number; }

  /** Set the outbound sequence counter (the last number sent), e.g. to resume an SA's state. */
  setOutboundSeq(handle: number, lastSent: bigint): void {
    const sa = this.live(handle);
    Atomics.store(this.v.refresh().big, (sa + this.L.SA_SEQ_OUT) / 8, BigInt.asUintN(64, lastSent));
  }

  /** Clear the soft-expiry flag after the control plane started a rekey (hard stays). */
  clearSoftExpired(handle: number): void {
    const sa = this.live(handle);
    Atomics.and(this.v.refresh().u32, (sa + this.L.SA_EXPIRE) >> 2, ~this.L.EXP_SOFT);
  }

  stats(handle: number): SaStats {
    const sa = this.live(handle);
    const L = this.L;
    const { dv, big } = this.v.refresh();
    const flags = dv.getUint32(sa + L.SA_FLAGS, true);
    const exp = Atomics.load(this.v.u32, (sa + L.SA_EXPIRE) >> 2);
    return {
      handle, spi: dv.getUint32(sa + L.SA_SPI, true),
      protocol: flags & L.SAF_AH ? "ah" : "esp",
      direction: flags & L.SAF_OUTBOUND ? "out" : "in",
      mode: flags & L.SAF_TUNNEL ? "tunnel" : "transport",
      esn: (flags & L.SAF_ESN) !== 0,
      packets: Atomics.load(big, (sa + L.SA_PACKETS) / 8),
      bytes: Atomics.load(big, (sa + L.SA_BYTES) / 8),
      seqOut: Atomics.load(big, (sa + L.SA_SEQ_OUT) / 8),
      drops: readDrops(big, sa + L.SA_DROPS),
      softExpired: (exp & L.EXP_SOFT) !== 0, hardExpired: (exp & L.EXP_HARD) !== 0,
      seqExhausted: (exp & L.EXP_SEQ) !== 0,
    };
  }

  /** Handles whose soft lifetime was reached: the control plane polls this to start a rekey. */
  softExpired(): number[] {
    const u32 = this.v.refresh().u32;
    const out: number[] = [];
    for (const h of this.active) {
      if (Atomics.load(u32, (this.ptr(h) + this.L.SA_EXPIRE) >> 2) & (this.L.EXP_SOFT | this.L.EXP_HARD)) out.push(h);
    }
    return out;
  }

  /** Drops that could not be attributed to an SA (unknown SPI, bad handle, runt packets). */
  globalDrops(): Partial<Record<DropReason, bigint>> {
    return readDrops(this.v.refresh().big, this.ex.layoutBase() + this.L.HDR_DROPS);
  }

  handles(): number[] { return [...this.active]; }

  private live(handle: number): number {
    if (!this.active.has(handle)) throw new SaError(`no active SA with handle ${handle}`);
    return this.ptr(handle);
  }

  private writeLifetime(sa: number, lt: Lifetime): void {
    const { dv } = this.v.refresh();
    const L = this.L;
    dv.setBigUint64(sa + L.SA_SOFT_PACKETS, BigInt(lt.softPackets ?? 0), true);
    dv.setBigUint64(sa + L.SA_SOFT_BYTES, BigInt(lt.softBytes ?? 0), true);
    dv.setBigUint64(sa + L.SA_HARD_PACKETS, BigInt(lt.hardPackets ?? 0), true);
    dv.setBigUint64(sa + L.SA_HARD_BYTES, BigInt(lt.hardBytes ?? 0), true);
  }

  private writeSelectors(sa: number, local: TrafficSelector[], remote: TrafficSelector[]): void {
    const L = this.L;
    if (local.length > L.TS_MAX || remote.length > L.TS_MAX) {
      throw new SaError(`at most ${L.TS_MAX} traffic selectors per side`);
    }
    const { dv, u8 } = this.v.refresh();
    const write = (base: number, list: TrafficSelector[]) => {
      list.forEach((ts, i) => {
        const p = base + i * L.TS_SIZE;
        const lo = parseAddress(ts.start), hi = parseAddress(ts.end);
        if (lo.version !== hi.version) throw new SaError(`selector ${ts.start}-${ts.end} mixes IPv4 and IPv6`);
        writeSelector(L, u8, dv, p, ts);
      });
    };
    write(sa + L.SA_TS, local);
    write(sa + L.SA_TS + L.TS_MAX * L.TS_SIZE, remote);
    dv.setUint32(sa + L.SA_TS_COUNT, local.length | (remote.length << 16), true);
  }

  private writeEndpoints(sa: number, local?: Endpoint, remote?: Endpoint): void {
    const L = this.L;
    const { dv, u8 } = this.v.refresh();
    for (const [ep, addrOff, portOff] of [[local, L.SA_LOCAL_ADDR, L.SA_LOCAL_PORT], [remote, L.SA_REMOTE_ADDR, L.SA_REMOTE_PORT]] as const) {
      if (!ep) continue;
      const a = parseAddress(ep.address);
      u8.fill(0, sa + addrOff, sa + addrOff + 16);
      u8.set(a.bytes, sa + addrOff);
      dv.setUint32(sa + L.SA_AF, a.version, true);
      dv.setUint16(sa + portOff, ep.port ?? 4500, true);
    }
  }
}

function readDrops(big: BigUint64Array, off: number): Partial<Record<DropReason, bigint>> {
  const out: Partial<Record<DropReason, bigint>> = {};
  for (let i = 1; i < DROP_REASONS.length; i++) {
    const v = Atomics.load(big, off / 8 + i);
    if (v !== 0n) out[DROP_REASONS[i] as DropReason] = v;
  }
  return out;
}

function validate(p: SaParams, L: Layout): void {
  const spiHex = Number.isInteger(p.spi) ? `0x${(p.spi >>> 0).toString(16)}` : String(p.spi);
  if (!Number.isInteger(p.spi) || p.spi < 256 || p.spi > 0xffffffff) {
    throw new SaError(`SPI ${spiHex} invalid: must be an integer in 256..2^32-1 (RFC 4303 §2.1)`);
  }
  if (p.direction !== "in" && p.direction !== "out") throw new SaError(`direction must be "in" or "out"`);
  if (p.mode !== "tunnel" && p.mode !== "transport") throw new SaError(`mode must be "tunnel" or "transport"`);
  if (p.protocol === "ah") validateAh(p, spiHex);
  else if (p.protocol !== undefined && p.protocol !== "esp") throw new SaError(`protocol must be "esp" or "ah"`);
  else {
    if (!p.key || ![16, 24, 32].includes(p.key.length)) throw new SaError(`SA ${spiHex}: AES key must be 16, 24 or 32 bytes, got ${p.key?.length ?? "none"}`);
    if (!p.salt || p.salt.length !== 4) throw new SaError(`SA ${spiHex}: salt must be 4 bytes (RFC 4106), got ${p.salt?.length ?? "none"}`);
    if (p.icvLength !== undefined && ![8, 12, 16].includes(p.icvLength)) throw new SaError(`SA ${spiHex}: ICV length must be 8, 12 or 16`);
    if (p.integrity !== undefined || p.integrityKey !== undefined) throw new SaError(`SA ${spiHex}: integrity and integrityKey are for AH SAs`);
  }
  const w = p.replayWindow ?? 32;
  if (!Number.isInteger(w) || (w !== 0 && (w < 32 || w > L.REPLAY_MAX_WINDOW))) {
    throw new SaError(`SA ${spiHex}: replay window ${w} out of range (0 = off, or 32..${L.REPLAY_MAX_WINDOW})`);
  }
  if (p.protocol !== "ah" && p.mode === "transport" && p.direction === "in" && !(p.local && p.remote)) {
    throw new SaError(`SA ${spiHex}: an inbound transport-mode SA needs local and remote endpoints (to rebuild the IP header)`);
  }
}

// AH is computed entirely in the data plane (the crypto backends are ESP-only), so only its own fields count.
function validateAh(p: SaParams, spiHex: string): void {
  const name = p.integrity ?? "sha256";
  const t = Object.hasOwn(INTEGRITY, name) ? INTEGRITY[name] : undefined;
  if (!t) throw new SaError(`SA ${spiHex}: integrity must be one of ${Object.keys(INTEGRITY).join(", ")}`);
  const got = p.integrityKey?.length;
  if (got !== t.keyLength) {
    throw new SaError(`SA ${spiHex}: ${name} needs a ${t.keyLength}-byte integrityKey` +
      `${t.gmac ? " (AES key and 4-byte salt, RFC 4543)" : " (RFC 4868)"}, got ${got ?? "none"}`);
  }
  if (p.key || p.salt || p.icvLength !== undefined) {
    throw new SaError(`SA ${spiHex}: an AH SA takes integrity and integrityKey, not key, salt or icvLength`);
  }
  if (p.udpEncap) throw new SaError(`SA ${spiHex}: AH cannot be UDP-encapsulated (RFC 3948 covers ESP only; NAT breaks AH)`);
  if (p.mode === "tunnel" && p.direction === "out" && !(p.local && p.remote)) {
    throw new SaError(`SA ${spiHex}: an outbound AH tunnel-mode SA needs local and remote endpoints (to build the outer IP header)`);
  }
}
