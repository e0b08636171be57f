// Reauthentication, make-before-break (tasks/ike-reauth.ts, RFC 7296 §2.8.3): when reauth_time is up, a new
// IKE SA is authenticated from scratch and given the old one's children before the old IKE SA is deleted.
// Two engines, message by message: both data planes carry traffic after every single message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IkePair, conn, label, type Side, type Wire } from "../helpers/ike-pair.js";
import { childDefaults, type ConnectionConfig } from "../../src/ike/config.js";
import { parseProposals } from "../../src/ike/crypto/index.js";
import { cidr } from "../../src/dataplane/selectors.js";
import { NotifyType, decodeMessage, hasNotify, openEncrypted } from "../../src/ike/wire/index.js";
import { loadPrivateKey } from "../../src/ike/auth/keys.js";
import type { IkeSa } from "../../src/ike/ike-sa.js";
import { ipv4Packet } from "../helpers/packets.js";
import { NOW, cert, fixture } from "./ike-auth-cert-fixtures.js";

/** Two children (the second one comes by CREATE_CHILD_SA after IKE_AUTH), no child rekeys to interfere. */
function twoChildren(local: "a" | "b"): Partial<ConnectionConfig> {
  const [l, r] = local === "a" ? ["1", "2"] : ["2", "1"];
  const child = (name: string, n: string) => childDefaults({
    name, localTs: [cidr(`10.${l}.${n}.0/24`)], remoteTs: [cidr(`10.${r}.${n}.0/24`)],
    espProposals: parseProposals("aes128gcm16", "esp"), rekeyTime: 0, lifeTime: 0,
  });
  return { children: [child("net", "0"), child("lan", "1")] };
}

function pair(a: Partial<ConnectionConfig> = {}, b: Partial<ConnectionConfig> = {}, timers?: object): IkePair {
  return new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", { ...twoChildren("a"), ...a }),
    conn("sun-moon", "192.0.2.2", "192.0.2.1", { ...twoChildren("b"), ...b }), undefined, { timers });
}

const logs = (p: IkePair) => `--- a:\n${p.a.log.join("\n")}\n--- b:\n${p.b.log.join("\n")}`;
const established = (s: Side) => s.engine.sas().filter((x) => x.state === "established");

function only(s: Side): IkeSa {
  const sas = s.engine.sas();
  assert.equal(sas.length, 1, `expected one IKE SA, have ${sas.map((x) => `[${x.uniqueId}] ${x.state}`).join(", ")}`);
  return sas[0];
}

/**
 * Sends a packet through each installed outbound SA of child `name` on `from`, newest first, until one arrives at
 * `to` intact; returns the uniqueId of the child that carried it. (A responder's new child may be ahead of the
 * initiator's for one message: then an older one still carries the traffic.)
 */
function crosses(from: Side, to: Side, name: string): number {
  const n = name === "net" ? "0" : "1";
  const [src, dst] = from.addr === "192.0.2.1" ? [`10.1.${n}.5`, `10.2.${n}.7`] : [`10.2.${n}.7`, `10.1.${n}.5`];
  const pkt = ipv4Packet({ src, dst, payloadLen: 64 });
  const children = from.engine.sas().flatMap((s) => [...s.children.values()])
    .filter((c) => c.name === name && c.state === "installed").sort((x, y) => y.uniqueId - x.uniqueId);
  for (const child of children) {
    const b = from.dp.batch(1);
    b.push(pkt, child.handles!.out);
    assert.equal(b.encap(), 1);
    const r = to.dp.batch(1);
    r.push(Uint8Array.from(b.output(0)));
    if (r.decap() === 1) {
      assert.deepEqual(Uint8Array.from(r.output(0)), pkt);
      return child.uniqueId;
    }
  }
  assert.fail(`no CHILD_SA ${name} carries traffic ${from.addr}→${to.addr} (installed: ${children.map((c) => c.uniqueId)})`);
}

/** The children that carried a packet each way for each name; all must, at every step. */
function trafficBothWays(p: IkePair): number[] {
  return ["net", "lan"].flatMap((name) => [crosses(p.a, p.b, name), crosses(p.b, p.a, name)]);
}

/** Whether an IKE_AUTH request in flight carries INITIAL_CONTACT (opened with the receiver's keys). */
function initialContact(p: IkePair, w: Wire): boolean {
  const m = decodeMessage(w.data);
  const receiver = (w.dir === "a→b" ? p.b : p.a).engine.sas().find((s) => s.spiI === m.header.spiI)!;
  return hasNotify(openEncrypted(m, receiver.decrypter).payloads, NotifyType.INITIAL_CONTACT);
}

