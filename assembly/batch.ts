// The batch API: ONE exported call processes N packets described by consecutive descriptors.
// ESP: cryptoLimit selects the crypto backend per packet: payloads shorter than it are sealed/opened in
// WASM; longer ones are left as ST_NEED_CRYPTO for a JavaScript backend (0 = all, 0xffffffff = none).
// Outbound, one call takes a mixed batch: the SPD picks each packet's SA and the SA's protocol picks ESP or
// AH (computed entirely in WASM). Their outputs go to different sockets (ESP's starts at the SPI, for the
// ESP-in-UDP socket; AH's is a whole IP packet for a raw protocol-51 socket), so the call moves the AH
// outputs behind all the others, each group in its original order, and the I/O layer sends two ranges.
// Inbound, the sockets keep the protocols apart, so each has its own call.
import { DESC_SIZE, D_STATUS, D_SA, encapPrepare, decapPrepare, decapFinish } from "./esp";
import { ahEncap, ahDecap } from "./ah";
import { saPtr, countSA, SA_FLAGS, SAF_AH } from "./layout";
import { SA_BY_POLICY, spdResolve } from "./spd";
import { ST_OK, ST_NEED_CRYPTO, ST_CRYPTO_OK, ST_CRYPTO_FAILED, DROP_AUTH_FAILED } from "./status";

/**
 * Encapsulate n packets, ESP or AH by their SA (D_SA, or SA_BY_POLICY for the SPD to decide). The
 * descriptors of AH outputs (ST_OK) end up last, those of the other packets first, each group in input
 * order; `scratch` holds n descriptors meanwhile. Returns the number of AH outputs << 16 | the number of
 * packets left ST_NEED_CRYPTO (n < 65536).
 */
export function encapBatch(desc: usize, n: i32, cryptoLimit: u32, scratch: usize): i32 {
  let need = 0, ah = 0;
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    let st = load<u32>(d + D_SA) == SA_BY_POLICY ? spdResolve(d) : ST_OK;
    let isAh = false;
    if (st == ST_OK) {
      const sa = saPtr(load<u32>(d + D_SA));
      isAh = sa != 0 && (load<u32>(sa + SA_FLAGS) & SAF_AH) != 0;
      st = isAh ? ahEncap(d) : encapPrepare(d, cryptoLimit);
    }
    store<u32>(d + D_STATUS, st);
    if (st == ST_NEED_CRYPTO) need++;
    if (isAh && st == ST_OK) {
      memory.copy(scratch + <usize>ah * DESC_SIZE, d, DESC_SIZE);
      ah++;
    } else if (ah > 0) {
      memory.copy(d - <usize>ah * DESC_SIZE, d, DESC_SIZE); // over the AH outputs parked in scratch
    }
  }
  if (ah > 0) memory.copy(desc + <usize>(n - ah) * DESC_SIZE, scratch, <usize>ah * DESC_SIZE);
  return (ah << 16) | need;
}

/** Decapsulate n packets. Returns how many are left ST_NEED_CRYPTO (then call espDecapFinish). */
export function espDecapBatch(desc: usize, n: i32, cryptoLimit: u32): i32 {
  let need = 0;
  let hint: u32 = 0xffffffff; // the SA the previous packet matched
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    const st = decapPrepare(d, cryptoLimit, hint);
    hint = load<u32>(d + D_SA);
    store<u32>(d + D_STATUS, st);
    if (st == ST_NEED_CRYPTO) need++;
  }
  return need;
}

/** Complete packets a JavaScript backend marked ST_CRYPTO_OK / ST_CRYPTO_FAILED. */
export function espDecapFinish(desc: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    const st = load<u32>(d + D_STATUS);
    if (st != ST_CRYPTO_OK && st != ST_CRYPTO_FAILED) continue;
    const sa = saPtr(load<u32>(d + D_SA));
    if (sa == 0) { store<u32>(d + D_STATUS, DROP_AUTH_FAILED); continue; }
    if (st == ST_CRYPTO_FAILED) {
      countSA(sa, DROP_AUTH_FAILED);
      store<u32>(d + D_STATUS, DROP_AUTH_FAILED);
    } else {
      store<u32>(d + D_STATUS, decapFinish(d, sa));
    }
  }
}

/** AH-encapsulate n IP packets, each with its outbound AH SA's handle, in place (no reordering, no SPD).
 *  Returns how many succeeded. */
export function ahEncapBatch(desc: usize, n: i32): i32 {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    const st = ahEncap(d);
    store<u32>(d + D_STATUS, st);
    if (st == ST_OK) ok++;
  }
  return ok;
}

/** AH-decapsulate n received IP packets (the SA is found by SPI). Returns how many succeeded. */
export function ahDecapBatch(desc: usize, n: i32): i32 {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    const st = ahDecap(d);
    store<u32>(d + D_STATUS, st);
    if (st == ST_OK) ok++;
  }
  return ok;
}

/** Copy n bytes inside the memory (the I/O layer's datagram split: a call from JavaScript into WASM costs
 *  less than TypedArray.prototype.copyWithin, a runtime call). */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}
