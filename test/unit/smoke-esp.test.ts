import { test } from "node:test";
import assert from "node:assert/strict";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { ipv4Packet } from "../helpers/packets.js";
import { oracleOpen } from "../helpers/esp-oracle.js";

test("smoke: node backend tunnel encap decodes with the oracle and decaps", () => {
  const dp = DataPlane.create({ maxSAs: 16, backend: "node" });
  const key = new Uint8Array(16).fill(7), salt = Uint8Array.from([1, 2, 3, 4]);
  const out = dp.sadb.install({ spi: 0x1000, direction: "out", mode: "tunnel", key, salt });
  const inb = dp.sadb.install({ spi: 0x1000, direction: "in", mode: "tunnel", key, salt });
  const b = dp.batch(4);
  const pkt = ipv4Packet({ payloadLen: 50 });
  b.push(pkt, out);
  assert.equal(b.encap(), 1, `status ${b.status(0)}`);
  const esp = Uint8Array.from(b.output(0));
  const o = oracleOpen({ spi: 0x1000, key, salt, icv: 16 }, esp);
  assert.deepEqual(Uint8Array.from(o.payload), pkt);
  assert.equal(o.nextHeader, 4);
  const d = dp.batch(4);
  d.push(esp);
  assert.equal(d.decap(), 1, `status ${d.status(0)}`);
  assert.deepEqual(Uint8Array.from(d.output(0)), pkt);
  assert.equal(d.sa(0), inb);
});
