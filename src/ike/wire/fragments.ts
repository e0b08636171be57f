// IKE fragmentation (RFC 7383): each fragment is its own message with an SKF payload, sealed on its own.
// Collecting fragments across datagrams (timeouts, memory limits) is the exchange layer's job; this module
// opens one fragment, reassembles a complete set, and splits an outgoing message.
import { GENERIC_PAYLOAD_HEADER_LENGTH, IKE_HEADER_LENGTH, PayloadType } from "./constants.js";
import { ensure } from "./bytes.js";
import { decodeChain, encodeChain, type PayloadChain } from "./chain.js";
import { guard, WireError } from "./errors.js";
import {
  chainContext,
  checkProtectable,
  encodeSealed,
  sealedPrefix,
  type DecodeOptions,
  type IkeMessage,
  type OutgoingMessage,
} from "./message.js";
import type { SkfPayload } from "./payloads/index.js";
import { open, type SkDecrypter, type SkEncrypter } from "./protect.js";

export interface OpenedFragment {
  fragmentNumber: number;
  totalFragments: number;
  /** First inner payload type (fragment 1 only; 0 otherwise). */
  firstPayload: number;
  /** This fragment's share of the inner payload bytes. */
  data: Buffer;
}

const SKF_FIELDS_LENGTH = 4;
const MAX_FRAGMENTS = 0xffff;

/** Verify and decrypt the message's SKF payload. */
export function openFragment(msg: IkeMessage, decrypter: SkDecrypter): OpenedFragment {
  return guard(() => {
    const skf = msg.payloads.at(-1);
    if (skf?.type !== PayloadType.SKF) throw new WireError("MISPLACED_PAYLOAD", "message has no SKF payload");
    const data = open(decrypter, sealedPrefix(msg, skf), skf.body);
    const { fragmentNumber, totalFragments, firstPayload } = skf;
    return { fragmentNumber, totalFragments, firstPayload, data };
  });
}

/** Join a complete fragment set (any order, each number exactly once) and decode the inner payload chain. */
export function reassemble(fragments: readonly OpenedFragment[], options: DecodeOptions = {}): PayloadChain {
  return guard(() => {
    const total = fragments[0]?.totalFragments ?? 0;
    if (fragments.length === 0 || fragments.length !== total) {
      throw new WireError("BAD_FRAGMENT", `${fragments.length} fragments for a total of ${total}`);
    }
    const ordered: OpenedFragment[] = new Array(total);
    for (const f of fragments) {
      if (f.totalFragments !== total) throw new WireError("BAD_FRAGMENT", "fragments disagree on the total");
      if (f.fragmentNumber < 1 || f.fragmentNumber > total || ordered[f.fragmentNumber - 1]) {
        throw new WireError("BAD_FRAGMENT", `fragment number ${f.fragmentNumber} missing or repeated`);
      }
      ordered[f.fragmentNumber - 1] = f;
    }
    const inner = Buffer.concat(ordered.map((f) => f.data));
    return decodeChain(inner, 0, inner.length, ordered[0]!.firstPayload, chainContext(options), true);
  });
}

/**
 * Split `msg.encrypted` over as few SKF messages as fit `maxMessageLength` bytes each (IKE message only: the caller
 * subtracts IP, UDP and Non-ESP marker overhead from the path MTU, RFC 7383 §2.5.1). Cleartext payloads are refused:
 * fragmented exchanges carry everything inside the encrypted payload.
 */
export function encodeFragmented(msg: OutgoingMessage, encrypter: SkEncrypter, maxMessageLength: number): Buffer[] {
  ensure(msg.encrypted !== undefined, "nothing to fragment");
  ensure((msg.payloads ?? []).length === 0, "fragmented messages carry no cleartext payloads");
  checkProtectable(msg.encrypted);
  const inner = encodeChain(msg.encrypted);
  const room = maxMessageLength - (IKE_HEADER_LENGTH + GENERIC_PAYLOAD_HEADER_LENGTH + SKF_FIELDS_LENGTH);
  // Largest chunk whose sealed body fits; IV, padding and ICV are a few dozen bytes, so few steps.
  let chunk = room;
  while (chunk > 0 && encrypter.bodyLength(chunk) > room) chunk--;
  ensure(chunk >= 1, `maxMessageLength ${maxMessageLength} leaves no room for data`);
  const total = Math.max(1, Math.ceil(inner.bytes.length / chunk));
  ensure(total <= MAX_FRAGMENTS, `${total} fragments exceed ${MAX_FRAGMENTS}`);
  const out: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    const trailer = (body: Buffer): SkfPayload => ({
      type: PayloadType.SKF,
      firstPayload: i === 0 ? inner.first : PayloadType.NONE,
      fragmentNumber: i + 1,
      totalFragments: total,
      body,
    });
    const data = inner.bytes.subarray(i * chunk, (i + 1) * chunk);
    out.push(encodeSealed(msg.header, [], trailer, data, encrypter));
  }
  return out;
}
