// AH (RFC 4302) in transport and tunnel mode, IPv4 and IPv6, with HMAC-SHA2-256-128, -384-192, -512-256
// (RFC 4868) or AES-GMAC (RFC 4543) as the integrity transform; one packet per batch descriptor (esp.ts).
//
// Unlike ESP's, AH's output is a complete IP packet: AH sits between the IP header and the payload, and
// the ICV covers the header's immutable fields. Tunnel mode builds a new outer header from the SA's
// endpoints in the slot's headroom; transport mode moves the packet's own header (with its extension
// headers) forward into the headroom. The I/O layer sends the result on a raw IP socket, protocol 51,
// with IP_HDRINCL: the kernel must not rewrite any immutable header field (Linux fills in an IPv4
// Identification of 0, so encapsulation never leaves it 0). NAT breaks AH, as the addresses are
// authenticated, and RFC 3948 defines no AH-in-UDP. Decapsulation takes the complete IP packet as
// received (an IPv6 raw socket delivers no IPv6 header: the I/O layer must capture the whole packet).
//
// The ICV is computed over the packet with its mutable fields zeroed (RFC 4302 §3.3.3.1), done in place
// and undone afterwards, followed by the high half of the sequence number with ESN (§2.5.1), which goes
// into the tailroom for the computation. Sequence numbers, lifetimes and the anti-replay window are
// ESP's mechanisms (sa.ts, replay.ts), and decapsulation keeps RFC 4302 §3.4's order: SA lookup,
// sequence pre-check, ICV, only then the window update.
import {
  saPtr, SA_STATE, SA_SPI, SA_FLAGS, SA_ICV_LEN, SA_SALT, SA_EXPIRE, SA_REPLAY, SA_INTEG, SA_AUTH, SA_AF,
  SA_LOCAL_ADDR, SA_REMOTE_ADDR, SAF_OUTBOUND, SAF_TUNNEL, SAF_ESN, SAF_AH, EXP_HARD, INTEG_AES_GMAC,
  D_AH_SCRATCH,
} from "./layout";
import {
  ST_OK, DROP_BAD_SA, DROP_EXPIRED, DROP_MALFORMED, DROP_UNSUPPORTED, DROP_NO_ROOM, DROP_SEQ_EXHAUSTED,
  DROP_TOO_SHORT, DROP_UNKNOWN_SPI, DROP_AUTH_FAILED, DROP_BAD_NEXT_HEADER, DROP_POLICY,
} from "./status";
import { D_IN_OFF, D_IN_LEN, D_SA, D_OUT_OFF, D_OUT_LEN, D_ROOM } from "./esp";
import { saLookup } from "./sadb";
import { replayInfer, replayCheck, replayUpdate } from "./replay";
import { account, fail, nextSeq, replayReason } from "./sa";
import { gcmSeal, gcmOpen } from "./crypto/gcm";
import { hmacRun, hmacStore, hmacEqual } from "./crypto/sha2";
import { be16, put16, innerLength, policyAllows, setIpv4Checksum } from "./ip";

const PROTO_AH: u32 = 51;
const AH_FIXED: u32 = 12;  // next header, payload length, reserved, SPI, sequence number
const GMAC_IV: u32 = 8;    // RFC 4543 §4: the Authentication Data is IV ‖ tag
const GMAC_TAG: u32 = 16;
const OUTER_TTL: u8 = 64;
const OPT_LSRR: u32 = 131, OPT_SSRR: u32 = 137; // IPv4 loose / strict source route

// AH keeps its per-packet crypto scratch in descriptor bytes ESP's crypto job uses, clear of the SPD's
// D_POLICY (layout.ts).
const D_AH_ICV: usize = <usize>D_AH_SCRATCH;       // HMAC: the received ICV (up to 32 bytes)
const D_AH_NONCE: usize = <usize>D_AH_SCRATCH;     // GMAC: salt ‖ IV (12 bytes)
const D_AH_TAG: usize = <usize>D_AH_SCRATCH + 12;  // GMAC: the tag, received or computed (16 bytes)

