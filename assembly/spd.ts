// Security Policy Database for OUTBOUND packets (RFC 4301 §4.4.1): an ordered list of entries (local
// selector, remote selector, action, outbound SA handle, policy id), first match wins. The control plane
// sorts the entries (most specific first) and owns every write; workers look up concurrently, inside the
// encapsulation batch call, for descriptors whose SA field is SA_BY_POLICY.
//
// The region lives in the batch arena; its address is published in the shared header (HDR_SPD), so a
// worker needs no message to see a table created, replaced or grown after it attached. A region holds two
// tables: the control plane rewrites the idle one and flips SPD_ACTIVE (as sadb.ts does with the SPI table).
// A reader still scanning a table when it is rewritten two updates later is caught by that table's
// sequence counter (odd while written) and retries, so a lookup never mixes two versions. The SA handle
// of an entry may change in place (rekey): a single aligned u32 store, atomic for readers.
import { gBase, HDR_SPD, countGlobal, TS_SIZE, D_POLICY } from "./layout";
import { tsMatches, portOf, be16 } from "./ip";
import { D_IN_OFF, D_IN_LEN, D_SA, D_OUT_OFF, D_OUT_LEN } from "./esp";
import { ST_OK, ST_BYPASS, ST_TRAP, DROP_POLICY, DROP_MALFORMED } from "./status";

/** D_SA value asking encapsulation to find the SA through the SPD. */
export const SA_BY_POLICY: u32 = 0xffffffff;
/** No policy (D_POLICY after a lookup that matched nothing) / no SA (SPE_SA of a trap not yet negotiated). */
export const SPD_NONE: u32 = 0xffffffff;
/** Out: the id of the policy that decided a BYPASS, TRAP or DROP (SPD_NONE: no entry matched); see layout.ts. */
export { D_POLICY };

export const PA_PROTECT: u32 = 1; // encapsulate with SPE_SA
export const PA_BYPASS: u32 = 2;  // ST_BYPASS: left to the caller, to pass in the clear
export const PA_DROP: u32 = 3;    // DROP_POLICY
export const PA_TRAP: u32 = 4;    // with an SA: as PROTECT; without: ST_TRAP, the caller asks for one

// ---- region header ----
export const SPD_CAPACITY: i32 = 0;   // u32, entries per table
export const SPD_ACTIVE: i32 = 4;     // u32, 0/1: the table readers use
export const SPD_COUNT: i32 = 8;      // u32[2], entries in each table
export const SPD_SEQ: i32 = 16;       // u32[2], odd while the control plane rewrites that table
export const SPD_NOMATCH: i32 = 24;   // u64, packets that matched no entry
export const SPD_HDR_SIZE: i32 = 64;

// ---- entry ----
export const SPE_ID: i32 = 0;         // u32 policy id; several entries may share one (strongSwan's reqid)
export const SPE_ACTION: i32 = 4;     // u32 PA_*
export const SPE_SA: i32 = 8;         // u32 outbound SA handle or SPD_NONE (atomic)
export const SPE_PRIORITY: i32 = 12;  // u32, informational: the order is the table's
export const SPE_LOCAL: i32 = 16;     // TS_SIZE bytes, matched against the packet's source
export const SPE_REMOTE: i32 = SPE_LOCAL + TS_SIZE; // against its destination
export const SPE_SIZE: i32 = (SPE_REMOTE + TS_SIZE + 15) & ~15;

/** Bytes a region with `capacity` entries per table needs. */
export function spdRegionSize(capacity: u32): u32 {
  return SPD_HDR_SIZE + 2 * capacity * SPE_SIZE;
}

/** Format a region (control plane, before spdPublish). */
export function spdFormat(region: usize, capacity: u32): void {
  memory.fill(region, 0, spdRegionSize(capacity));
  store<u32>(region + SPD_CAPACITY, capacity);
}

/** Make `region` the SPD every instance uses (a region replaced this way stays readable: arenas are never
 *  reused, so a lookup in flight finishes on it). */
export function spdPublish(region: usize): void {
  atomic.store<u32>(gBase + HDR_SPD, <u32>region);
}

/** The published region, 0 if none. */
export function spdRegion(): usize {
  return <usize>atomic.load<u32>(gBase + HDR_SPD);
}

// @ts-ignore: decorator
@inline function table(region: usize, t: u32): usize {
  return region + SPD_HDR_SIZE + <usize>t * load<u32>(region + SPD_CAPACITY) * SPE_SIZE;
}

/** Start rewriting the idle table: returns its first entry's address; write entries there, then spdCommit. */
export function spdBegin(region: usize): usize {
  const t = atomic.load<u32>(region + SPD_ACTIVE) ^ 1;
  // Odd. A read-modify-write orders the entry writes that follow (from JavaScript) after it.
  atomic.add<u32>(region + SPD_SEQ + (t << 2), 1);
  return table(region, t);
}

/** Publish the `count` entries written since spdBegin: readers switch to them atomically. */
export function spdCommit(region: usize, count: u32): void {
  const t = atomic.load<u32>(region + SPD_ACTIVE) ^ 1;
  store<u32>(region + SPD_COUNT + (t << 2), count);
  atomic.add<u32>(region + SPD_SEQ + (t << 2), 1); // even again
  atomic.store<u32>(region + SPD_ACTIVE, t);
}

/** Set the SA of every entry with policy id `id`, in both tables (rekey; SPD_NONE to un-negotiate a trap).
 *  Returns the number of entries of the active table changed. */
