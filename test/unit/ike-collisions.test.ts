// Rekey and delete collisions (RFC 7296 §2.8.1, §2.8.2, §2.25) between two of our engines, message by message.
// Each case mirrors a strongSwan unit test of the same name (strongswan/strongswan at 3b902ea5, src/libcharon/tests/
// suites/test_child_rekey.c, test_ike_rekey.c, test_child_delete.c, test_ike_delete.c, test_child_create.c): the same
// message orders and the same nonce tables, where strongSwan's exchange_test_helper fixes each nonce's first
// octet. Which SA survives a collision is derived here from those octets by the RFC's rule ("the SA created
// with the lowest of the four nonces ... SHOULD be closed by the endpoint that created it"), never from the
// engine. After every case: exactly the expected SAs on both sides, both data planes holding exactly the
// installed Child SAs (in + out each), ESP crossing both ways, nothing in flight, no exception logged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { IkePair, conn, type Side } from "../helpers/ike-pair.js";
import { ipv4Packet } from "../helpers/packets.js";
import { parseProposals } from "../../src/ike/crypto/index.js";
import type { IkeEngine } from "../../src/ike/engine.js";
import type { IkeSa } from "../../src/ike/ike-sa.js";
import type { ChildSa } from "../../src/ike/child-sa.js";

type Who = "a" | "b";
const other = (w: Who): Who => (w === "a" ? "b" : "a");
/** A queued message's label prefix: "a→b 36q" (36 CREATE_CHILD_SA, 37 INFORMATIONAL; q request, r response). */
const msg = (from: Who, kind: string) => `${from}→${other(from)} ${kind}`;

function established(child: Parameters<typeof conn>[4] = {}): IkePair {
  const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", {}, child), conn("sun-moon", "192.0.2.2", "192.0.2.1", {}, child));
  p.a.engine.initiate("moon-sun");
  p.run();
  assert.equal(ike(p, "a").state, "established");
  return p;
}

function ike(p: IkePair, w: Who): IkeSa {
  const sas = p[w].engine.sas();
  assert.equal(sas.length, 1, `${w}: expected one IKE SA, got ${sas.map((s) => `[${s.uniqueId}] ${s.state}`).join(", ")}`);
  return sas[0];
}

function children(p: IkePair, w: Who): ChildSa[] { return p[w].engine.sas().flatMap((s) => [...s.children.values()]); }

function child(p: IkePair, w: Who): ChildSa {
  const cs = children(p, w);
  assert.equal(cs.length, 1, `${w}: expected one CHILD_SA, got ${cs.length}`);
  return cs[0];
}

/** strongSwan's nonce_first_byte: this engine's next nonces start with these octets, in the order it uses them. */
function nonces(engine: IkeEngine, ...firsts: number[]): void {
  engine.nonce = () => {
    const first = firsts.shift();
    if (first === undefined) throw new Error("the test did not expect another nonce");
    const n = randomBytes(32);
    n[0] = first;
    return n;
  };
}

/** strongSwan's four-nonce table: [a's Ni, b's Ni, b's Nr to a, a's Nr to b]. By §2.8.1 a's exchange created the
 *  redundant SA if it holds the lowest nonce (index 0 or 2); first octets 0x00 vs 0xFF decide it alone. */
const TABLE4 = [[0x00, 0xff, 0xff, 0xff], [0xff, 0x00, 0xff, 0xff], [0xff, 0xff, 0x00, 0xff], [0xff, 0xff, 0xff, 0x00]];
const TABLE3 = [[0x00, 0xff, 0xff], [0xff, 0x00, 0xff], [0xff, 0xff, 0x00]];
function aLoses(n: number[]): boolean {
  const i = n.indexOf(Math.min(...n));
  return i === 0 || i === 2;
}
const hex = (n: number[]) => n.map((x) => x.toString(16).padStart(2, "0")).join(" ");

function deletesSent(s: Side): string[] {
  return s.log.flatMap((l) => /sending DELETE for ESP CHILD_SA with SPI ([0-9a-f]{8})/.exec(l)?.[1] ?? []);
}
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** One packet each way over this pair of Child SAs, through both data planes. */
function traffic(p: IkePair, ca: ChildSa, cb: ChildSa): void {
  for (const [from, out, to, src, dst] of [[p.a, ca, p.b, "10.1.0.5", "10.2.0.7"], [p.b, cb, p.a, "10.2.0.7", "10.1.0.5"]] as const) {
    const b = from.dp.batch(1);
    const pkt = ipv4Packet({ src, dst, payloadLen: 100 });
    b.push(pkt, out.handles!.out);
    assert.equal(b.encap(), 1);
    const r = to.dp.batch(1);
    r.push(Uint8Array.from(b.output(0)));
    assert.equal(r.decap(), 1, `decap status ${r.status(0)}`);
    assert.deepEqual(Uint8Array.from(r.output(0)), pkt);
  }
}