/** Length of the AH header with its ICV, padded to 32 bits (IPv4) or 64 bits (IPv6) (RFC 4302 §2.6). */
function ahLength(integ: u32, icv: u32, version: u32): u32 {
  const raw = AH_FIXED + (integ == INTEG_AES_GMAC ? GMAC_IV : 0) + icv;
  return version == 6 ? (raw + 7) & ~7 : (raw + 3) & ~3;
}

/** Offset of the ICV proper within AH (GMAC's IV comes first). */
// @ts-ignore: decorator
@inline function icvOffset(integ: u32): u32 {
  return AH_FIXED + (integ == INTEG_AES_GMAC ? GMAC_IV : 0);
}

/**
 * Walk the IPv6 extension headers of the packet at p (len bytes). Hop-by-hop, destination options and
 * routing headers are passed; decapsulation (toAh) stops at AH, encapsulation before the first other
 * header, which is where AH goes. Returns (offset of the Next Header field naming what follows) << 16 |
 * (offset where the walk stopped), or -reason. Fragments are refused (AH covers whole packets, RFC 4302
 * §3.4.1), and so are routing headers with segments left: their addresses still change en route.
 */
function ipv6Chain(p: usize, len: u32, toAh: bool): i64 {
  let nh = <u32>load<u8>(p + 6);
  let at: u32 = 6;
  let off: u32 = 40;
  while (!(toAh && nh == PROTO_AH)) {
    if (nh == 44) return -<i64>DROP_UNSUPPORTED;
    if (nh != 0 && nh != 60 && nh != 43) {
      if (toAh) return -<i64>DROP_BAD_NEXT_HEADER;
      break;
    }
    if (off + 8 > len) return -<i64>DROP_MALFORMED;
    if (nh == 43 && load<u8>(p + off + 3) != 0) return -<i64>DROP_UNSUPPORTED;
    at = off;
    nh = <u32>load<u8>(p + off);
    off += (<u32>load<u8>(p + off + 1) + 1) << 3;
    if (off > len) return -<i64>DROP_MALFORMED;
  }
  return (<i64>at << 16) | <i64>off;
}

/** IPv4 options the ICV includes (RFC 4302 Appendix A.1): security, extended and commercial security,
 *  router alert, sender-directed multi-destination delivery. All others are zeroed as a whole. */
// @ts-ignore: decorator
@inline function immutableOption(t: u32): bool {
  return t == 130 || t == 133 || t == 134 || t == 148 || t == 149;
}

/**
 * Zero in place the mutable fields of the header chain [p, p + hl) (RFC 4302 §3.3.3.1), or with
 * zero = false only check that its options parse. IPv4: TOS, flags, fragment offset, TTL, checksum and
 * mutable options; with source routing on output, the destination becomes the final one, as the receiver
 * will see it. IPv6: traffic class, flow label, hop limit and the data of options whose type has the
 * "may change en route" bit (0x20). Returns false if the options are malformed.
 */
