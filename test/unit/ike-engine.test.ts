// Two of our IKEv2 engines, message by message: establishment, Child SA installation into real data
// planes (traffic crosses), rekeys, deletes, DPD, error paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IkePair, conn } from "../helpers/ike-pair.js";
import { parseProposals } from "../../src/ike/crypto/index.js";
import type { IkeSa } from "../../src/ike/ike-sa.js";
import type { DataPlane } from "../../src/dataplane/dataplane.js";
import { ipv4Packet } from "../helpers/packets.js";

function pair(o: Parameters<typeof conn>[3] = {}, child: Parameters<typeof conn>[4] = {}, ob = o, childB = child, secretB?: string) {
  const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", o, child), conn("sun-moon", "192.0.2.2", "192.0.2.1", ob, childB));
  if (secretB) p.b.engine.secrets = [{ ids: [], secret: Buffer.from(secretB) }];
  return p;
}

function only(sas: IkeSa[]): IkeSa {
  assert.equal(sas.length, 1, `expected one IKE SA, got ${sas.length}`);
  return sas[0];
}

/** Send one packet from `from`'s outbound SA of its only child to `to` and check it arrives intact. */
function traffic(from: DataPlane, fromSa: IkeSa, to: DataPlane, src: string, dst: string): void {
  const child = [...fromSa.children.values()].find((c) => c.state === "installed")!;
  const b = from.batch(1);
  const pkt = ipv4Packet({ src, dst, payloadLen: 100 });
  b.push(pkt, child.handles!.out);
  assert.equal(b.encap(), 1);
  const r = to.batch(1);
  r.push(Uint8Array.from(b.output(0)));
  assert.equal(r.decap(), 1, `decap status ${r.status(0)}`);
  assert.deepEqual(Uint8Array.from(r.output(0)), pkt);
}

test("IKE_SA_INIT + IKE_AUTH with PSK; the first Child SA is installed on both sides and carries traffic", () => {
  for (const [ike, esp] of [["aes128-sha256-x25519", "aes128gcm16"], ["aes256gcm16-prfsha384-ecp384", "aes256gcm16"]]) {
    const p = pair({ proposals: parseProposals(ike, "ike") }, { espProposals: parseProposals(esp, "esp") });
    p.a.engine.initiate("moon-sun");
    p.run();
    const sa = only(p.a.engine.sas()), sb = only(p.b.engine.sas());
    assert.equal(sa.state, "established", p.a.log.join("\n"));
    assert.equal(sb.state, "established", p.b.log.join("\n"));
    assert.equal(sa.spiI, sb.spiI);
    assert.equal(sa.spiR, sb.spiR);
    const ca = [...sa.children.values()], cb = [...sb.children.values()];
    assert.equal(ca.length, 1);
    assert.equal(cb.length, 1);
    assert.equal(ca[0].spiIn, cb[0].spiOut);
    assert.equal(ca[0].spiOut, cb[0].spiIn);
    assert.deepEqual(ca[0].spec.keysOut.encryptionKey, cb[0].spec.keysIn.encryptionKey);
    assert.equal(ca[0].spec.keysOut.encryptionKey.length, esp.startsWith("aes256") ? 36 : 20);
    // NAT-T forced (encap): IKE_AUTH ran on port 4500, children UDP-encapsulated.
    assert.equal(sa.remote.port, 4500);
    assert.ok(ca[0].spec.udpEncap);
    traffic(p.a.dp, sa, p.b.dp, "10.1.0.5", "10.2.0.7");
    traffic(p.b.dp, sb, p.a.dp, "10.2.0.7", "10.1.0.5");
  }
});

test("wrong PSK: the responder says the AUTH value did not verify; both SAs are gone", () => {
  const p = pair({}, {}, {}, {}, "another key");
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(p.a.engine.sas().length, 0);
  assert.equal(p.b.engine.sas().length, 0);
  assert.match(p.b.log.join("\n"), /authentication of 'moon' failed: the AUTH value did not verify/);
  assert.match(p.a.log.join("\n"), /AUTHENTICATION_FAILED/);
  assert.equal(p.a.dp.sadb.size, 0);
});

