// IKE SA lifetimes as swanctl.conf configures them (tasks/lifecycle.ts): rekey_time less up to rand_time of
// jitter, the deadline kept for --list-sas, and over_time: the hard lifetime past the earlier of rekey and
// reauthentication, after which an SA nobody managed to replace is deleted (strongSwan does the same).
import { test } from "node:test";
import assert from "node:assert/strict";
import { IkePair, conn, label } from "../helpers/ike-pair.js";
import type { ConnectionConfig } from "../../src/ike/config.js";

function pair(a: Partial<ConnectionConfig>, b: Partial<ConnectionConfig> = { rekeyTime: 0 }): IkePair {
  const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", { rekeyTime: 0, reauthTime: 0, ...a }, { rekeyTime: 0, lifeTime: 0 }),
    conn("sun-moon", "192.0.2.2", "192.0.2.1", { rekeyTime: 0, reauthTime: 0, ...b }, { rekeyTime: 0, lifeTime: 0 }));
  p.a.engine.initiate("moon-sun");
  p.run();
  return p;
}

test("rand_time = 0: the IKE rekey is due exactly at rekey_time, and rekeyAt says when", () => {
  const p = pair({ rekeyTime: 100, randTime: 0, overTime: 10 });
  const [sa] = p.a.engine.sas();
  assert.equal(sa.state, "established");
  assert.equal(sa.rekeyAt, p.clock.now() + 100);
  assert.equal(sa.expireAt, sa.rekeyAt + 10);
  const first = p.sent.length;
  p.clock.advance(99.9);
  assert.equal(p.queue.length, 0, "nothing before rekey_time");
  p.clock.advance(0.1);
  p.run();
  assert.deepEqual(p.sent.slice(first).map(label).slice(0, 2), ["a→b 36q2", "b→a 36r2"], "CREATE_CHILD_SA rekeying the IKE SA");
  const live = p.a.engine.sas().filter((s) => s.state === "established");
  assert.equal(live.length, 1);
  assert.notEqual(live[0], sa, "the rekeyed successor");
  assert.equal(live[0].rekeyAt, p.clock.now() + 100, "the successor schedules its own rekey");
});

test("rand_time bounds the jitter: every rekey falls in [rekey_time - rand_time, rekey_time]", () => {
  for (let i = 0; i < 20; i++) {
    const p = pair({ rekeyTime: 1000, randTime: 300 });
    const [sa] = p.a.engine.sas();
    const delay = sa.rekeyAt - p.clock.now();
    assert.ok(delay >= 700 && delay <= 1000, `rekey in ${delay}`);
  }
});

test("over_time: an IKE SA whose rekey never completes is deleted at the hard lifetime, on both sides", () => {
  const p = pair({ rekeyTime: 100, randTime: 0, overTime: 30 });
  const [sa] = p.a.engine.sas();
  p.a.engine.rekeyIke = () => {}; // the rekey never happens (the peer refusing it each time comes to the same)
  const first = p.sent.length;
  p.clock.advance(129);
  assert.equal(p.queue.length, 0);
  assert.equal(sa.state, "established", "kept until the hard lifetime");
  p.clock.advance(1);
  p.run();
  assert.deepEqual(p.sent.slice(first).map(label), ["a→b 37q2", "b→a 37r2"], "an INFORMATIONAL exchange: the IKE SA's DELETE");
  assert.equal(sa.state, "destroyed");
  assert.deepEqual(p.b.engine.sas().map((s) => s.state), []);
  assert.ok(p.a.log.some((l) => l.includes("reached its hard lifetime")), p.a.log.join("\n"));
});

test("over_time counts from the earlier of rekey and reauthentication; without either there is no hard lifetime", () => {
  const p = pair({ rekeyTime: 500, reauthTime: 200, randTime: 0, overTime: 20 });
  const [sa] = p.a.engine.sas();
  assert.equal(sa.expireAt, sa.reauthAt + 20);
  assert.equal(sa.reauthAt, p.clock.now() + 200);
  const q = pair({});
  assert.deepEqual(q.a.engine.sas().map((s) => [s.rekeyAt, s.expireAt]), [[0, 0]]);
});
