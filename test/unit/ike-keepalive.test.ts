// NAT keepalives (RFC 3948 §4, tasks/lifecycle.ts scheduleKeepalive): sent only by a side behind a real NAT
// (not for the NAT that `encap` fakes, as strongSwan), only after a whole interval with nothing else sent,
// through the Transport; and IkeSocket puts the single 0xFF octet on the wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { IkePair, conn, label, type Wire } from "../helpers/ike-pair.js";
import type { ConnectionConfig } from "../../src/ike/config.js";
import { IkeSocket } from "../../src/io/ike-socket.js";
import { ipv4Packet } from "../helpers/packets.js";
import type { IkeSa } from "../../src/ike/ike-sa.js";

/** moon (a) sits behind a NAT that maps 192.0.2.1:p to 198.51.100.7:p+10000. */
const PUBLIC = "198.51.100.7";
function behindNat(p: IkePair): void {
  p.translate = (w: Wire) => w.dir === "a→b"
    ? { ...w, from: { address: PUBLIC, port: w.from.port + 10000 } }
    : { ...w, to: { address: "192.0.2.1", port: w.to.port - 10000 } };
}

function pair(a: Partial<ConnectionConfig> = {}, timers?: object, nat = true): IkePair {
  // sun accepts moon from wherever the NAT makes it come
  const p = new IkePair(conn("moon-sun", "192.0.2.1", "192.0.2.2", a), conn("sun-moon", "192.0.2.2", "%any"), undefined, { timers });
  if (nat) behindNat(p);
  p.a.engine.initiate("moon-sun");
  p.run();
  return p;
}

const only = (sas: IkeSa[]): IkeSa => { assert.equal(sas.length, 1); return sas[0]; };
const logs = (p: IkePair) => `--- a:\n${p.a.log.join("\n")}\n--- b:\n${p.b.log.join("\n")}`;

/** Advance the clock second by second to `until`, delivering messages after each step. */
function runUntil(p: IkePair, until: number, each?: (t: number) => void): void {
  while (p.clock.now() < until) {
    p.clock.advance(1);
    each?.(p.clock.now());
    p.run();
  }
}

test("forced encap without a NAT (strongSwan's faked NAT): UDP encapsulation, no keepalives from either side", () => {
  const p = pair({}, undefined, false);
  const sa = only(p.a.engine.sas()), sb = only(p.b.engine.sas());
  assert.deepEqual([sa.natLocal, sa.natFake, sb.natLocal, sb.natFake], [true, true, true, true]);
  assert.equal(sa.remote.port, 4500);
  runUntil(p, 300);
  assert.equal(p.keepalives.length, 0);
});

test("behind a NAT: a keepalive from 4500 to the peer's 4500 after every 20 s of silence; the peer sends none", () => {
  const p = pair();
  const sa = only(p.a.engine.sas()), sb = only(p.b.engine.sas());
  assert.equal(sa.state, "established", logs(p));
  // Both force encapsulation (encap = yes) and so claim a NAT; only moon's own address really is translated.
  assert.deepEqual([sa.natLocal, sa.natFake, sa.natRemote], [true, false, true]);
  assert.deepEqual([sb.natLocal, sb.natFake, sb.natRemote], [true, true, true]);
  assert.deepEqual(sb.remote, { address: PUBLIC, port: 14500 }, "sun talks to the NAT's mapping of moon's port 4500");
  runUntil(p, 19);
  assert.equal(p.keepalives.length, 0);
  runUntil(p, 100);
  assert.deepEqual(p.keepalives.map((k) => k.at), [20, 40, 60, 80, 100]);
  for (const k of p.keepalives) {
    assert.deepEqual([k.dir, k.from, k.to], ["a→b", { address: "192.0.2.1", port: 4500 }, { address: "192.0.2.2", port: 4500 }]);
  }
});

