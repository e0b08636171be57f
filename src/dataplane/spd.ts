// The outbound Security Policy Database as the control plane sees it (RFC 4301 §4.4.1): replace the whole
// ordered list atomically, switch a policy's SA in place at rekey, list what the data plane uses. Lookups
// run in WASM (assembly/spd.ts) inside the encapsulation batch call, for packets marked byPolicy().
import type { DataPlane } from "./dataplane.js";
import type { PacketBatch } from "./batch.js";
import { writeSelector } from "./layout.js";
import { formatAddress, parseAddress, type TrafficSelector } from "./selectors.js";

export type PolicyAction = "protect" | "bypass" | "drop" | "trap";

export interface Policy {
  /** 0..2^32-2. setHandle() and TRAP reports name policies by id; several entries may share one (the
   *  cross product of a CHILD_SA's selectors, as strongSwan's reqid). */
  id: number;
  action: PolicyAction;
  /** Matched against the packet's source. */
  local: TrafficSelector;
  /** Matched against the packet's destination. */
  remote: TrafficSelector;
  /** Outbound SA handle: required for "protect"; for "trap" the SA once negotiated (absent/null: none yet). */
  sa?: number | null;
  /** Lower first; ties keep the given order. Default: strongSwan's order (class, then specificity). */
  priority?: number;
}

export interface PolicyEntry {
  id: number; action: PolicyAction; local: TrafficSelector; remote: TrafficSelector; sa: number | null; priority: number;
}

export class SpdError extends Error {
  constructor(message: string) { super(message); this.name = "SpdError"; }
}

const ACTIONS: readonly PolicyAction[] = ["protect", "bypass", "drop", "trap"];
const MIN_CAPACITY = 16;

// strongSwan's priority classes (kernel_netlink_ipsec.c get_priority, PRIO_BASE 384): PASS for bypass
// shunts, DEFAULT for installed SAs, ROUTED for trap policies, FALLBACK for drop shunts.
const CLASS: Record<PolicyAction, number> = { bypass: 0, protect: 1, trap: 2, drop: 3 };

/** strongSwan's order: the action's class, then the narrower selectors (longer covering prefixes), then
 *  those restricting ports, then those restricting the protocol. Lower first. */
function defaultPriority(p: Pick<Policy, "action" | "local" | "remote">): number {
  let prio = 384 << CLASS[p.action];
  prio -= prefixLength(p.local) + prefixLength(p.remote);
  prio <<= 2;
  if (!restrictsPorts(p.local) && !restrictsPorts(p.remote)) prio += 2;
  if (!(p.local.protocol || p.remote.protocol)) prio += 1;
  return prio;
}

/** Length of the smallest prefix covering the range (what strongSwan's to_subnet() installs). */
function prefixLength(ts: TrafficSelector): number {
  const lo = parseAddress(ts.start).bytes, hi = parseAddress(ts.end).bytes;
  let bits = 0;
  for (let i = 0; i < lo.length; i++) {
    const x = lo[i] ^ hi[i];
    if (x === 0) { bits += 8; continue; }
    return bits + Math.clz32(x) - 24;
  }
  return bits;
}

function restrictsPorts(ts: TrafficSelector): boolean {
  return (ts.portStart ?? 0) !== 0 || (ts.portEnd ?? 0xffff) !== 0xffff;
}

export class Spd {
  private region: number;
  /** Regions replaced by a larger one: lookups that started on them may still count no-matches there. */
  private readonly retired: number[] = [];

  constructor(private readonly dp: DataPlane) {
    this.region = dp.ex.spdRegion() as number;
  }

