// ESP (RFC 4303) with AES-GCM (RFC 4106): encapsulation and decapsulation of one packet described by
// a batch descriptor (see batch.ts). Both are split at the cipher so a JavaScript crypto backend can
// do the AES-GCM step: prepare → [cipher, in WASM or JS] → finish. All ESP framing, sequence numbers,
// anti-replay and counters stay here, so every backend produces byte-identical packets.
import {
  saPtr, SA_STATE, SA_SPI, SA_FLAGS, SA_ICV_LEN, SA_SALT, SA_EXPIRE, SA_REPLAY, SA_GCM,
  SAF_OUTBOUND, SAF_TUNNEL, SAF_ESN, SAF_AH, EXP_HARD,
} from "./layout";
import {
  ST_OK, ST_NEED_CRYPTO, DROP_BAD_SA, DROP_EXPIRED, DROP_MALFORMED, DROP_UNSUPPORTED, DROP_NO_ROOM,
  DROP_SEQ_EXHAUSTED, DROP_TOO_SHORT, DROP_UNKNOWN_SPI, DROP_AUTH_FAILED, DROP_BAD_PADDING, DROP_DUMMY,
  DROP_BAD_NEXT_HEADER, DROP_POLICY,
} from "./status";
import { saLookup } from "./sadb";
import { inferSeq, checkSeq, updateSeq } from "./replay";
import { gcmSeal, gcmOpen } from "./crypto/gcm";
import { account, fail, nextSeq, replayReason } from "./sa";
import { be16, innerLength, policyAllows, transportHeaderLen, writeTransportHeader } from "./ip";

// ---- batch descriptor, one per packet (64 bytes) ----
export const DESC_SIZE: i32 = 64;
export const D_IN_OFF: i32 = 0;    // in: packet start (encap: the IP packet; decap: the SPI)
export const D_IN_LEN: i32 = 4;    // in: packet length
export const D_SA: i32 = 8;        // encap in: SA handle; decap out: handle of the matched SA
export const D_STATUS: i32 = 12;   // out: ST_* / DROP_*
export const D_OUT_OFF: i32 = 16;  // out: result start (encap: the SPI; decap: the inner IP packet)
export const D_OUT_LEN: i32 = 20;  // out: result length
export const D_DATA_OFF: i32 = 24; // crypto job: ESP payload (plaintext/ciphertext); the ICV follows it
export const D_DATA_LEN: i32 = 28;
export const D_NONCE: i32 = 32;    // crypto job: 12-byte nonce, salt ‖ IV
export const D_AAD_LEN: i32 = 44;  // crypto job: 8, or 12 with ESN
export const D_AAD: i32 = 48;      // crypto job: SPI ‖ [seq-high ‖] seq-low
export const D_ROOM: i32 = 60;     // in: u16 headroom before D_IN_OFF, u16 tailroom after the packet

export const ESP_HDR: u32 = 16;    // SPI, sequence number, 8-byte IV

