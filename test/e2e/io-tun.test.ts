// TUN device in a network namespace (needs root): packets written from WASM memory reach a socket of
// node's dgram in the namespace, and packets the namespace routes into the device are read as a batch
// into the data plane's slots. Packets are built and parsed here, independently of the code under test.
// Last, a TCP transfer between two namespaces through two devices and ESP runs the offload path for real:
// the kernel's super-packets split on read, segments coalesced on write, the bytes hashed at both ends.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";
import { Tun } from "../../src/io/tun.js";
import { Wakeup } from "../../src/io/wakeup.js";
import { C, E, LAYOUT, check, sys } from "../../src/io/libc.js";
import { withNetns } from "../../src/io/netns.js";
import { SockAddr } from "../../src/io/sockaddr.js";
import { setTimeout as sleep } from "node:timers/promises";
import { loopback } from "../helpers/dp.js";
import { ipv4Packet, v6, hex } from "../helpers/packets.js";
import { Topology, ADDR, nodeInNetns, RECEIVER, SENDER, type Received } from "./io-topology.js";

let topo: Topology | undefined;
let dp: DataPlane;
let tun: Tun | undefined;
const wakeup = Wakeup.create();

before(() => {
  topo = Topology.create();
  dp = DataPlane.create({ maxSAs: 16, backend: "wasm" });
  tun = Tun.open(dp, {
    netns: topo.a, mtu: 9000, wakeup,
    addresses: [`${ADDR.tun4}/32`, `${ADDR.tun6}/128`], routes: [ADDR.tunNet4, ADDR.tunNet6],
  });
});

after(() => {
  tun?.close();
  topo?.destroy();
  wakeup.close();
});

