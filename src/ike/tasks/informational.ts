// INFORMATIONAL exchanges (RFC 7296 §1.4): deleting Child SAs and IKE SAs, and liveness checks (DPD,
// an empty request the peer must answer).
import { ExchangeType, PayloadType, ProtocolId, findPayloads, type IkeMessage, type Payload } from "../wire/index.js";
import type { IkeSa } from "../ike-sa.js";
import type { IkeEngine } from "../engine.js";
import { hex8 } from "../engine.js";
import type { ChildSa } from "../child-sa.js";
import { concludeCollision } from "./ike-rekey.js";
import { protocolOf } from "../proposals.js";

export function initiateDeleteChild(engine: IkeEngine, sa: IkeSa, child: ChildSa): void {
  if (child.state === "deleting" || child.state === "deleted") return;
  if (sa.state !== "established" && sa.state !== "rekeying") return engine.removeChild(sa, child, "IKE SA not usable");
  // Built when it goes out: "deleting" then means our DELETE is on the wire (a crossing one is answered
  // without our SPI, RFC 7296 §1.4.1), and a child the peer deleted meanwhile needs none.
  const build = (): Payload[] | undefined => {
    if (child.state === "deleting" || child.state === "deleted") return undefined;
    child.state = "deleting";
    engine.log.log("chd", 1, `sending DELETE for ${child.spec.protocol.toUpperCase()} CHILD_SA with SPI ${hex8(child.spiIn)}`, sa);
    return [{ type: PayloadType.DELETE, protocol: protocolOf(child.spec.protocol), spis: [child.spiIn] }];
  };
  engine.request(sa, ExchangeType.INFORMATIONAL, build,
    () => engine.removeChild(sa, child, "deleted"),
    () => { engine.removeChild(sa, child, "delete unanswered"); engine.destroy(sa, "peer did not answer a DELETE"); });
}

export function initiateDeleteIke(engine: IkeEngine, sa: IkeSa): void {
  if (sa.state === "deleting" || sa.state === "destroyed") return;
  if (sa.state !== "established" && sa.state !== "rekeying" && sa.state !== "rekeyed") return engine.destroy(sa, "terminated before it was established");
  sa.state = "deleting";
  engine.log.log("ike", 0, `deleting IKE_SA ${sa.name}[${sa.uniqueId}] between ${sa.local.address}...${sa.remote.address}`, sa);
  engine.request(sa, ExchangeType.INFORMATIONAL, [{ type: PayloadType.DELETE, protocol: ProtocolId.IKE, spis: [] }],
    () => engine.destroy(sa, "deleted"), () => engine.destroy(sa, "DELETE unanswered"));
}

export function initiateDpd(engine: IkeEngine, sa: IkeSa): void {
  engine.log.log("ike", 2, "sending DPD request", sa);
  engine.request(sa, ExchangeType.INFORMATIONAL, [], () => undefined, () => {
    const restart = sa.conn.children.some((c) => c.dpdAction === "restart");
    engine.destroy(sa, "DPD: peer did not answer liveness checks");
    if (restart) {
      engine.log.log("ike", 0, `restarting connection ${sa.conn.name} (dpd_action = restart)`);
      try { engine.initiate(sa.conn.name); } catch (e) { engine.log.log("ike", 0, (e as Error).message); }
    }
  });
}

export function respondInformational(engine: IkeEngine, sa: IkeSa, req: IkeMessage, inner: Payload[]): void {
  const deletes = findPayloads(inner, PayloadType.DELETE);
  if (deletes.some((d) => d.protocol === ProtocolId.IKE)) {
    engine.log.log("ike", 0, `received DELETE for IKE_SA ${sa.name}[${sa.uniqueId}]`, sa);
    engine.respond(sa, req, []);
    // §2.25.2: our own rekey is forgotten, but a rekey of the peer's that we answered meanwhile stands.
    if (concludeCollision(engine, sa)) engine.log.log("ike", 1, "the peer may not have noticed the IKE_SA rekey collision", sa);
    return engine.destroy(sa, "deleted by peer");
  }
  const ours = new Map<number, number[]>(); // our inbound SPIs by protocol, for the DELETEs of the response
  const gone: ChildSa[] = [];
  for (const d of deletes) {
    if (d.protocol !== ProtocolId.ESP && d.protocol !== ProtocolId.AH) continue;
    for (const spi of d.spis) {
      // The peer names its inbound SPI, which is our outbound one, of the protocol the DELETE names.
      const child = [...sa.children.values()].find((c) => c.spiOut === spi && protocolOf(c.spec.protocol) === d.protocol);
      if (!child) {
        engine.log.log("chd", 1, `received DELETE for unknown CHILD_SA SPI ${hex8(spi)}`, sa);
        sa.childRekey?.deletedSpis.push(spi); // maybe the SA our rekey in flight creates
        continue;
      }
      // A simultaneous delete (both sides deleting the same child): answer without our SPI (RFC 7296 §1.4.1).
      if (child.state !== "deleting") ours.set(d.protocol, [...(ours.get(d.protocol) ?? []), child.spiIn]);
      gone.push(child);
    }
  }
  engine.respond(sa, req, [...ours].map(([protocol, spis]) => ({ type: PayloadType.DELETE, protocol, spis })));
  for (const c of gone) engine.removeChild(sa, c, "deleted by peer");
}