/** Nothing in flight anywhere; every IKE SA idle. */
function quiet(p: IkePair): void {
  assert.deepEqual(p.queued(), [], "no message in flight");
  for (const w of ["a", "b"] as const) {
    for (const s of p[w].engine.sas()) {
      assert.equal(s.pending, undefined, `${w}: IKE SA [${s.uniqueId}] has a request outstanding`);
      assert.equal(s.queue.length, 0, `${w}: IKE SA [${s.uniqueId}] has requests queued`);
      assert.equal(s.childRekey, undefined);
      assert.equal(s.ikeRekey, undefined);
    }
  }
}

function noExceptions(p: IkePair, allowedDrops: string[] = []): void {
  for (const w of ["a", "b"] as const) {
    const bad = p[w].log.filter((l) => /processing \S+ (request|response) failed|unable to install/.test(l));
    assert.deepEqual(bad, [], `${w} logged exceptions`);
    for (const reason of Object.keys(p[w].engine.stats.dropped)) assert.ok(allowedDrops.includes(reason), `${w} dropped a message: ${reason}`);
  }
}

/** The end state of a case: one established IKE SA on each side (the same one), `n` Child SAs installed and
 *  paired, the data planes holding exactly those (in + out each), traffic crossing. Returns a's children. */
function settled(p: IkePair, n: number, allowedDrops: string[] = []): { sa: IkeSa; sb: IkeSa; ca: ChildSa[]; cb: ChildSa[] } {
  for (const w of ["a", "b"] as const) p[w].engine.nonce = () => randomBytes(32); // exchanges after the case: random nonces
  quiet(p);
  noExceptions(p, allowedDrops);
  const sa = ike(p, "a"), sb = ike(p, "b");
  assert.equal(sa.state, "established");
  assert.equal(sb.state, "established");
  assert.equal(sa.spiI, sb.spiI);
  assert.equal(sa.spiR, sb.spiR);
  assert.notEqual(sa.initiator, sb.initiator);
  const ca = [...sa.children.values()], cb = [...sb.children.values()];
  for (const [w, s, cs] of [["a", p.a, ca], ["b", p.b, cb]] as const) {
    assert.equal(cs.length, n, `${w}: ${cs.length} CHILD_SAs (${cs.map((c) => `{${c.uniqueId}} ${c.state}`).join(", ")}), expected ${n}`);
    assert.equal(s.dp.sadb.size, 2 * n, `${w}: the data plane holds ${s.dp.sadb.size} SAs for ${n} CHILD_SAs`);
    for (const c of cs) {
      assert.equal(c.state, "installed");
      const i = s.dp.sadb.stats(c.handles!.in), o = s.dp.sadb.stats(c.handles!.out);
      assert.deepEqual([i.direction, i.spi >>> 0, o.direction, o.spi >>> 0], ["in", c.spiIn, "out", c.spiOut]);
    }
  }
  const pairs = ca.map((c) => {
    const peer = cb.find((d) => d.spiIn === c.spiOut);
    assert.ok(peer && peer.spiOut === c.spiIn, `a's CHILD_SA ${hex8(c.spiIn)}_i ${hex8(c.spiOut)}_o has no counterpart on b`);
    return [c, peer] as const;
  });
  for (const [c, d] of pairs) traffic(p, c, d);
  return { sa, sb, ca, cb };
}

/** Let time pass in small steps, delivering whatever is sent, until `done` (retries are 5-15 s away). */
function until(p: IkePair, done: () => boolean, seconds = 120): void {
  for (let t = 0; t < seconds && !done(); t += 0.25) {
    p.clock.advance(0.25);
    p.run();
  }
  assert.ok(done(), "did not settle");
}

/** One IKE SA each side and nothing in flight (a retry may still be scheduled). */
function idle(p: IkePair): boolean {
  return p.queue.length === 0 && (["a", "b"] as const).every((w) => {
    const sas = p[w].engine.sas();
    return sas.length === 1 && !sas[0].pending && sas[0].state === "established";
  });
}

/** Nothing more is sent for a while: no retry was scheduled. */
function noRetry(p: IkePair): void {
  const before = p.sent.length;
  p.clock.advance(20);
  p.run();
  assert.deepEqual(p.exchanges().slice(before), [], "nothing sent after the case settled");
}

// ------------------------------------------------------------------ CHILD_SA rekey collisions (test_child_rekey.c)