function mutableFields(p: usize, hl: u32, version: u32, zero: bool, outbound: bool): bool {
  if (version == 4) {
    let off: u32 = 20;
    while (off < hl) {
      const t = <u32>load<u8>(p + off);
      if (t == 0) break;              // end of options: what follows is padding, included as is
      if (t == 1) { off++; continue; } // no-op
      if (off + 2 > hl) return false;
      const n = <u32>load<u8>(p + off + 1);
      if (n < 2 || off + n > hl) return false;
      if (zero && !immutableOption(t)) {
        if (outbound && (t == OPT_LSRR || t == OPT_SSRR) && n >= 7) memory.copy(p + 16, p + off + n - 4, 4); // last hop
        memory.fill(p + off, 0, n);
      }
      off += n;
    }
    if (zero) {
      store<u8>(p + 1, 0);
      store<u32>(p + 6, load<u32>(p + 6) & 0xff000000); // flags, fragment offset, TTL; keeps protocol
      store<u16>(p + 10, 0);
    }
    return true;
  }
  let nh = <u32>load<u8>(p + 6);
  let off: u32 = 40;
  while (off < hl) {
    const end = off + ((<u32>load<u8>(p + off + 1) + 1) << 3);
    if (nh != 43) { // hop-by-hop or destination options (ipv6Chain let nothing else through)
      let o = off + 2;
      while (o < end) {
        const t = <u32>load<u8>(p + o);
        if (t == 0) { o++; continue; } // Pad1
        if (o + 2 > end) return false;
        const n = <u32>load<u8>(p + o + 1);
        if (o + 2 + n > end) return false;
        if (zero && (t & 0x20) != 0) memory.fill(p + o + 2, 0, n);
        o += 2 + n;
      }
    }
    nh = <u32>load<u8>(p + off);
    off = end;
  }
  if (zero) {
    store<u32>(p, load<u32>(p) & 0xf0); // the version stays; traffic class and flow label go
    store<u8>(p + 7, 0);                  // hop limit
  }
  return true;
}

/**
 * Compute (verify = false: write it at icvAt) or check (against the descriptor's copy) the ICV over the
 * len bytes at msg, whose mutable fields and ICV are zero. With ESN the high half of the sequence number
 * follows the packet (RFC 4302 §2.5.1): it is written into the tailroom for the computation, and the four
 * bytes there restored after. GMAC (RFC 4543 §4): nonce = salt ‖ IV, AAD = that same message, no
 * plaintext; only the tag is zeroed in the AAD, the IV (an input, in the Authentication Data) stays.
 */
function authenticate(sa: usize, d: usize, msg: usize, len: u32, icvAt: usize, seq: u64, verify: bool): bool {
  const flags = load<u32>(sa + SA_FLAGS);
  const integ = load<u32>(sa + SA_INTEG);
  const esn = (flags & SAF_ESN) != 0;
  const end = msg + len;
  let kept: u32 = 0;
  if (esn) {
    kept = load<u32>(end);
    store<u32>(end, bswap<u32>(<u32>(seq >> 32)));
    len += 4;
  }
  let ok = true;
  if (integ == INTEG_AES_GMAC) {
    const nonce = d + D_AH_NONCE;
    store<u32>(nonce, load<u32>(sa + SA_SALT));
    store<u64>(nonce + 4, load<u64>(icvAt - GMAC_IV));
    if (verify) {
      ok = gcmOpen(sa + SA_AUTH, nonce, msg, <i32>len, 0, 0, d + D_AH_TAG, <i32>GMAC_TAG);
    } else {
      gcmSeal(sa + SA_AUTH, nonce, msg, <i32>len, 0, 0, d + D_AH_TAG, <i32>GMAC_TAG);
      memory.copy(icvAt, d + D_AH_TAG, GMAC_TAG);
    }
  } else {
    const icv = load<u32>(sa + SA_ICV_LEN);
    hmacRun(sa + SA_AUTH, integ, msg, len);
    if (verify) ok = hmacEqual(integ, d + D_AH_ICV, icv);
    else hmacStore(integ, icvAt, icv);
  }
  if (esn) store<u32>(end, kept);
  return ok;
}

/** Write the outer header of a tunnel-mode packet at p, mutable fields zero (set by finishOuter). */
function writeOuter(sa: usize, p: usize, version: u32, total: u32, seq: u64): void {
  if (version == 6) {
    store<u32>(p, 0x60);
    put16(p + 4, total - 40);
    store<u8>(p + 6, <u8>PROTO_AH);
    store<u8>(p + 7, 0);
    memory.copy(p + 8, sa + SA_LOCAL_ADDR, 16);
    memory.copy(p + 24, sa + SA_REMOTE_ADDR, 16);
    return;
  }
  store<u32>(p, 0x45); // version, IHL 5, TOS 0 (set later), total length below
  put16(p + 2, total);
  put16(p + 4, nonZeroId(seq));
  store<u32>(p + 6, 0);
  store<u8>(p + 9, <u8>PROTO_AH);
  store<u16>(p + 10, 0);
  memory.copy(p + 12, sa + SA_LOCAL_ADDR, 4);
  memory.copy(p + 16, sa + SA_REMOTE_ADDR, 4);
}

