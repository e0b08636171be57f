// The batch API: ONE exported call processes N packets described by consecutive descriptors.
// ESP: cryptoLimit selects the crypto backend per packet: payloads shorter than it are sealed/opened in
// WASM; longer ones are left as ST_NEED_CRYPTO for a JavaScript backend (0 = all, 0xffffffff = none).
// AH has calls of its own: the I/O layer keeps the protocols apart anyway (ESP-in-UDP on one socket, AH
// on a raw protocol-51 socket, and their outputs differ: ESP's starts at the SPI, AH's is an IP packet),
// so each batch is one protocol, and AH, computed entirely in WASM, needs no JavaScript crypto pass.
import { DESC_SIZE, D_STATUS, D_SA, encapPrepare, decapPrepare, decapFinish } from "./esp";
import { ahEncap, ahDecap } from "./ah";
import { saPtr, countSA } from "./layout";
import { ST_OK, ST_NEED_CRYPTO, ST_CRYPTO_OK, ST_CRYPTO_FAILED, DROP_AUTH_FAILED } from "./status";

/** Encapsulate n packets. Returns how many are left ST_NEED_CRYPTO. */
export function espEncapBatch(desc: usize, n: i32, cryptoLimit: u32): i32 {
  let need = 0;
  for (let i = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    const st = encapPrepare(d, cryptoLimit);
    store<u32>(d + D_STATUS, st);
    if (st == ST_NEED_CRYPTO) need++;
  }
  return need;
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

/** AH-encapsulate n IP packets, each with its outbound AH SA's handle. Returns how many succeeded. */
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