/** Both rekey the same Child SA; requests cross, both responses are processed before the DELETEs. */
function childCollision(n: number[], responsesAFirst: boolean, pfs: boolean): void {
  const p = established(pfs ? { espProposals: parseProposals("aes128gcm16-ecp256", "esp") } : {});
  const oldA = child(p, "a"), oldB = child(p, "b");
  nonces(p.a.engine, n[0], n[3]);
  nonces(p.b.engine, n[1], n[2]);
  p.a.engine.rekeyChild(ike(p, "a"), oldA);
  p.b.engine.rekeyChild(ike(p, "b"), oldB);
  // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr } both ways: each answers as usual (§2.25.1).
  p.deliver(msg("a", "36q"));
  p.deliver(msg("b", "36q"));
  for (const w of ["a", "b"] as const) {
    assert.equal(children(p, w).length, 2, `${w} installed the peer's new SA`);
    assert.equal((w === "a" ? oldA : oldB).state, "rekeyed");
  }
  const first: Who = responsesAFirst ? "a" : "b";
  p.deliver(msg(other(first), "36r"));
  p.deliver(msg(first, "36r"));
  p.run();
  const loser: Who = aLoses(n) ? "a" : "b", winner = other(loser);
  const { ca, cb } = settled(p, 1);
  // The survivor was created by the winner's exchange; the winner deleted the old SA, the loser its redundant one.
  assert.equal(ca[0].initiatedByUs, winner === "a");
  assert.equal(cb[0].initiatedByUs, winner === "b");
  assert.deepEqual(deletesSent(p[winner]), [hex8((winner === "a" ? oldA : oldB).spiIn)], "the winner deletes the old SA, once");
  assert.equal(deletesSent(p[loser]).length, 1, "the loser deletes its redundant SA, once");
  assert.notEqual(deletesSent(p[loser])[0], hex8((loser === "a" ? oldA : oldB).spiIn));
  assert.ok(!p.a.log.concat(p.b.log).some((l) => /CHILD_SA_NOT_FOUND|do not have|unknown CHILD_SA/.test(l)));
  if (pfs) assert.equal(ca[0].spec.dhGroup, 19);
  // Nothing stale: the survivor rekeys normally afterwards.
  p.a.engine.rekeyChild(ike(p, "a"), ca[0]);
  p.run();
  settled(p, 1);
}

for (const n of TABLE4) {
  for (const responsesAFirst of [true, false]) {
    test(`child_rekey collision [${hex(n)}], ${responsesAFirst ? "a" : "b"} gets its response first`, () => childCollision(n, responsesAFirst, false));
  }
  test(`child_rekey collision [${hex(n)}] with PFS (KEi/KEr in both exchanges)`, () => childCollision(n, true, true));
}

/** strongSwan test_collision_delayed_response: b's response to a arrives after b's DELETE exchange. */
for (const n of TABLE4) {
  test(`child_rekey collision_delayed_response [${hex(n)}]`, () => {
    const p = established();
    const oldA = child(p, "a"), oldB = child(p, "b");
    nonces(p.a.engine, n[0], n[3]);
    nonces(p.b.engine, n[1], n[2]);
    p.a.engine.rekeyChild(ike(p, "a"), oldA);
    p.b.engine.rekeyChild(ike(p, "b"), oldB);
    p.deliver(msg("a", "36q"));
    p.deliver(msg("b", "36q"));
    const late = p.take(msg("b", "36r"));
    p.deliver(msg("a", "36r"));   // b settles first and deletes the old SA (won) or its redundant one (lost)
    p.deliver(msg("b", "37q"));
    p.deliver(msg("a", "37r"));
    assert.equal(children(p, "b").length, 2, "b: the survivor and the SA it expects a to delete");
    p.inject(late);               // a settles late
    p.run();
    const winner: Who = aLoses(n) ? "b" : "a";
    const { ca } = settled(p, 1);
    assert.equal(ca[0].initiatedByUs, winner === "a");
    assert.deepEqual(deletesSent(p[winner]), [hex8((winner === "a" ? oldA : oldB).spiIn)]);
    assert.equal(deletesSent(p[other(winner)]).length, 1);
  });
}

/** strongSwan test_collision_delayed_response_delete: as above, and b deletes the surviving SA before a has its response. */
for (const n of TABLE4) {
  test(`child_rekey collision_delayed_response_delete [${hex(n)}]`, () => {
    const p = established();
    nonces(p.a.engine, n[0], n[3]);
    nonces(p.b.engine, n[1], n[2]);
    p.a.engine.rekeyChild(ike(p, "a"), child(p, "a"));
    p.b.engine.rekeyChild(ike(p, "b"), child(p, "b"));
    p.deliver(msg("a", "36q"));
    p.deliver(msg("b", "36q"));
    const late = p.take(msg("b", "36r"));
    p.deliver(msg("a", "36r"));
    p.deliver(msg("b", "37q"));
    p.deliver(msg("a", "37r"));
    const survivor = children(p, "b").find((c) => c.state === "installed")!;
    p.b.engine.terminateChild(ike(p, "b"), survivor);
    p.deliver(msg("b", "37q"));   // a either knows it (b's own SA) or not yet (its own, the response is late)
    p.deliver(msg("a", "37r"));
    p.inject(late);
    p.run();
    settled(p, 0);
  });
}

