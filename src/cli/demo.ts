// `wasm-ipsec demo`: as root, the namespace demo (src/demo/namespace-demo.ts: two gateway daemons, IKEv2,
// traffic between hosts). Otherwise, or with --loopback, the embedded-default demo that runs without
// privileges: two gateways' data planes in one process, SAs installed in both directions, generated
// IPv4/UDP traffic encapsulated by one, carried as ESP-in-UDP datagrams over loopback, decapsulated and
// checked by the other.
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { DataPlane } from "../dataplane/dataplane.js";
import { cidr } from "../dataplane/selectors.js";
import type { BackendName } from "../crypto/backend.js";
import { namespaceDemoUnavailable, runNamespaceDemo } from "../demo/namespace-demo.js";

export interface DemoOptions { backend: BackendName; packets: number; size: number; log: (s: string) => void }

/** The namespace demo when it can run and `loopback` is not asked for; the loopback demo otherwise. */
export async function runDemoCommand(o: DemoOptions & { loopback: boolean; megabytes: number }): Promise<number> {
  if (!o.loopback) {
    const why = namespaceDemoUnavailable();
    if (!why) return runNamespaceDemo({ backend: o.backend, megabytes: o.megabytes, log: o.log });
    o.log(`The namespace demo (two gateway daemons negotiating IKEv2, hosts talking through the tunnel) cannot run: ${why}.`);
    o.log("Running the unprivileged loopback demo instead (two data planes in this process, static keys). " +
      "For the full demo: sudo npm start\n");
  }
  return runDemo(o);
}

function udpPacket(src: number[], dst: number[], size: number, id: number): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45; p[2] = size >> 8; p[3] = size & 255; p[8] = 64; p[9] = 17;
  p.set(src, 12); p.set(dst, 16);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff; p[10] = s >> 8; p[11] = s & 255;
  p[20] = 0x30; p[21] = 0x39; p[22] = 0x30; p[23] = 0x39; // UDP 12345 → 12345
  const ul = size - 20; p[24] = ul >> 8; p[25] = ul & 255;
  new DataView(p.buffer).setUint32(28, id);
  return p;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const log = o.log;
  const key = randomBytes(16), salt = randomBytes(4), keyBack = randomBytes(16), saltBack = randomBytes(4);
  const spi = () => (0xc0000000 | (randomBytes(4).readUInt32BE() >>> 2)) >>> 0; // like charon: 0xc…
  const spiAB = spi(), spiBA = spi();
  const common = { mode: "tunnel" as const, esn: false, replayWindow: 1024, udpEncap: true };
  // Gateway A protects 10.1.0.0/24 ↔ 10.2.0.0/24; gateway B the mirror image.
  const a = DataPlane.create({ maxSAs: 16, backend: o.backend });
  const b = DataPlane.create({ maxSAs: 16, backend: o.backend });
  const aOut = a.sadb.install({ ...common, direction: "out", spi: spiAB, key, salt });
  b.sadb.install({ ...common, direction: "in", spi: spiAB, key, salt, localTs: [cidr("10.2.0.0/24")], remoteTs: [cidr("10.1.0.0/24")] });
  b.sadb.install({ ...common, direction: "out", spi: spiBA, key: keyBack, salt: saltBack });
  a.sadb.install({ ...common, direction: "in", spi: spiBA, key: keyBack, salt: saltBack, localTs: [cidr("10.1.0.0/24")], remoteTs: [cidr("10.2.0.0/24")] });

  const sa = createSocket("udp4"), sb = createSocket("udp4");
  sa.bind(0, "127.0.0.1"); sb.bind(0, "127.0.0.1");
  await Promise.all([once(sa, "listening"), once(sb, "listening")]);
  const portB = sb.address().port;
  log(`gateway A 127.0.0.1:${sa.address().port}  →  gateway B 127.0.0.1:${portB} (ESP-in-UDP over loopback)`);
  log(`SA A→B spi 0x${spiAB.toString(16)}  SA B→A spi 0x${spiBA.toString(16)}  AES-128-GCM-16, crypto backend ${o.backend}`);

  const batchSize = 64;
  const enc = a.batch(batchSize, 2048);
  const dec = b.batch(batchSize, 2048);
  let received = 0, verified = 0, bytes = 0;
  const expected = new Set<number>();
  // Receiver: decapsulate whatever arrived in one event-loop turn as one batch.
  let pending: Buffer[] = [];
  let scheduled = false;
  let wake: (() => void) | undefined;
  const flush = () => {
    scheduled = false;
    while (pending.length) {
      dec.clear();
      for (const m of pending.splice(0, batchSize)) dec.push(m);
      dec.decap();
      for (let i = 0; i < dec.count; i++) {
        received++;
        if (dec.status(i) !== 0) continue;
        const inner = dec.output(i);
        const id = new DataView(inner.buffer, inner.byteOffset).getUint32(28);
        if (expected.delete(id)) { verified++; bytes += inner.length; }
      }
    }
    wake?.();
  };
  sb.on("message", (m) => { pending.push(m); if (!scheduled) { scheduled = true; setImmediate(flush); } });

  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < o.packets; sent += batchSize) {
    enc.clear();
    const n = Math.min(batchSize, o.packets - sent);
    for (let i = 0; i < n; i++) {
      expected.add(sent + i);
      enc.push(udpPacket([10, 1, 0, 1], [10, 2, 0, 1], o.size, sent + i), aOut);
    }
    enc.encap();
    // dgram sends asynchronously, so each datagram gets its own copy (the batch slots are reused);
    // the gateway's batched sendmmsg path does without.
    for (let i = 0; i < n; i++) sa.send(Buffer.from(enc.output(i)), portB, "127.0.0.1");
    // Lock-step flow control: one batch in flight, so loopback's default socket buffer never overflows.
    while (received < sent + n) {
      const progressed = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 1000);
        wake = () => { clearTimeout(t); r(true); };
      });
      if (!progressed) break; // lost packets: stop waiting, they are reported below
    }
  }
  for (let i = 0; i < 100 && received < o.packets; i++) await new Promise((r) => setTimeout(r, 10));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  sa.close(); sb.close();

  const sOut = a.sadb.stats(aOut);
  const sIn = b.sadb.stats(b.sadb.lookup(spiAB));
  log(`A out spi 0x${spiAB.toString(16)}: ${sOut.packets} packets, ${sOut.bytes} bytes, seq ${sOut.seqOut}`);
  log(`B in  spi 0x${spiAB.toString(16)}: ${sIn.packets} packets, ${sIn.bytes} bytes, drops ${JSON.stringify(sIn.drops, (_k, v) => typeof v === "bigint" ? Number(v) : v)}`);
  log(`${verified}/${o.packets} packets of ${o.size} bytes crossed the tunnel intact in ${secs.toFixed(2)} s: ` +
      `${(verified / secs / 1e3).toFixed(1)} kpps, ${(bytes * 8 / secs / 1e6).toFixed(1)} Mbit/s (loopback UDP via node:dgram)`);
  return verified === o.packets ? 0 : 1;
}