  /** Replace every entry at once: workers see either the old list or the new one, never a mix. */
  set(policies: readonly Policy[]): void {
    const entries = policies.map((p, i) => this.check(p, i))
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.priority - b.e.priority || a.i - b.i)
      .map(({ e }) => e);
    const { ex, L } = this.dp;
    let region = this.region;
    const fresh = region === 0 || entries.length > this.capacity(region);
    if (fresh) {
      let cap = MIN_CAPACITY;
      while (cap < entries.length) cap *= 2;
      region = this.dp.allocate(ex.spdRegionSize(cap) as number);
      ex.spdFormat(region, cap);
    }
    const base = ex.spdBegin(region) as number;
    const { dv, u8 } = this.dp.views.refresh();
    entries.forEach((e, i) => {
      const at = base + i * L.SPE_SIZE;
      u8.fill(0, at, at + L.SPE_SIZE);
      dv.setUint32(at + L.SPE_ID, e.id, true);
      dv.setUint32(at + L.SPE_ACTION, this.code(e.action), true);
      dv.setUint32(at + L.SPE_SA, e.sa ?? L.SPD_NONE >>> 0, true);
      dv.setUint32(at + L.SPE_PRIORITY, e.priority, true);
      this.writeSelector(at + L.SPE_LOCAL, e.local);
      this.writeSelector(at + L.SPE_REMOTE, e.remote);
    });
    ex.spdCommit(region, entries.length);
    if (fresh) {
      ex.spdPublish(region);
      if (this.region !== 0) this.retired.push(this.region);
      this.region = region;
    }
  }

  /** Point every entry of policy `id` at outbound SA `sa` (rekey), or at none (a trap waits again).
   *  Atomic per entry: a packet uses the old SA or the new one. Returns the number of entries changed. */
  setHandle(id: number, sa: number | null): number {
    checkId(id);
    if (sa !== null) this.checkSa(sa, `policy ${id}`);
    if (this.region === 0) return 0;
    if (sa === null && this.list().some((e) => e.id === id && e.action === "protect")) {
      throw new SpdError(`policy ${id} protects traffic: it needs an SA (remove the policy instead)`);
    }
    return this.dp.ex.spdSetHandle(this.region, id, sa ?? this.dp.L.SPD_NONE >>> 0) as number;
  }

  /** The entries as the data plane uses them, in lookup order. */
  list(): PolicyEntry[] {
    if (this.region === 0) return [];
    const { L } = this.dp;
    const { u32, dv } = this.dp.views.refresh();
    const t = Atomics.load(u32, (this.region + L.SPD_ACTIVE) >> 2);
    const n = u32[(this.region + L.SPD_COUNT + 4 * t) >> 2];
    const base = this.region + L.SPD_HDR_SIZE + t * this.capacity(this.region) * L.SPE_SIZE;
    return Array.from({ length: n }, (_, i) => {
      const at = base + i * L.SPE_SIZE;
      const sa = Atomics.load(u32, (at + L.SPE_SA) >> 2);
      return {
        id: dv.getUint32(at + L.SPE_ID, true),
        action: ACTIONS.find((a) => this.code(a) === dv.getUint32(at + L.SPE_ACTION, true))!,
        local: this.readSelector(at + L.SPE_LOCAL),
        remote: this.readSelector(at + L.SPE_REMOTE),
        sa: sa === L.SPD_NONE >>> 0 ? null : sa,
        priority: dv.getUint32(at + L.SPE_PRIORITY, true),
      };
    });
  }

  /** Packets that matched no entry (dropped, also counted as the global "policy" drop). */
  get noMatch(): bigint {
    const big = this.dp.views.refresh().big;
    let n = 0n;
    for (const r of [...this.retired, this.region]) if (r !== 0) n += Atomics.load(big, (r + this.dp.L.SPD_NOMATCH) / 8);
    return n;
  }

  private code(a: PolicyAction): number {
    const { L } = this.dp;
    return { protect: L.PA_PROTECT, bypass: L.PA_BYPASS, drop: L.PA_DROP, trap: L.PA_TRAP }[a];
  }

  private capacity(region: number): number {
    return this.dp.views.refresh().u32[(region + this.dp.L.SPD_CAPACITY) >> 2];
  }

  private check(p: Policy, index: number): PolicyEntry {
    const what = `policy #${index} (id ${p.id})`;
    checkId(p.id);
    if (!ACTIONS.includes(p.action)) throw new SpdError(`${what}: action must be one of ${ACTIONS.join(", ")}`);
    const vl = checkSelector(p.local, `${what} local`), vr = checkSelector(p.remote, `${what} remote`);
    if (vl !== vr) throw new SpdError(`${what}: local and remote selectors mix IPv4 and IPv6`);
    const sa = p.sa ?? null;
    if (p.action === "protect" && sa === null) throw new SpdError(`${what}: "protect" needs an outbound SA handle`);
    if ((p.action === "bypass" || p.action === "drop") && sa !== null) throw new SpdError(`${what}: "${p.action}" takes no SA`);
    if (sa !== null) this.checkSa(sa, what);
    const priority = p.priority ?? defaultPriority(p);
    if (!Number.isInteger(priority) || priority < 0 || priority > 0xffffffff) throw new SpdError(`${what}: priority must be a u32`);
    return { id: p.id, action: p.action, local: p.local, remote: p.remote, sa, priority };
  }

  private checkSa(sa: number, what: string): void {
    if (!Number.isInteger(sa) || sa < 0 || sa >= this.dp.sadb.capacity) throw new SpdError(`${what}: bad SA handle ${sa}`);
  }

  private writeSelector(at: number, ts: TrafficSelector): void {
    writeSelector(this.dp.L, this.dp.views.u8, this.dp.views.dv, at, ts);
  }

  private readSelector(at: number): TrafficSelector {
    const { L } = this.dp;
    const { dv, u8 } = this.dp.views;
    const n = u8[at + L.TS_VERSION] === 4 ? 4 : 16;
    return {
      start: formatAddress(u8.slice(at + L.TS_ADDR_LO, at + L.TS_ADDR_LO + n)),
      end: formatAddress(u8.slice(at + L.TS_ADDR_HI, at + L.TS_ADDR_HI + n)),
      protocol: u8[at + L.TS_PROTO],
      portStart: dv.getUint16(at + L.TS_PORT_LO, true),
      portEnd: dv.getUint16(at + L.TS_PORT_HI, true),
    };
  }
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) throw new SpdError(`policy id ${id} must be an integer in 0..2^32-2`);
}