/** strongSwan test_collision_delayed_request: a's request reaches b only after b completed its rekey and
 *  started deleting the old SA (TEMPORARY_FAILURE, §2.25.1); a aborts without retrying, before or after the DELETE. */
for (const n of TABLE3) {
  for (const beforeDelete of [false, true]) {
    test(`child_rekey collision_delayed_request [${hex(n)}]${beforeDelete ? ", TEMP_FAIL before the DELETE" : ""}`, () => {
      const p = established();
      const oldA = child(p, "a");
      nonces(p.a.engine, n[0], n[2]);
      nonces(p.b.engine, n[1]);
      p.a.engine.rekeyChild(ike(p, "a"), oldA);
      p.b.engine.rekeyChild(ike(p, "b"), child(p, "b"));
      const late = p.take(msg("a", "36q"));
      p.deliver(msg("b", "36q"));   // a answers and notes the collision
      p.deliver(msg("a", "36r"));   // b saw none: it deletes the old SA
      p.inject(late);               // b is deleting that SA: TEMPORARY_FAILURE
      if (beforeDelete) {
        const del = p.take(msg("b", "37q"));
        p.deliver(msg("b", "36r"));
        // b's rekey it answered stands: a waits for the DELETE of the old SA, and does not try again.
        assert.equal(children(p, "a").length, 2, "a keeps the old SA until b's DELETE");
        assert.equal(oldA.state, "rekeyed");
        assert.doesNotMatch(p.a.log.join("\n"), /trying again/);
        p.inject(del);
      } else {
        p.deliver(msg("b", "37q"));
        p.deliver(msg("b", "36r"));
      }
      p.run();
      const { ca } = settled(p, 1);
      assert.equal(ca[0].initiatedByUs, false, "b's rekey survives");
      noRetry(p);
      settled(p, 1);
    });
  }
}

/** strongSwan test_collision_delayed_request_more: a's request arrives after the old SA is gone: CHILD_SA_NOT_FOUND. */
for (const n of TABLE3) {
  for (const deleteNew of [false, true]) {
    const name = deleteNew ? "collision_delayed_request_more_delete" : "collision_delayed_request_more";
    test(`child_rekey ${name} [${hex(n)}]`, () => {
      const p = established();
      nonces(p.a.engine, n[0], n[2]);
      nonces(p.b.engine, n[1]);
      p.a.engine.rekeyChild(ike(p, "a"), child(p, "a"));
      p.b.engine.rekeyChild(ike(p, "b"), child(p, "b"));
      const late = p.take(msg("a", "36q"));
      p.deliver(msg("b", "36q"));
      p.deliver(msg("a", "36r"));
      p.deliver(msg("b", "37q"));
      p.deliver(msg("a", "37r"));
      if (deleteNew) {              // b then deletes the new SA too
        p.b.engine.terminateChild(ike(p, "b"), child(p, "b"));
        p.deliver(msg("b", "37q"));
        p.deliver(msg("a", "37r"));
      }
      p.inject(late);
      p.run();
      assert.ok(p.b.log.some((l) => /which we do not have/.test(l)), "b answered CHILD_SA_NOT_FOUND");
      settled(p, deleteNew ? 0 : 1);
      noRetry(p);
      settled(p, deleteNew ? 0 : 1);
    });
  }
}

test("child_rekey collision_responder_incorrect_delete: b loses but also deletes the old SA before a's response", () => {
  const p = established();
  nonces(p.a.engine, 0xff, 0xff);
  nonces(p.b.engine, 0x00, 0xff);
  const oldB = child(p, "b");
  p.a.engine.rekeyChild(ike(p, "a"), child(p, "a"));
  p.b.engine.rekeyChild(ike(p, "b"), oldB);
  p.deliver(msg("a", "36q"));
  p.deliver(msg("b", "36q"));
  const late = p.take(msg("b", "36r"));
  p.deliver(msg("a", "36r"));   // b lost: deletes its redundant SA
  p.deliver(msg("b", "37q"));
  p.deliver(msg("a", "37r"));
  p.b.engine.terminateChild(ike(p, "b"), oldB); // and, incorrectly, the old one
  p.deliver(msg("b", "37q"));
  p.deliver(msg("a", "37r"));
  p.inject(late);
  p.run();
  const { ca } = settled(p, 1);
  assert.equal(ca[0].initiatedByUs, true, "a's rekey survives");
  assert.deepEqual(deletesSent(p.a), [], "a deletes nothing: the old SA is gone already");
});