/** The outer header's mutable fields (RFC 4301 §5.1.2): DSCP and ECN copied from the inner packet (RFC 6040's
 *  normal mode), DF copied from an IPv4 inner header and set for IPv6, a fresh TTL, the checksum. */
function finishOuter(p: usize, version: u32, inner: usize): void {
  const innerV4 = (<u32>load<u8>(inner) >> 4) == 4;
  const tos = innerV4 ? <u32>load<u8>(inner + 1) : (be16(inner) >> 4) & 0xff;
  if (version == 6) {
    put16(p, 0x6000 | (tos << 4));
    store<u8>(p + 7, OUTER_TTL);
    return;
  }
  store<u8>(p + 1, <u8>tos);
  store<u8>(p + 6, innerV4 ? load<u8>(inner + 6) & 0x40 : 0x40);
  store<u8>(p + 8, OUTER_TTL);
  setIpv4Checksum(p, 20);
}

/** An IPv4 Identification for an AH packet: never 0 (which the kernel would overwrite), distinct for 65535
 *  consecutive packets of the SA. */
// @ts-ignore: decorator
@inline function nonZeroId(seq: u64): u32 {
  return <u32>(seq % 0xffff) + 1;
}

/** AH encapsulation of the IP packet described by d with the outbound AH SA in D_SA. */
export function ahEncap(d: usize): u32 {
  const sa = saPtr(load<u32>(d + D_SA));
  if (sa == 0 || atomic.load<u32>(sa + SA_STATE) != 1) return fail(0, DROP_BAD_SA);
  const flags = load<u32>(sa + SA_FLAGS);
  if ((flags & (SAF_OUTBOUND | SAF_AH)) != (SAF_OUTBOUND | SAF_AH)) return fail(0, DROP_BAD_SA);
  if ((load<u32>(sa + SA_EXPIRE) & EXP_HARD) != 0) return fail(sa, DROP_EXPIRED);

  const pkt = <usize>load<u32>(d + D_IN_OFF);
  const len = load<u32>(d + D_IN_LEN);
  const room = load<u32>(d + D_ROOM);
  const tunnel = (flags & SAF_TUNNEL) != 0;
  const inner: u32 = len > 0 ? <u32>load<u8>(pkt) >> 4 : 0;
  // version: of the packet AH goes into; hl: its header chain before AH; nhAt: the field that will say 51.
  let version: u32, hl: u32, nhAt: u32, nh: u32;
  if (tunnel) {
    if (inner == 4 && len >= 20) nh = 4;
    else if (inner == 6 && len >= 40) nh = 41;
    else return fail(sa, DROP_MALFORMED);
    version = load<u32>(sa + SA_AF);
    hl = version == 6 ? 40 : 20;
    nhAt = version == 6 ? 6 : 9;
  } else {
    version = inner;
    if (version == 4 && len >= 20) {
      hl = (<u32>load<u8>(pkt) & 15) << 2;
      if (hl < 20 || hl > len || be16(pkt + 2) != len) return fail(sa, DROP_MALFORMED);
      if ((be16(pkt + 6) & 0x3fff) != 0) return fail(sa, DROP_UNSUPPORTED); // fragments: reassemble first
      nhAt = 9;
    } else if (version == 6 && len >= 40) {
      if (be16(pkt + 4) + 40 != len) return fail(sa, DROP_MALFORMED);
      const c = ipv6Chain(pkt, len, false);
      if (c < 0) return fail(sa, <u32>-c);
      hl = <u32>c & 0xffff;
      nhAt = <u32>(c >> 16);
    } else return fail(sa, DROP_MALFORMED);
    if (!mutableFields(pkt, hl, version, false, true)) return fail(sa, DROP_MALFORMED);
    nh = <u32>load<u8>(pkt + nhAt);
  }
  const integ = load<u32>(sa + SA_INTEG);
  const ahLen = ahLength(integ, load<u32>(sa + SA_ICV_LEN), version);
  const total = tunnel ? hl + ahLen + len : len + ahLen;
  const esnRoom: u32 = (flags & SAF_ESN) != 0 ? 4 : 0;
  // Headroom for what goes in front; tailroom for the ESN high half and, in transport mode, a copy of the
  // header while its mutable fields are zeroed.
  if (total - (version == 6 ? 40 : 0) > 65535 || (room & 0xffff) < total - len ||
      (room >>> 16) < esnRoom + (tunnel ? 0 : hl)) {
    return fail(sa, DROP_NO_ROOM);
  }
  const seq = nextSeq(sa, flags);
  if (seq == 0) return fail(sa, DROP_SEQ_EXHAUSTED);

  const out = pkt + len - total;
  const ah = out + hl;
  const saved = pkt + len + esnRoom;
  if (tunnel) {
    writeOuter(sa, out, version, total, seq);
  } else {
    memory.copy(out, pkt, hl);
    store<u8>(out + nhAt, <u8>PROTO_AH);
    if (version == 6) {
      put16(out + 4, total - 40);
    } else {
      put16(out + 2, total);
      if (load<u16>(out + 4) == 0) put16(out + 4, nonZeroId(seq));
    }
  }
  store<u8>(ah, <u8>nh);
  store<u8>(ah + 1, <u8>((ahLen >> 2) - 2));
  store<u16>(ah + 2, 0);
  store<u32>(ah + 4, bswap<u32>(load<u32>(sa + SA_SPI)));
  store<u32>(ah + 8, bswap<u32>(<u32>seq));
  memory.fill(ah + AH_FIXED, 0, ahLen - AH_FIXED); // ICV zero for the computation, padding zero for good
  if (integ == INTEG_AES_GMAC) store<u64>(ah + AH_FIXED, bswap<u64>(seq)); // IV: unique per packet, as ESP's

  if (!tunnel) {
    memory.copy(saved, out, hl);
    mutableFields(out, hl, version, true, true);
  }
  authenticate(sa, d, out, total, ah + icvOffset(integ), seq, false);
  if (tunnel) {
    finishOuter(out, version, pkt);
  } else {
    memory.copy(out, saved, hl);
    if (version == 4) setIpv4Checksum(out, hl);
  }
  store<u32>(d + D_OUT_OFF, <u32>out);
  store<u32>(d + D_OUT_LEN, total);
  account(sa, tunnel ? len : len - hl);
  return ST_OK;
}