function sum16(parts: Uint8Array[]): number {
  let s = 0;
  for (const b of parts) for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** IPv6/UDP with the mandatory UDP checksum (RFC 8200 §8.1). */
function udp6(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const len = 8 + payload.length;
  const p = new Uint8Array(40 + len);
  p[0] = 0x60; p[4] = len >> 8; p[5] = len & 255; p[6] = 17; p[7] = 64;
  p.set(v6(src), 8); p.set(v6(dst), 24);
  p[40] = sport >> 8; p[41] = sport & 255; p[42] = dport >> 8; p[43] = dport & 255; p[44] = len >> 8; p[45] = len & 255;
  p.set(payload, 48);
  const pseudo = new Uint8Array(40);
  pseudo.set(p.subarray(8, 40)); pseudo[34] = len >> 8; pseudo[35] = len & 255; pseudo[39] = 17;
  const c = ~sum16([pseudo, p.subarray(40)]) & 0xffff || 0xffff;
  p[46] = c >> 8; p[47] = c & 255;
  return p;
}

interface Parsed { version: number; src: string; dst: string; proto: number; dport: number; payload: string }

/** What the kernel handed over, parsed here: an IPv4 or IPv6 header, then UDP. */
function parse(p: Uint8Array): Parsed {
  const version = p[0] >> 4;
  const ip = (b: Uint8Array) => (b.length === 4 ? Array.from(b).join(".") : hex(b));
  if (version === 4) {
    assert.equal((p[2] << 8) | p[3], p.length, "IPv4 total length = bytes read");
    const h = (p[0] & 15) * 4;
    return { version, src: ip(p.subarray(12, 16)), dst: ip(p.subarray(16, 20)), proto: p[9], dport: (p[h + 2] << 8) | p[h + 3], payload: hex(p.subarray(h + 8)) };
  }
  assert.equal(version, 6);
  assert.equal(((p[4] << 8) | p[5]) + 40, p.length, "IPv6 payload length + 40 = bytes read");
  return { version, src: ip(p.subarray(8, 24)), dst: ip(p.subarray(24, 40)), proto: p[6], dport: (p[42] << 8) | p[43], payload: hex(p.subarray(48)) };
}

/** Read batches until `want` UDP packets to `dports` arrived (other traffic such as MLD is ignored). */
function readUdp(batch: PacketBatch, dports: number[], want: number, sizes: number[] = []): Parsed[] {
  const out: Parsed[] = [];
  for (let round = 0; out.length < want && round < 40; round++) {
    const n = tun!.readBatch(batch, 250);
    sizes.push(n);
    for (let i = 0; i < n; i++) {
      const off = batch.slotOffset(i);
      const pkt = parse(dp.views.u8.slice(off, off + inputLength(batch, i)));
      if (pkt.proto === 17 && dports.includes(pkt.dport)) out.push(pkt);
    }
  }
  return out;
}

function inputLength(batch: PacketBatch, k: number): number {
  return dp.views.u32[(batch.descOff + k * dp.L.DESC_SIZE + dp.L.D_IN_LEN) >> 2];
}

test("the device is created in the namespace, with the kernel-chosen name, up and with its MTU", () => {
  assert.match(tun!.name, /^wipsec\d+$/);
  const show = (...ns: string[]) => execFileSync("ip", [...ns, "-o", "link", "show", "dev", tun!.name], { stdio: ["ignore", "pipe", "ignore"] }).toString();
  assert.match(show("-n", topo!.a), /<[^>]*\bUP\b[^>]*> mtu 9000 /);
});

test("writeBatch: decapsulated IPv4/IPv6 packets go from WASM memory into the TUN and reach sockets; failed ones do not", async () => {
  const recv = nodeInNetns<Received[]>(topo!.a, RECEIVER, {
    binds: [{ type: "udp4", address: ADDR.tun4, port: 6001 }, { type: "udp6", address: ADDR.tun6, port: 6002 }],
    count: 7, timeoutMs: 5000,
  });
  await recv.ready;
  const sa = loopback("wasm", {}, dp);
  const inner: Uint8Array[] = [];
  const payloads: Uint8Array[] = [];
  const enc = dp.batch(8);
  for (let i = 0; i < 8; i++) {
    const payload = randomBytes(10 + i * 150);
    payloads.push(payload);
    inner.push(i % 2
      ? udp6(ADDR.remote6, ADDR.tun6, 40000 + i, 6002, payload)
      : ipv4Packet({ src: ADDR.remote4, dst: ADDR.tun4, sport: 40000 + i, dport: 6001, payload }));
    enc.push(inner[i], sa.out);
  }
  assert.equal(enc.encap(), 8);
  const dec = dp.batch(8);
  for (let i = 0; i < 8; i++) dec.push(enc.output(i));
  dp.views.u8[dec.slotOffset(5) + 30] ^= 1; // packet 5 fails authentication
  assert.equal(dec.decap(), 7);

  assert.equal(tun!.writeBatch(dec), 7);
  const got = await recv.result;
  const want = [0, 1, 2, 3, 4, 6, 7].map((i) => `${i % 2 ? 6002 : 6001} ${i % 2 ? ADDR.remote6 : ADDR.remote4} ${40000 + i} ${hex(payloads[i])}`);
  assert.deepEqual(got.map((r) => `${r.to} ${r.from} ${r.port} ${r.hex}`).sort(), want.sort());
});

test("write: the kernel refusing a packet (not IP) is counted with its errno", () => {
  const b = dp.batch(1);
  b.push(Uint8Array.of(0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19));
  const before = tun!.stats.sendErrors;
  assert.equal(tun!.write(b.slotOffset(0), 20), false);
  assert.equal(tun!.stats.sendErrors, before + 1);
  assert.equal(tun!.stats.lastErrno, E.EINVAL);
});

test("readBatch: IPv4/IPv6 datagrams routed into the TUN are read as a batch into the slots", async () => {
  const msgs4 = Array.from({ length: 6 }, (_, i) => hex(randomBytes(1 + i * 200)));
  const msgs6 = Array.from({ length: 6 }, (_, i) => hex(randomBytes(1300 - i * 200)));
  await nodeInNetns(topo!.a, SENDER, { type: "udp4", address: ADDR.remote4, port: 7001, messages: msgs4 }).result;
  await nodeInNetns(topo!.a, SENDER, { type: "udp6", address: ADDR.remote6, port: 7002, messages: msgs6 }).result;
  const batch = dp.batch(32);
  const sizes: number[] = [];
  const got = readUdp(batch, [7001, 7002], 12, sizes);
  assert.ok(Math.max(...sizes) >= 12, `all 12 queued packets come in one batch (batches: ${sizes})`);
  const v4got = got.filter((p) => p.version === 4), v6got = got.filter((p) => p.version === 6);
  assert.deepEqual(v4got.map((p) => p.payload), msgs4);
  assert.deepEqual(v6got.map((p) => p.payload), msgs6);
  for (const p of v4got) assert.deepEqual([p.src, p.dst, p.dport], [ADDR.tun4, ADDR.remote4, 7001]);
  for (const p of v6got) assert.deepEqual([p.src, p.dst, p.dport], [hex(v6(ADDR.tun6)), hex(v6(ADDR.remote6)), 7002]);
});

/** Sends flows[f][k] from socket f (one per flow), the flows taking turns datagram by datagram; prints
 *  the sockets' source ports. */
const TURNS_SENDER = `
const dgram = require("node:dgram");
const { address, port, flows } = JSON.parse(process.argv[1]);
const socks = flows.map(() => dgram.createSocket("udp4"));
(async () => {
  for (const s of socks) await new Promise((r) => s.bind(0, r));
  for (let k = 0; k < flows[0].length; k++)
    for (const [f, s] of socks.entries()) await new Promise((r, j) => s.send(Buffer.from(flows[f][k], "hex"), port, address, (e) => (e ? j(e) : r())));
  process.stdout.write(JSON.stringify(socks.map((s) => s.address().port)) + "\\n");
  for (const s of socks) s.close();
})();`;

/** Sends `data` once from a UDP socket in `ns` with UDP_SEGMENT (GSO): the kernel keeps it one packet
 *  as far as a device that takes UDP GSO, and cuts it into datagrams of `gso` bytes (the last shorter). */
function sendSegmented(ns: string, to: SockAddr, gso: number, data: Uint8Array): void {
  const fd = check("socket", withNetns(ns, () => sys.socket(to.version === 6 ? C.AF_INET6 : C.AF_INET, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0) as number));
  try {
    check("setsockopt(UDP_SEGMENT)", sys.setsockopt(fd, C.SOL_UDP, C.UDP_SEGMENT, Int32Array.of(gso), 4) as number);
    const sa = new Uint8Array(LAYOUT.SOCKADDR_SIZE);
    const n = check("sendto", Number(sys.sendto(fd, data, data.length, 0, sa, to.encode(sa, 0, to.version))));
    assert.equal(n, data.length);
  } finally {
    sys.close(fd);
  }
}

/** Whether a UDP datagram's checksum (IPv4 or IPv6 pseudo-header) verifies, computed here. */
function udpChecksumOk(p: Uint8Array): boolean {
  const v4 = p[0] >> 4 === 4, ipl = v4 ? (p[0] & 15) * 4 : 40, l4 = p.length - ipl;
  const pseudo = v4 ? Uint8Array.of(...p.subarray(12, 20), 0, 17, l4 >> 8, l4 & 255) : Uint8Array.of(...p.subarray(8, 40), 0, 0, l4 >> 8, l4 & 255, 0, 0, 0, 17);
  return (p[ipl + 6] | p[ipl + 7]) !== 0 && sum16([pseudo, p.subarray(ipl)]) === 0xffff;
}

test("readBatch: a UDP GSO packet routed into the device is read as one super-packet and split into its datagrams", () => {
  for (const [to, port] of [[new SockAddr(ADDR.remote4, 7010), 7010], [new SockAddr(ADDR.remote6, 7011), 7011]] as const) {
    const data = randomBytes(30 * 100 + 37);
    const before = tun!.stats.superPackets, malformed = tun!.stats.malformed;
    sendSegmented(topo!.a, to, 100, data);
    const batch = dp.batch(64);
    const pkts: Uint8Array[] = [];
    for (let round = 0; pkts.length < 31 && round < 40; round++) {
      const n = tun!.readBatch(batch, 250);
      for (let i = 0; i < n; i++) {
        const off = batch.slotOffset(i), p = dp.views.u8.slice(off, off + inputLength(batch, i));
        if (parse(p).proto === 17 && parse(p).dport === port) pkts.push(p);
      }
    }
    assert.equal(tun!.stats.superPackets - before, 1, `${to}: one super-packet (${JSON.stringify(tun!.stats)})`);
    assert.equal(tun!.stats.malformed, malformed);
    assert.equal(pkts.length, 31, String(to));
    assert.deepEqual(Buffer.concat(pkts.map((p) => Buffer.from(parse(p).payload, "hex"))), data);
    assert.deepEqual(pkts.map((p) => parse(p).payload.length / 2), [...Array(30).fill(100), 37]);
    for (const [k, p] of pkts.entries()) {
      assert.ok(udpChecksumOk(p), `${to}: datagram ${k}'s UDP checksum`);
      const ipl = to.version === 4 ? 20 : 40;
      assert.equal((p[ipl + 4] << 8) | p[ipl + 5], p.length - ipl, "UDP length");
      if (to.version === 4) {
        assert.equal(sum16([p.subarray(0, 20)]), 0xffff, "IPv4 header checksum");
        assert.equal((p[4] << 8) | p[5], (((pkts[0][4] << 8) | pkts[0][5]) + k) & 0xffff, "IPv4 IDs count up from the first");
      }
    }
  }
});

test("readBatch: a packet larger than a slot is counted and dropped, the next ones are intact", async () => {
  const batch = dp.batch(8, 2048);
  const max = batch.maxPacket;                      // IP packet = 28 bytes of headers + UDP payload
  const fits = hex(randomBytes(max - 28)), over = hex(randomBytes(max - 27)), big = hex(randomBytes(4000)), small = hex(randomBytes(33));
  await nodeInNetns(topo!.a, SENDER, { type: "udp4", address: ADDR.remote4, port: 7003, messages: [over, fits, big, small] }).result;
  const before = tun!.stats.truncated;
  const got = readUdp(batch, [7003], 2);
  assert.deepEqual(got.map((p) => p.payload), [fits, small]);
  assert.equal(tun!.stats.truncated - before, 2);
});

test("readBatch: a queue longer than the batch comes in order over several calls, through io_uring and through readv() alone", async () => {
  const batch = dp.batch(8);
  const plain = Tun.adopt(dp, tun!.handle, { uring: false });
  try {
    for (const [reader, port] of [[tun!, 7004], [plain, 7005]] as const) {
      const msgs = Array.from({ length: 40 }, () => hex(randomBytes(64)));
      const submits = reader.stats.batchedReads;
      await nodeInNetns(topo!.a, SENDER, { type: "udp4", address: ADDR.remote4, port, messages: msgs }).result;
      const sizes: number[] = [];
      const out: Parsed[] = [];
      for (let round = 0; out.length < 40 && round < 40; round++) {
        const n = reader.readBatch(batch, 250);
        sizes.push(n);
        for (let i = 0; i < n; i++) {
          const off = batch.slotOffset(i);
          const pkt = parse(dp.views.u8.slice(off, off + inputLength(batch, i)));
          if (pkt.proto === 17 && pkt.dport === port) out.push(pkt);
        }
      }
      assert.deepEqual(out.map((p) => p.payload), msgs, `port ${port}, batches ${sizes}`);
      assert.ok(Math.max(...sizes) === 8, `full batches: ${sizes}`);
      if (reader === tun) assert.ok(reader.stats.batchedReads - submits > 0 && reader.stats.batchedReads - submits <= 12, `io_uring submits: ${reader.stats.batchedReads - submits}`);
      else assert.equal(reader.stats.batchedReads, 0);
    }
  } finally {
    plain.close();
  }
});

test("readBatch returns at once when the Wakeup is signalled, and after timeoutMs otherwise", () => {
  const batch = dp.batch(4);
  while (tun!.readBatch(batch) > 0) { /* drain stray traffic (MLD) */ }
  wakeup.signal();
  assert.equal(tun!.readBatch(batch, -1), 0);
  assert.equal(tun!.woken, true);
  wakeup.clear();
  assert.equal(wakeup.signaled, false);
  tun!.readBatch(batch, 30);
  assert.equal(tun!.woken, false);
});

/** A TCP sink: prints "ready" once listening, then the byte count and SHA-256 of one connection. */
const TCP_SINK = `
const { createHash } = require("node:crypto");
const { address, port } = JSON.parse(process.argv[1]);
const srv = require("node:net").createServer((s) => {
  srv.close();
  const h = createHash("sha256");
  let bytes = 0;
  s.on("data", (d) => { h.update(d); bytes += d.length; });
  s.on("end", () => { process.stdout.write(JSON.stringify({ bytes, sha256: h.digest("hex") }) + "\\n"); s.end(); });
});
srv.listen(port, address, () => process.stdout.write("ready\\n"));`;

/** A TCP source: sends `bytes` random bytes, then prints their count and SHA-256. */
const TCP_SOURCE = `
const { createHash, randomBytes } = require("node:crypto");
const { address, port, bytes } = JSON.parse(process.argv[1]);
const h = createHash("sha256");
let sent = 0;
const s = require("node:net").connect({ host: address, port }, function pump() {
  while (sent < bytes) {
    const b = randomBytes(Math.min(1 << 18, bytes - sent));
    h.update(b);
    sent += b.length;
    if (!s.write(b)) return void s.once("drain", pump);
  }
  s.end();
});
s.resume();
s.on("close", () => process.stdout.write(JSON.stringify({ bytes: sent, sha256: h.digest("hex") }) + "\\n"));`;

test("TCP and UDP through the offload path: super-packets split on read, ESP both ways, segments and datagrams coalesced on write; SHA-256 intact", async () => {
  const opts = { mtu: 1400, name: "wioff%d" };
  const ta = Tun.open(dp, { ...opts, netns: topo!.a, addresses: ["10.77.0.1/32", "fd77::1/128"], routes: ["10.77.1.0/24", "fd77:1::/64"] });
  const tb = Tun.open(dp, { ...opts, netns: topo!.b, addresses: ["10.77.1.1/32", "fd77:1::1/128"], routes: ["10.77.0.0/24", "fd77::/64"] });
  const sa = loopback("wasm", {}, dp);
  const enc = dp.batch(64), dec = dp.batch(64);
  // Each direction as a gateway pair would carry it: read (split), ESP-encapsulate, decapsulate, write
  // (coalesce). The ESP packets are copied between the two batches here, as the network would.
  const carry = (from: Tun, to: Tun): number => {
    const n = from.readBatch(enc, 0);
    if (n === 0) return 0;
    for (let i = 0; i < n; i++) dp.views.u32[(enc.descOff + i * dp.L.DESC_SIZE + dp.L.D_SA) >> 2] = sa.out;
    enc.encap();
    dec.clear();
    for (let i = 0; i < n; i++) if (enc.status(i) === dp.L.ST_OK) dec.push(enc.output(i));
    dec.decap();
    to.writeBatch(dec);
    return n;
  };
  let running = true, hold = false;
  const pump = (async () => {
    while (running) if (hold || carry(ta, tb) + carry(tb, ta) === 0) await sleep(1);
  })();
  try {
    for (const [dst, port] of [["10.77.1.1", 5301], ["fd77:1::1", 5302]] as const) {
      const bytes = 24 << 20;
      const sink = nodeInNetns<{ bytes: number; sha256: string }>(topo!.b, TCP_SINK, { address: dst, port }, 60_000);
      await sink.ready;
      const source = nodeInNetns<{ bytes: number; sha256: string }>(topo!.a, TCP_SOURCE, { address: dst, port, bytes }, 60_000);
      const [sent, got] = await Promise.all([source.result, sink.result]);
      assert.equal(sent.bytes, bytes, dst);
      assert.deepEqual(got, sent, dst);
    }
    // Datagrams of one flow that wait in the device together leave in one batch, and one write.
    const recv = nodeInNetns<Received[]>(topo!.b, RECEIVER, { binds: [{ type: "udp4", address: "10.77.1.1", port: 7100 }], count: 40, timeoutMs: 10_000 });
    await recv.ready;
    const messages = Array.from({ length: 40 }, (_, i) => hex(randomBytes(i === 39 ? 10 : 64)));
    const coalesced = tb.stats.coalescedWrites;
    hold = true;
    await nodeInNetns(topo!.a, SENDER, { type: "udp4", address: "10.77.1.1", port: 7100, messages }).result;
    hold = false;
    assert.deepEqual((await recv.result).map((r) => r.hex), messages);
    assert.ok(tb.stats.coalescedWrites > coalesced, "the datagrams were written as UDP GSO");
    // Four flows taking turns, datagram by datagram: each is coalesced on its own (a write per flow, not
    // per datagram), and the kernel delivers every flow's datagrams in order.
    const recv4 = nodeInNetns<Received[]>(topo!.b, RECEIVER, { binds: [{ type: "udp4", address: "10.77.1.1", port: 7101 }], count: 48, timeoutMs: 10_000 });
    await recv4.ready;
    const flows = Array.from({ length: 4 }, (_, f) => Array.from({ length: 12 }, (_, k) => hex(randomBytes(k === 11 ? 20 + f : 100))));
    const before = { coalesced: tb.stats.coalescedWrites, sent: tb.stats.sent };
    hold = true;
    const ports = await nodeInNetns<number[]>(topo!.a, TURNS_SENDER, { address: "10.77.1.1", port: 7101, flows }).result;
    hold = false;
    const got = await recv4.result;
    assert.equal(got.length, 48);
    for (const [f, port] of ports.entries()) assert.deepEqual(got.filter((r) => r.port === port).map((r) => r.hex), flows[f], `flow ${f} in order`);
    assert.equal(tb.stats.sent - before.sent, 48);
    assert.ok(tb.stats.coalescedWrites - before.coalesced >= 4, `interleaved flows coalesced: ${tb.stats.coalescedWrites - before.coalesced} writes`);
  } finally {
    running = false;
    await pump;
    ta.close();
    tb.close();
  }
  assert.ok(ta.stats.superPackets > 0, `the kernel handed over super-packets: ${JSON.stringify(ta.stats)}`);
  assert.ok(ta.stats.batchedReads > 0, `io_uring read some of it: ${JSON.stringify(ta.stats)}`);
  assert.ok(tb.stats.coalescedWrites > 0, `segments were coalesced into GSO writes: ${JSON.stringify(tb.stats)}`);
  for (const t of [ta, tb]) assert.deepEqual([t.stats.malformed, t.stats.truncated, t.stats.sendErrors], [0, 0, 0], JSON.stringify(t.stats));
});