test("child_rekey regular_responder_incorrect_delete: the responder deletes the old SA before its response arrives", () => {
  const p = established();
  const oldB = child(p, "b");
  p.a.engine.rekeyChild(ike(p, "a"), child(p, "a"));
  p.deliver(msg("a", "36q"));
  const late = p.take(msg("b", "36r"));
  p.b.engine.terminateChild(ike(p, "b"), oldB);
  p.deliver(msg("b", "37q"));
  p.deliver(msg("a", "37r"));
  p.inject(late);
  p.run();
  const { ca } = settled(p, 1);
  assert.equal(ca[0].initiatedByUs, true);
  assert.deepEqual(deletesSent(p.a), [], "no DELETE for an SA the peer deleted");
});

test("child_rekey regular_responder_lost_sa: CHILD_SA_NOT_FOUND without a DELETE makes a replace the SA", () => {
  const p = established();
  const oldA = child(p, "a");
  p.b.engine.removeChild(ike(p, "b"), child(p, "b"), "lost"); // b forgets it silently
  p.a.engine.rekeyChild(ike(p, "a"), oldA);
  p.run();
  const { ca } = settled(p, 1);
  assert.notEqual(ca[0].spiIn, oldA.spiIn);
  assert.match(p.a.log.join("\n"), /removed .*: the peer does not know it/);
  assert.equal(p.exchanges().filter((e) => / 36q/.test(e)).length, 2, "the rekey, then one CREATE_CHILD_SA for a new SA");
});

// ------------------------------------------------------------------ rekey vs delete of a CHILD_SA (test_child_rekey.c)

for (const x of ["a", "b"] as const) {
  const y = other(x);
  const start = () => {
    const p = established();
    p[x].engine.rekeyChild(ike(p, x), child(p, x));
    p[y].engine.terminateChild(ike(p, y), child(p, y));
    return p;
  };

  test(`child_rekey collision_delete (${x} rekeys, ${y} deletes): TEMPORARY_FAILURE, the rekey is abandoned`, () => {
    const p = start();
    p.deliver(msg(x, "36q"));   // y is deleting it: TEMPORARY_FAILURE
    p.deliver(msg(y, "37q"));   // x answers the DELETE as usual
    p.deliver(msg(y, "36r"));
    p.deliver(msg(x, "37r"));
    assert.match(p[y].log.join("\n"), /unable to rekey CHILD_SA .*, we are deleting it/);
    settled(p, 0);
    noRetry(p);
  });

  test(`child_rekey collision_delete_drop_delete (${x} rekeys, ${y} deletes): the retry scheduled on TEMP_FAIL dies with the SA`, () => {
    const p = start();
    p.deliver(msg(x, "36q"));
    const del = p.take(msg(y, "37q"));
    p.deliver(msg(y, "36r"));
    assert.match(p[x].log.join("\n"), /rekeying CHILD_SA .* failed for now, trying again in/);
    assert.equal(child(p, x).state, "installed");
    p.inject(del);
    p.run();
    settled(p, 0);
    noRetry(p);
  });

  test(`child_rekey collision_delete_drop_rekey (${x} rekeys, ${y} deletes): CHILD_SA_NOT_FOUND after the DELETE`, () => {
    const p = start();
    const late = p.take(msg(x, "36q"));
    p.deliver(msg(y, "37q"));
    p.deliver(msg(x, "37r"));
    p.inject(late);
    p.run();
    settled(p, 0);
    noRetry(p);
  });

  test(`child_rekey collision_delete_delayed_response (${x} rekeys): ${y} deletes the new SA before ${x} has the response`, () => {
    const p = established();
    const oldX = child(p, x);
    p[x].engine.rekeyChild(ike(p, x), oldX);
    p.deliver(msg(x, "36q"));
    const late = p.take(msg(y, "36r"));
    const fresh = children(p, y).find((c) => c.state === "installed")!;
    p[y].engine.terminateChild(ike(p, y), fresh);
    p.deliver(msg(y, "37q"));   // an SA x does not know yet
    p.deliver(msg(x, "37r"));
    p.inject(late);             // x installs it, sees it deleted already, and deletes the old one
    p.run();
    settled(p, 0);
    assert.deepEqual(deletesSent(p[x]), [hex8(oldX.spiIn)]);
  });

  test(`child_rekey collision_ike_rekey (${x} rekeys the CHILD_SA, ${y} the IKE SA): TEMPORARY_FAILURE both ways, both retry`, () => {
    const p = established();
    const ike0 = ike(p, "a").spiI, child0 = child(p, "a");
    p[x].engine.rekeyChild(ike(p, x), child(p, x));
    p[y].engine.rekeyIke(ike(p, y));
    p.deliver(msg(x, "36q"));   // §2.25.2: no CHILD_SA rekey while the IKE SA is rekeyed
    p.deliver(msg(y, "36q"));   // §2.25.2: no IKE SA rekey while a CHILD_SA is half-open
    p.deliver(msg(y, "36r"));
    p.deliver(msg(x, "36r"));
    assert.match(p[x].log.join("\n"), /rekeying CHILD_SA .* failed for now, trying again in/);
    assert.match(p[y].log.join("\n"), /IKE_SA rekeying failed, trying again in/);
    quiet(p);
    assert.equal(ike(p, "a").spiI, ike0);
    assert.deepEqual([ike(p, "a").state, ike(p, "b").state, child(p, "a").state, child(p, "b").state],
      ["established", "established", "installed", "installed"]);
    until(p, () => idle(p) && p.a.engine.sas()[0].spiI !== ike0 && children(p, "a")[0] !== child0);
    settled(p, 1);
  });

  test(`child_rekey collision_ike_delete (${x} rekeys the CHILD_SA, ${y} deletes the IKE SA)`, () => {
    const p = established();
    p[x].engine.rekeyChild(ike(p, x), child(p, x));
    p[y].engine.terminateIke(ike(p, y));
    p.deliver(msg(x, "36q"));   // TEMPORARY_FAILURE: y is deleting the IKE SA
    p.deliver(msg(y, "37q"));   // x: the IKE SA goes, the rekey with it
    p.deliver(msg(y, "36r"));   // for an IKE SA x no longer has
    p.deliver(msg(x, "37r"));
    gone(p, ["unknown-ike-spi"]);
  });
}

