// SA payload proposals: built from configuration, selected against the peer's, and explained when no
// proposal matches (both sides side by side, naming the transform type that had nothing in common).
import { ProtocolId, TransformType, protocolName, transformIdName } from "./wire/index.js";
import type { Proposal as WireProposal, Transform } from "./wire/index.js";
import { proposalTransforms, type Proposal as ConfigProposal } from "./crypto/transforms.js";

/** SA payload proposals for our configured proposals (numbered from 1, each with its own protocol, all with `spi`). */
export function offerProposals(config: readonly ConfigProposal[], spi: Buffer): WireProposal[] {
  return config.map((p, i) => ({
    number: i + 1, protocol: protocolOf(p.protocol), spi,
    transforms: proposalTransforms(p).map((t) => ({ type: t.type, id: t.id, ...(t.keyLength ? { keyLength: t.keyLength } : {}) })),
  }));
}

const sameTransform = (a: Transform, b: Transform) =>
  a.type === b.type && a.id === b.id && (a.keyLength ?? 0) === (b.keyLength ?? 0) && (a.attributes?.length ?? 0) === 0
  && (b.attributes?.length ?? 0) === 0;

/** The transform types a proposal uses, in the order RFC 7296 lists them. */
function typesOf(p: WireProposal): number[] {
  return [...new Set(p.transforms.map((t) => t.type))].sort((a, b) => a - b);
}

export type Selection =
  | { ok: true; proposal: WireProposal }
  | { ok: false; reason: string };

/**
 * Pick a proposal. Like strongSwan's default (prefer_configured_proposals), our own order decides:
 * for each of our proposals in turn, the first of the peer's that has, for every transform type
 * either side uses, a transform in common (taken in our order of preference). The result carries the
 * peer's proposal number and SPI and exactly one transform per type (the form a response takes).
 * Proposals with a type the other side lacks do not match, except that an absent DH in a Child SA
 * proposal equals "no PFS" only when neither side has one.
 */
export function selectProposal(ours: readonly WireProposal[], theirs: readonly WireProposal[]): Selection {
  for (const mine of ours) {
    for (const peer of theirs) {
      if (peer.protocol !== mine.protocol) continue;
      const types = new Set([...typesOf(mine), ...typesOf(peer)]);
      const chosen: Transform[] = [];
      let match = true;
      for (const type of [...types].sort((a, b) => a - b)) {
        const pick = mine.transforms.filter((t) => t.type === type).find((t) => peer.transforms.some((u) => sameTransform(t, u)));
        if (!pick) { match = false; break; }
        chosen.push({ type: pick.type, id: pick.id, ...(pick.keyLength ? { keyLength: pick.keyLength } : {}) });
      }
      if (match) return { ok: true, proposal: { number: peer.number, protocol: peer.protocol, spi: peer.spi, transforms: chosen } };
    }
  }
  return { ok: false, reason: explainMismatch(ours, theirs) };
}

/** A response must echo exactly one of the proposals we offered, with one transform of each of its types. */
export function checkSelected(offered: readonly WireProposal[], response: readonly WireProposal[]): Selection {
  if (response.length !== 1) return { ok: false, reason: `peer returned ${response.length} proposals, expected exactly one` };
  const got = response[0];
  const mine = offered.find((p) => p.number === got.number && p.protocol === got.protocol);
  if (!mine) return { ok: false, reason: `peer selected proposal #${got.number}, which we did not offer` };
  const types = typesOf(got);
  if (types.length !== got.transforms.length) return { ok: false, reason: "peer selected more than one transform of a type" };
  for (const t of got.transforms) {
    if (!mine.transforms.some((u) => sameTransform(t, u))) {
      return { ok: false, reason: `peer selected ${transformIdName(t.type, t.id)} which proposal #${mine.number} did not contain` };
    }
  }
  for (const type of typesOf(mine)) {
    if (!types.includes(type) && !(type === TransformType.DH && mine.transforms.some((t) => t.type === type && t.id === 0))) {
      return { ok: false, reason: `peer's selection lacks a ${typeName(type)} transform` };
    }
  }
  return { ok: true, proposal: got };
}

const TYPE_NAMES: Record<number, string> = { 1: "encryption", 2: "PRF", 3: "integrity", 4: "key exchange (DH group)", 5: "ESN" };
const typeName = (t: number) => TYPE_NAMES[t] ?? `transform type ${t}`;

/** "AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519" — strongSwan's way of printing a proposal. */
export function describeProposal(p: WireProposal): string {
  return p.transforms.map((t) => {
    const name = transformIdName(t.type, t.id).replace(/^(ENCR|PRF|AUTH|DH|ESN)_/, (m) => (t.type === TransformType.PRF ? "PRF_" : ""));
    return t.keyLength ? `${name}_${t.keyLength}` : name;
  }).join("/");
}

/** describeProposal with the protocol in front for Child SA proposals ("AH:HMAC_SHA2_256_128/NO_ESN"), as strongSwan logs them. */
export function describeWithProtocol(p: WireProposal): string {
  return p.protocol === ProtocolId.IKE ? describeProposal(p) : `${protocolName(p.protocol)}:${describeProposal(p)}`;
}

/** Configured proposals as strongSwan prints them ("ESP:AES_GCM_16_128/NO_ESN", "AH:HMAC_SHA2_256_128/NO_ESN"). */
export function describeProposals(config: readonly ConfigProposal[]): string[] {
  return offerProposals(config, Buffer.alloc(0)).map(describeWithProtocol);
}

function explainMismatch(ours: readonly WireProposal[], theirs: readonly WireProposal[]): string {
  const lines = ["no acceptable proposal:", `  ours:   ${ours.map(describeWithProtocol).join(", ") || "(none)"}`,
    `  theirs: ${theirs.map(describeWithProtocol).join(", ") || "(none)"}`];
  const protocols = (l: readonly WireProposal[]) => new Set(l.map((p) => p.protocol));
  const mine = protocols(ours), common = [...protocols(theirs)].filter((p) => mine.has(p));
  if (ours.length && theirs.length && common.length === 0) {
    const fmt = (l: readonly WireProposal[]) => [...protocols(l)].map(protocolName).join(", ");
    return [...lines, `  no common protocol: ours [${fmt(ours)}], theirs [${fmt(theirs)}]`].join("\n");
  }
  // Name the transform types with nothing in common across all proposals of the protocols both sides use.
  const missing: string[] = [];
  for (const type of [1, 2, 3, 4, 5]) {
    const a = ours.filter((p) => common.includes(p.protocol)).flatMap((p) => p.transforms.filter((t) => t.type === type));
    const b = theirs.filter((p) => common.includes(p.protocol)).flatMap((p) => p.transforms.filter((t) => t.type === type));
    if (a.length === 0 && b.length === 0) continue;
    if (!a.some((t) => b.some((u) => sameTransform(t, u)))) {
      const fmt = (l: Transform[]) => [...new Set(l.map((t) => (t.keyLength ? `${transformIdName(t.type, t.id)}_${t.keyLength}` : transformIdName(t.type, t.id))))].join(", ") || "none";
      missing.push(`  no common ${typeName(type)}: ours [${fmt(a)}], theirs [${fmt(b)}]`);
    }
  }
  if (missing.length === 0) lines.push("  every transform type has a common algorithm, but no single proposal combines them");
  return [...lines, ...missing].join("\n");
}

export const protocolOf = (name: "ike" | "esp" | "ah") => (name === "ike" ? ProtocolId.IKE : name === "esp" ? ProtocolId.ESP : ProtocolId.AH);