/** Encapsulation up to the cipher. Returns ST_OK (sealed here), ST_NEED_CRYPTO or a drop reason. */
export function encapPrepare(d: usize, cryptoLimit: u32): u32 {
  const sa = saPtr(load<u32>(d + D_SA));
  if (sa == 0 || atomic.load<u32>(sa + SA_STATE) != 1) return fail(0, DROP_BAD_SA);
  const flags = load<u32>(sa + SA_FLAGS);
  if ((flags & (SAF_OUTBOUND | SAF_AH)) != SAF_OUTBOUND) return fail(0, DROP_BAD_SA);
  if ((load<u32>(sa + SA_EXPIRE) & EXP_HARD) != 0) return fail(sa, DROP_EXPIRED);

  const pkt = <usize>load<u32>(d + D_IN_OFF);
  const len = load<u32>(d + D_IN_LEN);
  const room = load<u32>(d + D_ROOM);
  let payload: usize, plen: u32, nh: u32;
  const version: u32 = len > 0 ? <u32>load<u8>(pkt) >> 4 : 0;
  if ((flags & SAF_TUNNEL) != 0) {
    if (version == 4 && len >= 20) nh = 4;
    else if (version == 6 && len >= 40) nh = 41;
    else return fail(sa, DROP_MALFORMED);
    payload = pkt; plen = len;
  } else {
    // Transport mode: ESP goes between the IP header and its payload; the output starts at the SPI,
    // the I/O layer supplies the outer header.
    let hl: u32;
    if (version == 4 && len >= 20) {
      hl = (<u32>load<u8>(pkt) & 15) << 2;
      if (hl < 20 || be16(pkt + 2) != len || hl > len) return fail(sa, DROP_MALFORMED);
      if ((be16(pkt + 6) & 0x3fff) != 0) return fail(sa, DROP_UNSUPPORTED); // fragments: reassemble first
      nh = <u32>load<u8>(pkt + 9);
    } else if (version == 6 && len >= 40) {
      hl = 40;
      if (be16(pkt + 4) + 40 != len) return fail(sa, DROP_MALFORMED);
      nh = <u32>load<u8>(pkt + 6);
      // Extension headers that must precede ESP (hop-by-hop, routing, fragment, destination) are not supported.
      if (nh == 0 || nh == 43 || nh == 44 || nh == 60) return fail(sa, DROP_UNSUPPORTED);
    } else return fail(sa, DROP_MALFORMED);
    payload = pkt + hl; plen = len - hl;
  }
  const icv = load<u32>(sa + SA_ICV_LEN);
  const padded = (plen + 2 + 3) & ~3;      // RFC 4303 §2.4: 4-byte alignment; GCM needs no more
  const padLen = padded - plen - 2;
  const espLen = ESP_HDR + padded + icv;
  if (espLen > 65535 - 48) return fail(sa, DROP_NO_ROOM); // must fit an IPv6/UDP datagram
  if (<u32>(payload - pkt) + (room & 0xffff) < ESP_HDR || (room >>> 16) < padLen + 2 + icv) {
    return fail(sa, DROP_NO_ROOM);
  }

  const seq = nextSeq(sa, flags);
  if (seq == 0) return fail(sa, DROP_SEQ_EXHAUSTED);

  const esp = payload - ESP_HDR;
  const spiBE = bswap<u32>(load<u32>(sa + SA_SPI));
  store<u32>(esp, spiBE);
  store<u32>(esp, bswap<u32>(<u32>seq), 4);
  store<u64>(esp, bswap<u64>(seq), 8);     // IV = 64-bit sequence number: unique per packet under the key
  const tr = payload + plen;
  for (let i: u32 = 1; i <= padLen; i++) store<u8>(tr + i - 1, <u8>i);
  store<u8>(tr + padLen, <u8>padLen);
  store<u8>(tr + padLen + 1, <u8>nh);

  store<u32>(d + D_NONCE, load<u32>(sa + SA_SALT));
  store<u64>(d + D_NONCE + 4, bswap<u64>(seq));
  let aadLen: i32 = 8;
  store<u32>(d + D_AAD, spiBE);
  if ((flags & SAF_ESN) != 0) {
    store<u32>(d + D_AAD + 4, bswap<u32>(<u32>(seq >> 32)));
    store<u32>(d + D_AAD + 8, bswap<u32>(<u32>seq));
    aadLen = 12;
  } else {
    store<u32>(d + D_AAD + 4, bswap<u32>(<u32>seq));
  }
  store<u32>(d + D_AAD_LEN, aadLen);
  store<u32>(d + D_DATA_OFF, <u32>payload);
  store<u32>(d + D_DATA_LEN, padded);
  store<u32>(d + D_OUT_OFF, <u32>esp);
  store<u32>(d + D_OUT_LEN, espLen);
  account(sa, plen);
  if (padded < cryptoLimit) {
    gcmSeal(sa + SA_GCM, d + D_NONCE, d + D_AAD, aadLen, payload, <i32>padded, payload + padded, <i32>icv);
    return ST_OK;
  }
  return ST_NEED_CRYPTO;
}

/** Decapsulation up to the cipher: SPI lookup, lengths, anti-replay pre-check; then, below
 *  cryptoLimit, ICV verification and decryption here followed by the rest of decapsulation.
 *  `hint` is the handle the previous packet of the batch matched (or 0xffffffff): consecutive
 *  packets mostly share an SA, and its record is checked to still hold this SPI before it is used. */