test("identity mismatch is reported as such", () => {
  const p = pair({}, {}, { remote: { auth: "psk", id: "@mars" } });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.match(p.b.log.join("\n"), /peer identity 'moon' does not match the configured remote id '@mars'/);
});

test("no matching IKE proposal: both proposal lists side by side and the transform type without a match", () => {
  const p = pair({ proposals: parseProposals("aes128-sha256-x25519", "ike") }, {}, { proposals: parseProposals("aes128-sha256-ecp384", "ike") });
  p.a.engine.initiate("moon-sun");
  p.run();
  const log = p.b.log.join("\n");
  assert.match(log, /ours: {3}AES_CBC_128\/PRF_HMAC_SHA2_256\/HMAC_SHA2_256_128\/ECP_384/);
  assert.match(log, /theirs: AES_CBC_128\/PRF_HMAC_SHA2_256\/HMAC_SHA2_256_128\/CURVE_25519/);
  assert.match(log, /no common key exchange \(DH group\): ours \[ECP_384\], theirs \[CURVE_25519\]/);
  assert.match(p.a.log.join("\n"), /NO_PROPOSAL_CHOSEN/);
  assert.equal(p.a.engine.sas().length, 0);
});

test("INVALID_KE_PAYLOAD: the initiator retries with the group the responder asks for", () => {
  const p = pair({ proposals: parseProposals("aes128-sha256-x25519-ecp256", "ike") }, {}, { proposals: parseProposals("aes128-sha256-ecp256", "ike") });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(only(p.a.engine.sas()).state, "established");
  assert.equal(only(p.a.engine.sas()).algs!.dh.id, 19);
  assert.deepEqual(p.exchanges().slice(0, 4), ["a→b 34q0", "b→a 34r0", "a→b 34q0", "b→a 34r0"]);
});

test("TS mismatch fails the Child SA with TS_UNACCEPTABLE and shows both sides; the IKE SA stays", () => {
  const p = pair({}, {}, {}, { localTs: [{ start: "10.9.0.0", end: "10.9.0.255" }] });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(only(p.a.engine.sas()).state, "established");
  assert.equal(only(p.a.engine.sas()).children.size, 0);
  assert.match(p.b.log.join("\n"), /no matching CHILD_SA config found/);
  assert.match(p.a.log.join("\n"), /TS_UNACCEPTABLE/);
});

test("selectors are narrowed by the responder", () => {
  const p = pair({}, { remoteTs: [{ start: "10.2.0.0", end: "10.2.255.255" }] }, {}, {});
  p.a.engine.initiate("moon-sun");
  p.run();
  const c = [...only(p.a.engine.sas()).children.values()][0];
  assert.deepEqual(c.spec.remoteTs.map((t) => [t.start, t.end]), [["10.2.0.0", "10.2.0.255"]]);
});

test("lost messages are retransmitted; a duplicate request is answered from the cache", () => {
  const p = pair();
  let dropped = 0;
  p.filter = (w) => !(w.dir === "b→a" && dropped++ < 2); // lose the first two responses
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(p.a.engine.sas()[0].state, "connecting");
  p.clock.advance(4.1); p.run();   // retransmit 1: response lost again
  p.clock.advance(7.3); p.run();   // retransmit 2
  p.clock.advance(30); p.run();
  assert.equal(only(p.a.engine.sas()).state, "established");
  assert.equal(p.a.engine.stats.retransmitted, 2);
});

test("a peer that never answers: the initiator gives up after its retransmissions", () => {
  const p = pair();
  p.filter = (w) => w.dir !== "a→b";
  let down = "";
  p.a.engine.on("ike-down", (_sa, why) => { down = why; });
  p.a.engine.initiate("moon-sun");
  for (let i = 0; i < 10; i++) { p.clock.advance(60); p.run(); }
  assert.match(down, /peer did not answer IKE_SA_INIT/);
  assert.equal(p.a.engine.stats.retransmitted, 5);
});