test("make-before-break, started by either side: new IKE SA and children first, then the old IKE SA goes; traffic flows after every message", () => {
  for (const who of ["a", "b"] as const) {
    const p = pair(who === "a" ? { reauthTime: 3600 } : {}, who === "b" ? { reauthTime: 3600 } : {});
    const contact: boolean[] = [];
    const step = () => {
      const w = p.queue[0];
      if (label(w).endsWith(" 35q1")) contact.push(initialContact(p, w));
      p.run(1);
    };
    p.a.engine.initiate("moon-sun");
    while (p.queue.length) step();
    const oldA = only(p.a), oldB = only(p.b);
    assert.equal(oldA.children.size + oldB.children.size, 4, logs(p));
    trafficBothWays(p);
    const events: string[] = [];
    for (const [side, s, old] of [["a", p.a, oldA], ["b", p.b, oldB]] as const) {
      s.engine.on("ike-up", () => events.push(`${side} ike-up`));
      s.engine.on("ike-down", (sa: IkeSa, why: string) => events.push(`${side} ike-down ${sa === old ? "old" : "new"}: ${why}`));
    }
    const first = p.sent.length;

    p.clock.advance(3240 - 1); // jitter takes up to 10% off reauth_time
    assert.equal(p.queue.length, 0, "nothing before the reauthentication is due");
    for (let t = 0; t <= 360 && p.queue.length === 0; t++) p.clock.advance(1);
    const sizes: number[][] = [];
    while (p.queue.length) {
      step();
      trafficBothWays(p);
      sizes.push([p.a.dp.sadb.size, p.b.dp.sadb.size]);
    }

    // RFC 7296 exchanges: a fresh IKE_SA_INIT and IKE_AUTH (message IDs from 0), the second child by
    // CREATE_CHILD_SA, and only then the DELETE of the old IKE SA (its next message ID from the reauthenticating side).
    const [me, peer] = who === "a" ? ["a→b", "b→a"] : ["b→a", "a→b"];
    const oldMine = who === "a" ? oldA : oldB;
    assert.deepEqual(p.sent.slice(first).map(label), [
      `${me} 34q0`, `${peer} 34r0`, `${me} 35q1`, `${peer} 35r1`, `${me} 36q2`, `${peer} 36r2`,
      `${me} 37q${who === "a" ? 3 : 0}`, `${peer} 37r${who === "a" ? 3 : 0}`,
    ], logs(p));
    assert.equal(oldMine.nextRequestId, who === "a" ? 4 : 1);
    // Both data planes hold old and new SAs from the new second child until the old IKE SA's DELETE.
    assert.deepEqual(sizes, [[4, 4], [4, 4], [4, 6], [6, 6], [6, 8], [8, 8], [8, 4], [4, 4]].map((x) => (who === "a" ? x : [x[1], x[0]])));
    assert.deepEqual(contact, [true, false], "INITIAL_CONTACT in the first IKE_AUTH only");

    const na = only(p.a), nb = only(p.b);
    assert.notEqual(na, oldA);
    assert.deepEqual([oldA.state, oldB.state], ["destroyed", "destroyed"]);
    assert.deepEqual([na.spiI, na.spiR], [nb.spiI, nb.spiR]);
    assert.notEqual(na.spiI, oldA.spiI);
    assert.equal(na.initiator, who === "a", "whoever reauthenticates initiates the new IKE SA");
    assert.deepEqual([...na.children.values()].map((c) => c.name).sort(), ["lan", "net"]);
    assert.deepEqual([p.a.dp.sadb.size, p.b.dp.sadb.size], [4, 4]);
    const fresh = [...na.children.values(), ...nb.children.values()].map((c) => c.uniqueId);
    assert.ok(trafficBothWays(p).every((id) => fresh.includes(id)), "the new children carry the traffic");
    // The responder of each exchange gets there first.
    const [r, i] = who === "a" ? ["b", "a"] : ["a", "b"];
    assert.deepEqual(events, [`${r} ike-up`, `${i} ike-up`, `${r} ike-down old: deleted by peer`, `${i} ike-down old: deleted`]);
    const mine = who === "a" ? p.a : p.b;
    assert.match(mine.log.join("\n"), /reauthenticating IKE_SA \S+\[1\] \(make-before-break\) as IKE_SA \[\d+\], recreating 2 CHILD_SAs/);
  }
});

test("the reauthentication deadline counts from the authentication: IKE rekeys in between do not move it", () => {
  const p = pair({ rekeyTime: 100, reauthTime: 250 });
  p.a.engine.initiate("moon-sun");
  p.run();
  const inits: number[] = [], rekeys: number[] = [];
  p.a.engine.on("ike-up", (sa: IkeSa) => (sa.initRequest ? inits : rekeys).push(p.clock.now()));
  for (let t = 0; t < 500; t++) {
    p.clock.advance(1);
    p.run();
  }
  // Jitter: rekeys 90-100 s after each establishment, reauthentication 225-250 s after authenticating.
  assert.ok(inits.length >= 1, logs(p));
  assert.ok(inits[0] > 225 && inits[0] <= 250, `reauthenticated at ${inits[0]}, rekeys at ${rekeys}`);
  assert.ok(rekeys.filter((t) => t < inits[0]).length >= 2, `two rekeys before it: ${rekeys}`);
  assert.equal(inits.length, 2);
  assert.ok(inits[1] - inits[0] > 225 && inits[1] - inits[0] <= 250, `then again ${inits[1] - inits[0]} s later`);
  assert.equal(only(p.a).state, "established");
  assert.equal(only(p.b).state, "established");
  trafficBothWays(p);
});