function gone(p: IkePair, allowedDrops: string[]): void {
  quiet(p);
  noExceptions(p, allowedDrops);
  for (const w of ["a", "b"] as const) {
    assert.deepEqual(p[w].engine.sas(), [], `${w} has no IKE SA left`);
    assert.equal(p[w].dp.sadb.size, 0, `${w}'s data plane is empty`);
  }
}

// ------------------------------------------------------------------ CHILD_SA delete collisions (test_child_delete.c)

test("child_delete collision: both delete the same CHILD_SA; each answers without its SPI (§1.4.1)", () => {
  const p = established();
  p.a.engine.terminateChild(ike(p, "a"), child(p, "a"));
  p.b.engine.terminateChild(ike(p, "b"), child(p, "b"));
  p.run();
  settled(p, 0);
  assert.equal(p.exchanges().filter((e) => / 37q/.test(e)).length, 2, "one DELETE each way, nothing more");
});

test("child_delete collision_drop: one DELETE is delayed until the other exchange completed", () => {
  const p = established();
  p.a.engine.terminateChild(ike(p, "a"), child(p, "a"));
  p.b.engine.terminateChild(ike(p, "b"), child(p, "b"));
  p.deliver(msg("a", "37q"));
  const late = p.take(msg("b", "37q"));
  p.deliver(msg("b", "37r"));
  p.inject(late);               // for an SA a no longer has: an empty answer
  p.run();
  settled(p, 0);
  assert.match(p.a.log.join("\n"), /received DELETE for unknown CHILD_SA SPI/);
});

for (const x of ["a", "b"] as const) {
  const y = other(x);
  test(`child_delete collision_ike_rekey (${x} deletes the CHILD_SA, ${y} rekeys the IKE SA)`, () => {
    const p = established();
    const ike0 = ike(p, "a").spiI;
    p[x].engine.terminateChild(ike(p, x), child(p, x));
    p[y].engine.rekeyIke(ike(p, y));
    p.deliver(msg(x, "37q"));   // answered as usual, with a DELETE payload
    p.deliver(msg(y, "36q"));   // §2.25.2: TEMPORARY_FAILURE, a CHILD_SA is being closed
    p.deliver(msg(y, "37r"));
    p.deliver(msg(x, "36r"));
    assert.equal(ike(p, "a").spiI, ike0);
    until(p, () => idle(p) && p.a.engine.sas()[0].spiI !== ike0);
    settled(p, 0);
  });

  test(`child_delete collision_ike_delete (${x} deletes the CHILD_SA, ${y} the IKE SA)`, () => {
    const p = established();
    p[x].engine.terminateChild(ike(p, x), child(p, x));
    p[y].engine.terminateIke(ike(p, y));
    p.deliver(msg(x, "37q"));
    p.deliver(msg(y, "37q"));
    p.deliver(msg(y, "37r"));
    p.deliver(msg(x, "37r"));
    gone(p, ["unknown-ike-spi"]);
  });
}