test("other outbound traffic postpones keepalives: IKE exactly, ESP through the data plane counters; no silence exceeds the interval", () => {
  const p = pair();
  const sa = only(p.a.engine.sas());
  const child = [...sa.children.values()][0];
  const esp = (t: number) => {
    const b = p.a.dp.batch(1);
    b.push(ipv4Packet({ src: "10.1.0.5", dst: "10.2.0.7", payloadLen: 40 }), child.handles!.out);
    assert.equal(b.encap(), 1);
    espAt.push(t);
  };
  const espAt: number[] = [];
  // IKE: a DPD at 15 s; the next keepalive comes 20 s after it.
  runUntil(p, 15);
  p.a.engine.dpd(sa);
  p.run();
  runUntil(p, 60);
  assert.deepEqual(p.keepalives.map((k) => k.at), [35, 55]);
  // ESP every 7 s from 61 to 131: no keepalive while it flows.
  runUntil(p, 140, (t) => { if (t > 60 && t <= 131 && (t - 61) % 7 === 0) esp(t); });
  assert.deepEqual(p.keepalives.filter((k) => k.at > 60 && k.at <= 131).map((k) => k.at), []);
  runUntil(p, 200);
  const ike = p.sent.filter((w) => w.dir === "a→b").length; // the DPD's request is the last IKE message moon sent
  assert.equal(label(p.sent.filter((w) => w.dir === "a→b")[ike - 1]), "a→b 37q2");
  const out = [0, 15, ...espAt, ...p.keepalives.map((k) => k.at)].sort((x, y) => x - y);
  const gaps = out.slice(1).map((t, i) => t - out[i]);
  assert.ok(Math.max(...gaps, 200 - out[out.length - 1]) <= 20, `outbound at ${out}`);
  assert.ok(p.keepalives.some((k) => k.at > 131), "keepalives resume after the ESP stops");
});

test("the interval: per connection, from the engine's timers, 0 = none", () => {
  let p = pair({ keepalive: 5 });
  runUntil(p, 21);
  assert.deepEqual(p.keepalives.map((k) => k.at), [5, 10, 15, 20]);
  p = pair({}, { keepalive: 7 });
  runUntil(p, 21);
  assert.deepEqual(p.keepalives.map((k) => k.at), [7, 14, 21]);
  p = pair({ keepalive: 0 });
  runUntil(p, 100);
  assert.equal(p.keepalives.length, 0);
});

test("an IKE rekey carries the NAT state on (keepalives continue, none from the faked side); they stop with the IKE SA", () => {
  const p = pair();
  runUntil(p, 30);
  p.a.engine.rekeyIke(only(p.a.engine.sas()));
  p.run();
  const na = only(p.a.engine.sas()), nb = only(p.b.engine.sas());
  assert.deepEqual([na.natLocal, na.natFake, nb.natFake], [true, false, true]);
  runUntil(p, 90);
  assert.deepEqual(p.keepalives.map((k) => k.at), [20, 50, 70, 90], "the rekey exchange at 30 s counts as traffic");
  assert.ok(p.keepalives.every((k) => k.dir === "a→b"));
  p.a.engine.terminateIke(na);
  p.run();
  runUntil(p, 200);
  assert.equal(p.keepalives.length, 4);
  assert.equal(p.clock.pending, 0, "no timer left behind");
});

test("IkeSocket.sendKeepalive: the single octet 0xFF from the NAT-T port, no Non-ESP marker; unbound source counted as an error", async () => {
  const base = 40000 + Math.floor(Math.random() * 20000);
  const errors: Error[] = [];
  const sock = await IkeSocket.open({ addresses: ["127.0.0.1"], port: base, nattPort: base + 1, onError: (e) => errors.push(e) });
  const peer = createSocket("udp4");
  try {
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    const got = new Promise<{ data: Buffer; port: number }>((r) => peer.once("message", (data, rinfo) => r({ data, port: rinfo.port })));
    sock.sendKeepalive({ address: "127.0.0.1", port: base + 1 }, { address: "127.0.0.1", port: peer.address().port });
    assert.deepEqual(await got, { data: Buffer.from([0xff]), port: base + 1 });
    sock.sendKeepalive({ address: "127.0.0.2", port: base + 1 }, { address: "127.0.0.1", port: peer.address().port });
    assert.deepEqual([sock.stats.keepalivesSent, sock.stats.sent, sock.stats.sendErrors], [1, 0, 1]);
    assert.match(errors[0].message, /no socket bound to 127.0.0.2\[\d+\]/);
  } finally {
    peer.close();
    await sock.close();
  }
});