export function spdSetHandle(region: usize, id: u32, handle: u32): u32 {
  const active = atomic.load<u32>(region + SPD_ACTIVE);
  let changed: u32 = 0;
  for (let t: u32 = 0; t < 2; t++) {
    const base = table(region, t);
    const n = load<u32>(region + SPD_COUNT + (t << 2));
    for (let i: u32 = 0; i < n; i++) {
      const e = base + <usize>i * SPE_SIZE;
      if (load<u32>(e + SPE_ID) != id) continue;
      atomic.store<u32>(e + SPE_SA, handle);
      if (t == active) changed++;
    }
  }
  return changed;
}

// The packet's selector fields and the matched entry's decision. Module globals are per instance (one
// thread each), so they are safe scratch space.
let fVersion: u32 = 0, fProto: u32 = 0, fSrc: usize = 0, fDst: usize = 0, fSport: i32 = -1, fDport: i32 = -1;
let rAction: u32 = 0, rSa: u32 = 0, rId: u32 = 0;

// Parse what the selectors look at. IPv6 extension headers are skipped to the upper-layer protocol
// (RFC 4301 §4.4.1.1); non-first fragments have no ports (they match only port-less selectors).
function parse(pkt: usize, len: u32): bool {
  if (len < 20) return false;
  const version = <u32>load<u8>(pkt) >> 4;
  let off: u32, proto: u32, first = true;
  if (version == 4) {
    off = (<u32>load<u8>(pkt) & 15) << 2;
    if (off < 20 || off > len) return false;
    proto = <u32>load<u8>(pkt + 9);
    first = (be16(pkt + 6) & 0x1fff) == 0;
    fSrc = pkt + 12; fDst = pkt + 16;
  } else if (version == 6) {
    if (len < 40) return false;
    proto = <u32>load<u8>(pkt + 6);
    off = 40;
    while (proto == 0 || proto == 43 || proto == 60 || proto == 44) {
      if (off + 8 > len) return false;
      if (proto == 44) {
        if ((be16(pkt + off + 2) & 0xfff8) != 0) first = false;
        proto = <u32>load<u8>(pkt + off);
        off += 8;
      } else {
        const next = <u32>load<u8>(pkt + off);
        off += (<u32>load<u8>(pkt + off + 1) + 1) << 3;
        proto = next;
      }
    }
    if (off > len) return false;
    fSrc = pkt + 8; fDst = pkt + 24;
  } else return false;
  fVersion = version;
  fProto = proto;
  const l4 = pkt + off, l4len = <i32>(len - off);
  fSport = first ? portOf(l4, l4len, proto, false) : -1;
  fDport = first ? portOf(l4, l4len, proto, true) : -1;
  return true;
}

function scan(base: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    const e = base + <usize>i * SPE_SIZE;
    if (tsMatches(e + SPE_LOCAL, fVersion, fSrc, fProto, fSport) &&
        tsMatches(e + SPE_REMOTE, fVersion, fDst, fProto, fDport)) {
      rId = load<u32>(e + SPE_ID);
      rAction = load<u32>(e + SPE_ACTION);
      rSa = atomic.load<u32>(e + SPE_SA);
      return true;
    }
  }
  return false;
}

// First matching entry of the published table, consistent with one version of it. Returns the region
// looked in (0: no SPD) and sets rAction (0: no match). `own` is a word only this thread uses: a
// read-modify-write on it is the barrier between the scan and the check (atomic.fence does not validate
// with this AssemblyScript/Binaryen).
function lookup(own: usize): usize {
  while (true) {
    const region = spdRegion();
    if (region == 0) { rAction = 0; return 0; }
    const t = atomic.load<u32>(region + SPD_ACTIVE);
    const seqAt = region + SPD_SEQ + (t << 2);
    const seq = atomic.load<u32>(seqAt);
    if ((seq & 1) != 0) continue; // that table is being rewritten: SPD_ACTIVE has moved on
    const cap = load<u32>(region + SPD_CAPACITY);
    let n = load<u32>(region + SPD_COUNT + (t << 2));
    if (n > cap) n = cap;
    if (!scan(table(region, t), n)) rAction = 0;
    atomic.add<u32>(own, 0); // the scan's loads complete before the check
    if (atomic.load<u32>(seqAt) == seq) return region;
  }
}

/** Resolve descriptor d (D_SA == SA_BY_POLICY) through the SPD. PROTECT (or TRAP with an SA): D_SA set,
 *  ST_OK returned and encapsulation goes on. Otherwise D_OUT_OFF/D_OUT_LEN describe the packet as it is,
 *  D_POLICY holds the deciding policy id, and the status is ST_BYPASS, ST_TRAP or DROP_POLICY (counted
 *  globally; no match counts both DROP_POLICY and the region's SPD_NOMATCH), or DROP_MALFORMED. */
export function spdResolve(d: usize): u32 {
  const pkt = <usize>load<u32>(d + D_IN_OFF);
  const len = load<u32>(d + D_IN_LEN);
  store<u32>(d + D_OUT_OFF, <u32>pkt);
  store<u32>(d + D_OUT_LEN, len);
  store<u32>(d + D_POLICY, SPD_NONE);
  if (!parse(pkt, len)) {
    countGlobal(DROP_MALFORMED);
    return DROP_MALFORMED;
  }
  const region = lookup(d + D_POLICY);
  if (rAction == 0) {
    if (region != 0) atomic.add<u64>(region + SPD_NOMATCH, 1);
    countGlobal(DROP_POLICY);
    return DROP_POLICY;
  }
  if (rAction == PA_PROTECT || (rAction == PA_TRAP && rSa != SPD_NONE)) {
    store<u32>(d + D_SA, rSa);
    return ST_OK;
  }
  store<u32>(d + D_POLICY, rId);
  if (rAction == PA_BYPASS) return ST_BYPASS;
  if (rAction == PA_TRAP) return ST_TRAP;
  countGlobal(DROP_POLICY);
  return DROP_POLICY;
}