test("child_create collision_ike_rekey: a new CHILD_SA and an IKE rekey cross; TEMPORARY_FAILURE both ways, both retry", () => {
  const p = established();
  const ike0 = ike(p, "a").spiI;
  p.a.engine.initiate("moon-sun", "net");   // a second CHILD_SA on the IKE SA
  p.b.engine.rekeyIke(ike(p, "b"));
  p.deliver(msg("a", "36q"));
  p.deliver(msg("b", "36q"));
  p.deliver(msg("b", "36r"));
  p.deliver(msg("a", "36r"));
  quiet(p);
  assert.match(p.a.log.join("\n"), /creating CHILD_SA net failed for now, trying again in/);
  assert.equal(children(p, "a").length, 1);
  until(p, () => idle(p) && p.a.engine.sas()[0].spiI !== ike0 && children(p, "a").length === 2);
  settled(p, 2);
});

test("a CHILD_SA rekey due while our IKE SA rekey is in flight waits, and happens on the new IKE SA (§2.25.2)", () => {
  const p = established();
  const ike0 = ike(p, "a").spiI, child0 = child(p, "a");
  p.a.engine.rekeyIke(ike(p, "a"));
  p.a.engine.rekeyChild(p.a.engine.sas()[0], child0);
  p.run();
  assert.notEqual(ike(p, "a").spiI, ike0);
  assert.equal(child(p, "a"), child0, "not rekeyed alongside the IKE SA");
  until(p, () => idle(p) && children(p, "a")[0] !== child0);
  settled(p, 1);
  assert.equal(p.exchanges().filter((e) => / 36q/.test(e)).length, 2, "one IKE rekey, one CHILD_SA rekey: nothing refused");
});

// ------------------------------------------------------------------ IKE SA rekey collisions (test_ike_rekey.c)

function ikeRekeys(n: number[]): { p: IkePair; child0: ChildSa; spi0: bigint } {
  const p = established();
  const child0 = child(p, "a"), spi0 = ike(p, "a").spiI;
  nonces(p.a.engine, n[0], n[3] ?? n[2]);
  nonces(p.b.engine, n[1], ...(n.length === 4 ? [n[2]] : []));
  return { p, child0, spi0 };
}

/** The surviving IKE SA came from the winner's exchange, carries the Child SA, and the old one is gone. */
function ikeSurvivor(p: IkePair, winner: Who, child0: ChildSa, spi0: bigint, drops: string[] = []): void {
  const { sa, sb, ca } = settled(p, 1, drops);
  assert.notEqual(sa.spiI, spi0);
  assert.equal(sa.initiator, winner === "a", "the winner initiated the surviving IKE SA");
  assert.equal(sb.initiator, winner === "b");
  assert.equal(ca[0], child0, "the CHILD_SA moved to the surviving IKE SA");
}

for (const n of TABLE4) {
  for (const responsesAFirst of [true, false]) {
    test(`ike_rekey collision [${hex(n)}], ${responsesAFirst ? "a" : "b"} gets its response first`, () => {
      const { p, child0, spi0 } = ikeRekeys(n);
      p.a.engine.rekeyIke(ike(p, "a"));
      p.b.engine.rekeyIke(ike(p, "b"));
      p.deliver(msg("a", "36q"));
      p.deliver(msg("b", "36q"));
      for (const w of ["a", "b"] as const) {
        assert.equal(p[w].engine.sas().length, 2, `${w}: the old IKE SA and the peer's, undecided`);
        assert.equal(p[w].engine.sas()[0].children.size, 1, `${w}: the CHILD_SA stays on the old IKE SA meanwhile`);
      }
      const first: Who = responsesAFirst ? "a" : "b";
      p.deliver(msg(other(first), "36r"));
      p.deliver(msg(first, "36r"));
      p.run();
      ikeSurvivor(p, aLoses(n) ? "b" : "a", child0, spi0);
      // The survivor is fully usable: a CHILD_SA rekey on it.
      p.b.engine.rekeyChild(ike(p, "b"), child(p, "b"));
      p.run();
      settled(p, 1);
    });
  }
}

/** strongSwan test_collision_delayed_response: b's response to a arrives after b settled and sent its DELETE. */
for (const n of TABLE4) {
  test(`ike_rekey collision_delayed_response [${hex(n)}]`, () => {
    const { p, child0, spi0 } = ikeRekeys(n);
    p.a.engine.rekeyIke(ike(p, "a"));
    p.b.engine.rekeyIke(ike(p, "b"));
    p.deliver(msg("a", "36q"));
    p.deliver(msg("b", "36q"));
    const late = p.take(msg("b", "36r"));
    p.deliver(msg("a", "36r"));   // b settles: deletes the old IKE SA (won) or its redundant one (lost)
    p.deliver(msg("b", "37q"));
    p.deliver(msg("a", "37r"));
    p.inject(late);               // if b won, a's old IKE SA is gone already: dropped
    p.run();
    const winner: Who = aLoses(n) ? "b" : "a";
    if (winner === "b") {
      // b still holds the IKE SA a's exchange created, which a never completed: b drops it after a while.
      assert.equal(p.b.engine.sas().length, 2);
      p.clock.advance(31);
      p.run();
    }
    ikeSurvivor(p, winner, child0, spi0, ["unknown-ike-spi"]);
  });
}