test("Child SA rekey from either side: new SAs installed before the old ones are deleted; traffic flows throughout", () => {
  for (const side of ["a", "b"] as const) {
    const p = pair();
    p.a.engine.initiate("moon-sun");
    p.run();
    const sa = only(p.a.engine.sas()), sb = only(p.b.engine.sas());
    const old = [...sa.children.values()][0];
    const me = side === "a" ? p.a : p.b, meSa = side === "a" ? sa : sb;
    me.engine.rekeyChild(meSa, [...meSa.children.values()][0]);
    p.run();
    const ca = [...sa.children.values()], cb = [...sb.children.values()];
    assert.equal(ca.length, 1, p.a.log.join("\n"));
    assert.equal(cb.length, 1, p.b.log.join("\n"));
    assert.notEqual(ca[0].spiIn, old.spiIn);
    assert.equal(ca[0].spiIn, cb[0].spiOut);
    assert.equal(p.a.dp.sadb.size, 2);
    assert.equal(p.b.dp.sadb.size, 2);
    traffic(p.a.dp, sa, p.b.dp, "10.1.0.5", "10.2.0.7");
    traffic(p.b.dp, sb, p.a.dp, "10.2.0.7", "10.1.0.5");
  }
});

test("Child SA rekey with PFS", () => {
  const p = pair({}, { espProposals: parseProposals("aes128gcm16-ecp256", "esp") });
  p.a.engine.initiate("moon-sun");
  p.run();
  const sa = only(p.a.engine.sas());
  p.a.engine.rekeyChild(sa, [...sa.children.values()][0]);
  p.run();
  assert.equal(sa.children.size, 1, p.a.log.join("\n") + p.b.log.join("\n"));
  traffic(p.a.dp, sa, p.b.dp, "10.1.0.5", "10.2.0.7");
  const child = [...sa.children.values()][0];
  assert.equal(child.spec.dhGroup, 19, "rekeyed with a fresh ECP-256 exchange");
  assert.equal([...only(p.b.engine.sas()).children.values()][0].spec.dhGroup, 19);
});

test("IKE SA rekey from either side: children move over, the old IKE SA is deleted", () => {
  for (const side of ["a", "b"] as const) {
    const p = pair();
    p.a.engine.initiate("moon-sun");
    p.run();
    const before = only(p.a.engine.sas());
    const child = [...before.children.values()][0];
    const me = side === "a" ? p.a : p.b;
    me.engine.rekeyIke(only(me.engine.sas()));
    p.run();
    const na = only(p.a.engine.sas()), nb = only(p.b.engine.sas());
    assert.notEqual(na.spiI, before.spiI);
    assert.equal(na.spiI, nb.spiI);
    assert.equal(na.state, "established");
    assert.deepEqual([...na.children.values()], [child]);
    assert.equal(na.initiator, side === "a");
    // The new IKE SA works: a DPD exchange and a child rekey on it.
    p.a.engine.dpd(na);
    p.run();
    p.a.engine.rekeyChild(na, child);
    p.run();
    assert.equal(na.children.size, 1);
    traffic(p.a.dp, na, p.b.dp, "10.1.0.5", "10.2.0.7");
  }
});

test("DELETE of a Child SA and of the IKE SA, from either side, removes them from both data planes", () => {
  const p = pair();
  p.a.engine.initiate("moon-sun");
  p.run();
  const sb = only(p.b.engine.sas());
  p.b.engine.terminateChild(sb, [...sb.children.values()][0]);
  p.run();
  assert.equal(p.a.dp.sadb.size, 0);
  assert.equal(p.b.dp.sadb.size, 0);
  assert.equal(only(p.a.engine.sas()).state, "established");
  p.a.engine.initiate("moon-sun", "net"); // a new child on the existing IKE SA (CREATE_CHILD_SA)
  p.run();
  assert.equal(p.a.dp.sadb.size, 2);
  p.a.engine.terminateIke(only(p.a.engine.sas()));
  p.run();
  assert.equal(p.a.engine.sas().length, 0);
  assert.equal(p.b.engine.sas().length, 0);
  assert.equal(p.b.dp.sadb.size, 0);
});