function checkSelector(ts: TrafficSelector, what: string): 4 | 6 {
  let lo, hi;
  try {
    lo = parseAddress(ts.start); hi = parseAddress(ts.end);
  } catch (e) {
    throw new SpdError(`${what}: ${(e as Error).message}`);
  }
  if (lo.version !== hi.version) throw new SpdError(`${what}: ${ts.start}-${ts.end} mixes IPv4 and IPv6`);
  if (Buffer.compare(lo.bytes, hi.bytes) > 0) throw new SpdError(`${what}: ${ts.start} is above ${ts.end}`);
  const proto = ts.protocol ?? 0, p0 = ts.portStart ?? 0, p1 = ts.portEnd ?? 0xffff;
  if (!Number.isInteger(proto) || proto < 0 || proto > 255) throw new SpdError(`${what}: protocol ${proto} is not 0..255`);
  if (!Number.isInteger(p0) || !Number.isInteger(p1) || p0 < 0 || p1 > 0xffff || p0 > p1) {
    throw new SpdError(`${what}: port range ${p0}-${p1} invalid`);
  }
  return lo.version;
}

/** Mark packets 0..count-1 of `batch` for the SPD: encap() then finds each one's SA (or BYPASS/TRAP/DROP). */
export function byPolicy(dp: DataPlane, batch: PacketBatch): void {
  const { L } = dp;
  const u32 = dp.views.refresh().u32;
  for (let i = 0; i < batch.count; i++) u32[(batch.descOff + i * L.DESC_SIZE + L.D_SA) >> 2] = L.SA_BY_POLICY;
}

/** The policy id the SPD left for packet i after encap() (ST_BYPASS, ST_TRAP, or a DROP_POLICY decided by
 *  an entry); SPD_NONE (as a u32) when no entry matched. */
export function policyOf(dp: DataPlane, batch: PacketBatch, i: number): number {
  return dp.views.u32[(batch.descOff + i * dp.L.DESC_SIZE + dp.L.D_POLICY) >> 2];
}