/** AH decapsulation of the IP packet described by d (as received, starting at its IP header). */
export function ahDecap(d: usize): u32 {
  const pkt = <usize>load<u32>(d + D_IN_OFF);
  const len = load<u32>(d + D_IN_LEN);
  const room = load<u32>(d + D_ROOM);
  store<u32>(d + D_SA, 0xffffffff);
  if (len < 20) return fail(0, DROP_TOO_SHORT);
  const version = <u32>load<u8>(pkt) >> 4;
  let hl: u32, nhAt: u32;
  if (version == 4) {
    hl = (<u32>load<u8>(pkt) & 15) << 2;
    if (hl < 20 || hl > len || be16(pkt + 2) != len) return fail(0, DROP_MALFORMED);
    if ((be16(pkt + 6) & 0x3fff) != 0) return fail(0, DROP_UNSUPPORTED); // RFC 4302 §3.4.1: reassemble first
    if (<u32>load<u8>(pkt + 9) != PROTO_AH) return fail(0, DROP_BAD_NEXT_HEADER);
    nhAt = 9;
  } else if (version == 6) {
    if (len < 40) return fail(0, DROP_TOO_SHORT);
    if (be16(pkt + 4) + 40 != len) return fail(0, DROP_MALFORMED); // jumbograms included
    const c = ipv6Chain(pkt, len, true);
    if (c < 0) return fail(0, <u32>-c);
    hl = <u32>c & 0xffff;
    nhAt = <u32>(c >> 16);
  } else return fail(0, DROP_MALFORMED);
  if (len < hl + AH_FIXED) return fail(0, DROP_TOO_SHORT);

  const ah = pkt + hl;
  const h = saLookup(bswap<u32>(load<u32>(ah + 4)));
  if (h < 0) return fail(0, DROP_UNKNOWN_SPI);
  const sa = saPtr(<u32>h);
  // Deleted meanwhile, or an ESP SA (SPIs are unique across both protocols): no AH SA has this SPI.
  if (atomic.load<u32>(sa + SA_STATE) != 1 || (load<u32>(sa + SA_FLAGS) & SAF_AH) == 0) return fail(0, DROP_UNKNOWN_SPI);
  store<u32>(d + D_SA, <u32>h);
  const flags = load<u32>(sa + SA_FLAGS);
  if ((load<u32>(sa + SA_EXPIRE) & EXP_HARD) != 0) return fail(sa, DROP_EXPIRED);
  const integ = load<u32>(sa + SA_INTEG);
  const icv = load<u32>(sa + SA_ICV_LEN);
  const ahLen = ahLength(integ, icv, version);
  if (((<u32>load<u8>(ah + 1) + 2) << 2) != ahLen) return fail(sa, DROP_MALFORMED); // not this SA's ICV size
  if (len < hl + ahLen) return fail(sa, DROP_TOO_SHORT);
  if (!mutableFields(pkt, hl, version, false, false)) return fail(sa, DROP_MALFORMED);
  const tunnel = (flags & SAF_TUNNEL) != 0;
  // Tailroom for the ESN high half; transport mode keeps the header as received in the headroom.
  if ((room >>> 16) < ((flags & SAF_ESN) != 0 ? 4 : 0) || (!tunnel && (room & 0xffff) < hl)) {
    return fail(sa, DROP_NO_ROOM);
  }

  const seq = replayInfer(sa + SA_REPLAY, bswap<u32>(load<u32>(ah + 8)));
  const r = replayCheck(sa + SA_REPLAY, seq);
  if (r != 0) return fail(sa, replayReason(r));

  const icvAt = ah + icvOffset(integ);
  memory.copy(integ == INTEG_AES_GMAC ? d + D_AH_TAG : d + D_AH_ICV, icvAt, icv);
  memory.fill(icvAt, 0, icv);
  if (!tunnel) memory.copy(pkt - hl, pkt, hl);
  mutableFields(pkt, hl, version, true, false);
  if (!authenticate(sa, d, pkt, len, icvAt, seq, true)) return fail(sa, DROP_AUTH_FAILED);
  const u = replayUpdate(sa + SA_REPLAY, seq); // only now, after the ICV (RFC 4302 §3.4.3)
  if (u != 0) return fail(sa, replayReason(u));

  const nh = <u32>load<u8>(ah);
  const payload = ah + ahLen;
  const plen = len - hl - ahLen;
  let out: usize, outLen: u32;
  if (tunnel) {
    if (nh != 4 && nh != 41) return fail(sa, DROP_BAD_NEXT_HEADER);
    if (innerLength(payload, plen, nh == 4 ? 4 : 6) != plen) return fail(sa, DROP_MALFORMED);
    out = payload;
    outLen = plen;
  } else {
    // The header as received, AH taken out of the chain.
    out = payload - hl;
    outLen = plen + hl;
    memory.copy(out, pkt - hl, hl);
    store<u8>(out + nhAt, <u8>nh);
    if (version == 6) {
      put16(out + 4, outLen - 40);
    } else {
      put16(out + 2, outLen);
      setIpv4Checksum(out, hl);
    }
  }
  if (!policyAllows(sa, out, outLen)) return fail(sa, DROP_POLICY);
  store<u32>(d + D_OUT_OFF, <u32>out);
  store<u32>(d + D_OUT_LEN, outLen);
  account(sa, outLen);
  return ST_OK;
}