export function decapPrepare(d: usize, cryptoLimit: u32, hint: u32): u32 {
  const pkt = <usize>load<u32>(d + D_IN_OFF);
  const len = load<u32>(d + D_IN_LEN);
  store<u32>(d + D_SA, 0xffffffff);
  if (len < 8) return fail(0, DROP_TOO_SHORT);
  const spiBE = load<u32>(pkt);
  const spi = bswap<u32>(spiBE);
  let h = <i32>hint;
  let sa = saPtr(hint);
  // Same as saLookup: SPIs of active inbound SAs are unique, and the hint came from the table in this batch.
  if (sa == 0 || load<u32>(sa + SA_SPI) != spi || (load<u32>(sa + SA_FLAGS) & SAF_OUTBOUND) != 0) {
    h = saLookup(spi);
    if (h < 0) return fail(0, DROP_UNKNOWN_SPI);
    sa = saPtr(<u32>h);
  }
  const flags = load<u32>(sa + SA_FLAGS);
  // Deleted meanwhile, or an AH SA (SPIs are unique across both protocols): no ESP SA has this SPI.
  if (atomic.load<u32>(sa + SA_STATE) != 1 || (flags & SAF_AH) != 0) return fail(0, DROP_UNKNOWN_SPI);
  store<u32>(d + D_SA, <u32>h);
  if ((load<u32>(sa + SA_EXPIRE) & EXP_HARD) != 0) return fail(sa, DROP_EXPIRED);
  const icv = load<u32>(sa + SA_ICV_LEN);
  if (len < ESP_HDR + 4 + icv) return fail(sa, DROP_TOO_SHORT);
  const ctLen = len - ESP_HDR - icv;
  if ((ctLen & 3) != 0) return fail(sa, DROP_MALFORMED);

  const seqBE = load<u32>(pkt, 4);
  const seq = inferSeq(sa + SA_REPLAY, bswap<u32>(seqBE));
  const r = checkSeq(sa + SA_REPLAY, seq);
  if (r != 0) return fail(sa, replayReason(r));

  store<u32>(d + D_NONCE, load<u32>(sa + SA_SALT));
  store<u64>(d + D_NONCE + 4, load<u64>(pkt, 8));
  let aadLen: i32 = 8;
  store<u32>(d + D_AAD, spiBE);
  if ((flags & SAF_ESN) != 0) {
    store<u32>(d + D_AAD + 4, bswap<u32>(<u32>(seq >> 32)));
    store<u32>(d + D_AAD + 8, seqBE);
    aadLen = 12;
  } else {
    store<u32>(d + D_AAD + 4, seqBE);
  }
  store<u32>(d + D_AAD_LEN, aadLen);
  const ct = pkt + ESP_HDR;
  store<u32>(d + D_DATA_OFF, <u32>ct);
  store<u32>(d + D_DATA_LEN, ctLen);
  if (ctLen >= cryptoLimit) return ST_NEED_CRYPTO;
  if (!gcmOpen(sa + SA_GCM, d + D_NONCE, d + D_AAD, aadLen, ct, <i32>ctLen, ct + ctLen, <i32>icv)) {
    return fail(sa, DROP_AUTH_FAILED);
  }
  return finish(d, sa, flags, seq, ct, ctLen);
}

/** Decapsulation after the ICV verified and the payload was decrypted in place. */
export function decapFinish(d: usize, sa: usize): u32 {
  const flags = load<u32>(sa + SA_FLAGS);
  // The full sequence number is in the AAD this packet was verified with.
  const seq: u64 = (flags & SAF_ESN) != 0
    ? (<u64>bswap<u32>(load<u32>(d + D_AAD + 4)) << 32) | <u64>bswap<u32>(load<u32>(d + D_AAD + 8))
    : <u64>bswap<u32>(load<u32>(d + D_AAD + 4));
  return finish(d, sa, flags, seq, <usize>load<u32>(d + D_DATA_OFF), load<u32>(d + D_DATA_LEN));
}

// Inlined into decapPrepare, which already holds the SA flags, sequence number and payload.
// @ts-ignore: decorator
@inline function finish(d: usize, sa: usize, flags: u32, seq: u64, ct: usize, ctLen: u32): u32 {
  const r = updateSeq(sa + SA_REPLAY, seq); // only now, after the ICV (RFC 4303 §3.4.3)
  if (r != 0) return fail(sa, replayReason(r));

  const padLen = <u32>load<u8>(ct + ctLen - 2);
  const nh = <u32>load<u8>(ct + ctLen - 1);
  if (padLen + 2 > ctLen) return fail(sa, DROP_BAD_PADDING);
  const plen = ctLen - 2 - padLen;
  for (let i: u32 = 0; i < padLen; i++) {
    if (<u32>load<u8>(ct + plen + i) != i + 1) return fail(sa, DROP_BAD_PADDING);
  }
  if (nh == 59) return fail(sa, DROP_DUMMY); // RFC 4303 §2.6: dummy packet, discard silently

  let out: usize, outLen: u32;
  if ((flags & SAF_TUNNEL) != 0) {
    if (nh != 4 && nh != 41) return fail(sa, DROP_BAD_NEXT_HEADER);
    outLen = innerLength(ct, plen, nh == 4 ? 4 : 6); // strips TFC padding after the inner packet
    if (outLen == 0) return fail(sa, DROP_MALFORMED);
    out = ct;
  } else {
    const hl = transportHeaderLen(sa);
    if ((load<u32>(d + D_ROOM) & 0xffff) + ESP_HDR < hl) return fail(sa, DROP_NO_ROOM);
    out = ct - hl;
    writeTransportHeader(sa, out, plen, nh);
    outLen = plen + hl;
  }
  if (!policyAllows(sa, out, outLen)) return fail(sa, DROP_POLICY);
  store<u32>(d + D_OUT_OFF, <u32>out);
  store<u32>(d + D_OUT_LEN, outLen);
  account(sa, outLen);
  return ST_OK;
}