test("DPD: a dead peer is detected and the SA torn down; dpd_action=restart initiates again", () => {
  const p = pair({ dpdDelay: 10 }, { dpdAction: "restart" }, {}, {}); // only moon probes and restarts
  p.a.engine.initiate("moon-sun");
  p.run();
  const first = only(p.a.engine.sas());
  p.filter = () => false; // the peer dies
  for (let i = 0; i < 40 && !p.a.log.join("\n").includes("restarting connection"); i++) { p.clock.advance(10); p.run(); }
  assert.equal(first.state, "destroyed");
  assert.match(p.a.log.join("\n"), /DPD: peer did not answer liveness checks/);
  assert.match(p.a.log.join("\n"), /restarting connection moon-sun/);
  assert.equal(p.a.dp.sadb.size, 0, "the dead peer's SAs are gone from the data plane");
  p.filter = () => true; // the peer is back before the new IKE_SA_INIT gives up
  for (let i = 0; i < 10 && !p.a.engine.sas().some((s) => s.state === "established"); i++) { p.clock.advance(5); p.run(); }
  const again = only(p.a.engine.sas());
  assert.equal(again.state, "established");
  assert.equal(again.children.size, 1);
});

test("cookies: past the half-open threshold the responder demands one and the initiator replays it", () => {
  const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2"), conn("sun-moon", "192.0.2.2", "192.0.2.1"), undefined, { timers: { cookieThreshold: 0 } });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(only(p.a.engine.sas()).state, "established");
  assert.deepEqual(p.exchanges().slice(0, 3), ["a→b 34q0", "b→a 34r0", "a→b 34q0"]);
  assert.match(p.a.log.join("\n"), /received COOKIE/);
});

test("IKE fragmentation: a large IKE_AUTH is split and reassembled", () => {
  const many = Array.from({ length: 60 }, (_, i) => ({ start: `10.1.${i}.0`, end: `10.1.${i}.255` }));
  // The responder narrows the 60 proposed selectors to the 3 it allows.
  const p = pair({ fragmentSize: 576 }, { localTs: many }, { fragmentSize: 576 }, { remoteTs: [{ start: "10.1.0.0", end: "10.1.2.255" }] });
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(only(p.a.engine.sas()).state, "established", p.b.log.join("\n"));
  assert.ok(p.sent.every((w) => w.data.length <= 576), `max ${Math.max(...p.sent.map((w) => w.data.length))}`);
  assert.ok(p.sent.length > 4, "IKE_AUTH went in fragments");
  assert.equal([...only(p.b.engine.sas()).children.values()][0].spec.remoteTs.length, 3);
});

test("a Child SA past its data-plane soft byte limit is rekeyed when the engine polls", () => {
  const p = pair({}, { rekeyBytes: 300, lifeBytes: 100000 });
  p.a.engine.initiate("moon-sun");
  p.run();
  const sa = only(p.a.engine.sas());
  const old = [...sa.children.values()][0];
  assert.equal(p.a.engine.pollLifetimes(), 0);
  for (let i = 0; i < 3; i++) traffic(p.a.dp, sa, p.b.dp, "10.1.0.5", "10.2.0.7"); // 3 x 128 bytes
  assert.equal(p.a.engine.pollLifetimes(), 1);
  p.run();
  const now = [...sa.children.values()];
  assert.equal(now.length, 1);
  assert.notEqual(now[0].spiIn, old.spiIn);
  assert.equal(p.a.engine.pollLifetimes(), 0, "the new SA starts with fresh counters");
});
