// Typed API over the SA database in shared memory: install, update, delete and read SAs. Field
// offsets come from the WASM module (layout.ts); the data plane expands keys and publishes SPIs.
import type { Layout, DropReason } from "./layout.js";
import { DROP_REASONS } from "./layout.js";
import type { SharedViews } from "./memory.js";
import type { RawExports } from "./wasm.js";
import { parseAddress, type TrafficSelector } from "./selectors.js";

export type Direction = "in" | "out";
export type Mode = "tunnel" | "transport";

export interface Endpoint { address: string; port?: number }

export interface Lifetime {
  softPackets?: bigint | number; softBytes?: bigint | number;
  hardPackets?: bigint | number; hardBytes?: bigint | number;
}

export interface SaParams {
  spi: number;                 // 32-bit SPI as on the wire, 256..2^32-1
  direction: Direction;
  mode: Mode;
  key: Uint8Array;             // AES key: 16, 24 or 32 bytes
  salt: Uint8Array;            // RFC 4106 salt: 4 bytes
  icvLength?: 8 | 12 | 16;     // default 16 (aes*gcm16)
  esn?: boolean;               // 64-bit extended sequence numbers
  replayWindow?: number;       // inbound only; 0 disables; default 32 (strongSwan's default)
  udpEncap?: boolean;          // ESP-in-UDP (RFC 3948); informational for the I/O layer
  lifetime?: Lifetime;
  localTs?: TrafficSelector[]; // inbound policy check: inner destination
  remoteTs?: TrafficSelector[];// inbound policy check: inner source
  local?: Endpoint;            // outer addresses (transport-mode header rebuild, I/O layer)
  remote?: Endpoint;
}

export interface SaStats {
  handle: number; spi: number; direction: Direction; mode: Mode; esn: boolean;
  packets: bigint; bytes: bigint; seqOut: bigint;
  drops: Partial<Record<DropReason, bigint>>;
  softExpired: boolean; hardExpired: boolean; seqExhausted: boolean;
}

export class SaError extends Error {
  constructor(message: string) { super(message); this.name = "SaError"; }
}

const ACTIVATE_ERRORS: Record<number, string> = {
  [-1]: "handle out of range", [-2]: "SA handle already active", [-3]: "key must be 16, 24 or 32 bytes",
  [-4]: "ICV length must be 8, 12 or 16", [-5]: "replay window out of range",
  [-6]: "SPI reserved (< 256) or already used by another inbound SA", [-7]: "SPI hash table full",
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
      dv.setUint32(sa + L.SA_SPI, p.spi >>> 0, true);
      dv.setUint32(sa + L.SA_FLAGS, flags, true);
      dv.setUint32(sa + L.SA_KEY_LEN, p.key.length, true);
      dv.setUint32(sa + L.SA_ICV_LEN, p.icvLength ?? 16, true);
      u8.set(p.salt, sa + L.SA_SALT);
      dv.setUint32(sa + L.SA_REPLAY_WINDOW, out ? 0 : (p.replayWindow ?? 32), true);
      u8.set(p.key, sa + L.SA_KEY);
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
        u8.fill(0, p, p + L.TS_SIZE);
        u8[p + L.TS_VERSION] = lo.version;
        u8[p + L.TS_PROTO] = ts.protocol ?? 0;
        dv.setUint16(p + L.TS_PORT_LO, ts.portStart ?? 0, true);
        dv.setUint16(p + L.TS_PORT_HI, ts.portEnd ?? 0xffff, true);
        u8.set(lo.bytes, p + L.TS_ADDR_LO);
        u8.set(hi.bytes, p + L.TS_ADDR_HI);
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
  if (![16, 24, 32].includes(p.key.length)) throw new SaError(`SA ${spiHex}: AES key must be 16, 24 or 32 bytes, got ${p.key.length}`);
  if (p.salt.length !== 4) throw new SaError(`SA ${spiHex}: salt must be 4 bytes (RFC 4106), got ${p.salt.length}`);
  if (p.icvLength !== undefined && ![8, 12, 16].includes(p.icvLength)) throw new SaError(`SA ${spiHex}: ICV length must be 8, 12 or 16`);
  const w = p.replayWindow ?? 32;
  if (!Number.isInteger(w) || (w !== 0 && (w < 32 || w > L.REPLAY_MAX_WINDOW))) {
    throw new SaError(`SA ${spiHex}: replay window ${w} out of range (0 = off, or 32..${L.REPLAY_MAX_WINDOW})`);
  }
  if (p.mode === "transport" && p.direction === "in" && !(p.local && p.remote)) {
    throw new SaError(`SA ${spiHex}: an inbound transport-mode SA needs local and remote endpoints (to rebuild the IP header)`);
  }
}