/** strongSwan test_collision_dropped_request: a's request is lost; b completes, deletes the old IKE SA, and a,
 *  having answered b's rekey, continues on b's new SA. */
for (const n of [...TABLE3, [0xff, 0xff, 0xff]]) {
  test(`ike_rekey collision_dropped_request [${hex(n)}]`, () => {
    const { p, child0, spi0 } = ikeRekeys(n);
    p.a.engine.rekeyIke(ike(p, "a"));
    p.take(msg("a", "36q"));    // dropped
    p.b.engine.rekeyIke(ike(p, "b"));
    p.deliver(msg("b", "36q"));
    p.deliver(msg("a", "36r"));
    p.deliver(msg("b", "37q"));
    p.deliver(msg("a", "37r"));
    assert.match(p.a.log.join("\n"), /the peer may not have noticed the IKE_SA rekey collision/);
    ikeSurvivor(p, "b", child0, spi0);
    p.clock.advance(60);        // the lost request is not retransmitted: its IKE SA is gone
    p.run();
    ikeSurvivor(p, "b", child0, spi0);
  });
}

/** strongSwan test_collision_delayed_request(_and_delete): a's request reaches b while b deletes the old IKE SA. */
for (const n of TABLE3) {
  for (const tempFailFirst of [false, true]) {
    test(`ike_rekey ${tempFailFirst ? "collision_delayed_request_and_delete" : "collision_delayed_request"} [${hex(n)}]`, () => {
      const { p, child0, spi0 } = ikeRekeys(n);
      p.a.engine.rekeyIke(ike(p, "a"));
      p.b.engine.rekeyIke(ike(p, "b"));
      const late = p.take(msg("a", "36q"));
      p.deliver(msg("b", "36q"));
      p.deliver(msg("a", "36r"));   // b saw no collision: new IKE SA, DELETE for the old one
      p.inject(late);               // §2.25.2: b is deleting that IKE SA, TEMPORARY_FAILURE
      if (tempFailFirst) {
        const del = p.take(msg("b", "37q"));
        p.deliver(msg("b", "36r")); // a: the peer's rekey it answered replaces the old SA, no retry
        assert.equal(p.a.engine.sas().find((s) => s.state === "established")?.children.size, 1);
        p.inject(del);
      } else {
        p.deliver(msg("b", "37q"));
        p.deliver(msg("b", "36r")); // its IKE SA is gone: dropped
      }
      p.run();
      ikeSurvivor(p, "b", child0, spi0, ["unknown-ike-spi"]);
      noRetry(p);
      ikeSurvivor(p, "b", child0, spi0, ["unknown-ike-spi"]);
    });
  }
}

for (const x of ["a", "b"] as const) {
  const y = other(x);
  test(`ike_rekey collision_delete (${x} rekeys the IKE SA, ${y} deletes it)`, () => {
    const p = established();
    p[x].engine.rekeyIke(ike(p, x));
    p[y].engine.terminateIke(ike(p, y));
    p.deliver(msg(x, "36q"));   // §2.25.2: TEMPORARY_FAILURE, y is closing it
    p.deliver(msg(y, "37q"));   // x answers and forgets its rekey
    p.deliver(msg(y, "36r"));
    p.deliver(msg(x, "37r"));
    gone(p, ["unknown-ike-spi"]);
  });

  test(`ike_rekey collision_delete_drop_delete (${x} rekeys the IKE SA, ${y} deletes it, the DELETE is late)`, () => {
    const p = established();
    p[x].engine.rekeyIke(ike(p, x));
    p[y].engine.terminateIke(ike(p, y));
    p.deliver(msg(x, "36q"));
    const del = p.take(msg(y, "37q"));
    p.deliver(msg(y, "36r"));   // TEMPORARY_FAILURE: retry later
    assert.match(p[x].log.join("\n"), /IKE_SA rekeying failed, trying again in/);
    assert.equal(ike(p, x).state, "established");
    p.inject(del);
    p.deliver(msg(x, "37r"));
    gone(p, []);
    noRetry(p);
  });
}

test("ike_delete collision: both delete the IKE SA at once", () => {
  const p = established();
  p.a.engine.terminateIke(ike(p, "a"));
  p.b.engine.terminateIke(ike(p, "b"));
  p.run();
  gone(p, ["unknown-ike-spi"]);
});