test("a reauthentication due while our IKE rekey is in flight happens on the rekeyed SA, once", () => {
  const p = pair({ reauthTime: 100 }, {}, { retransmitTimeout: 500 }); // no retransmission of the held request
  p.a.engine.initiate("moon-sun");
  p.run();
  const sa = only(p.a);
  p.a.engine.rekeyIke(sa);
  const held = p.take("a→b 36q3"); // the rekey request waits in the network past the deadline
  p.clock.advance(101);
  assert.deepEqual(p.queued(), [], "no reauthentication while the rekey is in flight");
  assert.equal(sa.state, "rekeying");
  p.inject(held);
  p.run();
  p.clock.advance(1);
  p.run();
  assert.equal(p.sent.filter((w) => label(w) === "a→b 34q0").length, 2, `one IKE_SA_INIT for the first SA, one for the reauthentication\n${logs(p)}`);
  const na = only(p.a);
  assert.ok(na.initRequest, "the survivor is the reauthenticated SA");
  assert.equal(sa.successor?.state, "destroyed", "the rekeyed SA was what got replaced");
  trafficBothWays(p);
});

test("a failed reauthentication keeps the old IKE SA and its children, and is tried again", () => {
  const p = pair({ reauthTime: 100 }, {}, { retransmitTimeout: 1, retransmitBase: 1, retransmitTries: 2 });
  p.a.engine.initiate("moon-sun");
  p.run();
  const old = only(p.a);
  let block = true;
  p.filter = (w) => !(block && label(w) === "a→b 34q0");
  const inits = () => p.sent.filter((w) => label(w) === "a→b 34q0").length;
  const failed = () => p.a.log.some((l) => l.includes("reauthentication of IKE_SA moon-sun[1] failed"));
  for (let t = 0; t < 105 && !failed(); t++) { p.clock.advance(1); p.run(); }
  assert.match(p.a.log.join("\n"), /reauthentication of IKE_SA moon-sun\[1\] failed \(peer did not answer IKE_SA_INIT request 0\), keeping it and trying again in 10 s/);
  assert.equal(only(p.a), old);
  assert.equal(old.state, "established");
  assert.deepEqual([p.a.dp.sadb.size, p.b.dp.sadb.size], [4, 4]);
  trafficBothWays(p);
  const tried = inits();
  assert.equal(tried, 1 + 3, "the first IKE_SA_INIT, then the reauthentication's with two retransmissions");
  block = false;
  for (let t = 0; t < 11 && p.a.engine.sas().includes(old); t++) { p.clock.advance(1); p.run(); }
  assert.equal(inits(), tried + 1, "tried again within the retry interval");
  assert.notEqual(only(p.a), old);
  assert.equal(only(p.b).spiI, only(p.a).spiI);
  trafficBothWays(p);
});

test("certificates are verified again; with trust withdrawn, the new IKE SA fails and the old one is kept", () => {
  const [root, im, moon, sun, other] = ["root", "im", "moon", "sun", "other"].map(cert);
  const p = pair({ reauthTime: 100, local: { auth: "pubkey", id: "moon.strongswan.org", certs: [moon, im] }, remote: { auth: "pubkey", id: "sun.strongswan.org" } },
    { local: { auth: "pubkey", id: "sun.strongswan.org", certs: [sun, im] }, remote: { auth: "pubkey", id: "moon.strongswan.org" } });
  Object.assign(p.a.engine, { privateKeys: [loadPrivateKey(fixture("moon.key.pem"))], caCerts: [root], wallClock: () => NOW });
  Object.assign(p.b.engine, { privateKeys: [loadPrivateKey(fixture("sun.key.pem"))], caCerts: [root], wallClock: () => NOW });
  const verified = (s: Side) => s.log.filter((l) => /authentication of '\S+' with \S+ successful/.test(l)).length;
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.deepEqual([verified(p.a), verified(p.b)], [1, 1], logs(p));
  for (let t = 0; t < 100; t++) { p.clock.advance(1); p.run(); }
  assert.deepEqual([verified(p.a), verified(p.b)], [2, 2], "each side checked the other's certificate again");
  const current = only(p.a);
  p.b.engine.caCerts = [other];
  for (let t = 0; t < 100; t++) { p.clock.advance(1); p.run(); }
  assert.match(p.b.log.join("\n"), /authentication of 'moon.strongswan.org' failed: no trusted path to a CA/);
  assert.match(p.a.log.join("\n"), /reauthentication of IKE_SA moon-sun\[\d+\] failed \(the peer rejected our authentication \(AUTHENTICATION_FAILED\)/);
  assert.deepEqual(established(p.a), [current]);
  trafficBothWays(p);
});
