// IkeSocket's addresses (src/io/ike-socket.ts): a socket per local address, so the engine learns which of our
// addresses a request came to. The wildcard means the host's addresses now; one it gains later is bound when
// we first send from it. With a mark, the sockets are made here (SO_MARK) and adopted by node:dgram. Loopback only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { networkInterfaces } from "node:os";
import { execFileSync } from "node:child_process";
import { IkeSocket } from "../../src/io/ike-socket.js";
import type { Endpoint } from "../../src/ike/nat.js";

const port = () => 40000 + Math.floor(Math.random() * 20000);
const ipv4 = () => Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === "IPv4").map((a) => a.address);

test("0.0.0.0 binds every IPv4 address of the host; a datagram says which one it came to", async () => {
  const base = port();
  const sock = await IkeSocket.open({ addresses: ["0.0.0.0"], port: base, nattPort: 0 });
  const peer = createSocket("udp4");
  try {
    assert.deepEqual(sock.addresses.sort(), ipv4().sort());
    const got = new Promise<Endpoint>((r) => sock.attach({ receive: (_d, _from, to) => r(to) }));
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    peer.send(Buffer.alloc(28), base, "127.0.0.1");
    assert.deepEqual(await got, { address: "127.0.0.1", port: base });
    await sock.bindAddresses(["0.0.0.0", "127.0.0.1"]); // a reload naming the same addresses binds nothing twice
    assert.deepEqual(sock.addresses.sort(), ipv4().sort());
  } finally {
    peer.close();
    await sock.close();
  }
});

test("sending from a local address not bound yet binds it first; a foreign address stays an error", async () => {
  const base = port();
  const errors: Error[] = [];
  const sock = await IkeSocket.open({ addresses: [], port: base, nattPort: 0, onError: (e) => errors.push(e) });
  const peer = createSocket("udp4");
  try {
    assert.deepEqual(sock.addresses, []);
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    const got = new Promise<{ data: Buffer; port: number; address: string }>((r) => peer.once("message", (data, ri) => r({ data, port: ri.port, address: ri.address })));
    sock.send(Buffer.from("ike"), { address: "127.0.0.1", port: base }, { address: "127.0.0.1", port: peer.address().port });
    assert.deepEqual(await got, { data: Buffer.from("ike"), port: base, address: "127.0.0.1" });
    assert.deepEqual(sock.addresses, ["127.0.0.1"]);
    sock.send(Buffer.from("ike"), { address: "192.0.2.77", port: base }, { address: "127.0.0.1", port: peer.address().port });
    assert.deepEqual([sock.stats.sent, sock.stats.sendErrors], [1, 1]);
    assert.match(errors[0].message, /no socket bound to 192\.0\.2\.77/);
  } finally {
    peer.close();
    await sock.close();
  }
});

test("mark: every socket carries SO_MARK (ss shows it), IKE still flows both ways; a port in use is a clear bind error", async () => {
  const base = port();
  const sock = await IkeSocket.open({ addresses: ["127.0.0.1", "::1"], port: base, nattPort: base + 1, mark: 0xdd });
  const peer = createSocket("udp4");
  try {
    for (const p of [base, base + 1]) {
      const lines = execFileSync("ss", ["-H", "-u", "-a", "-n", "-e", `sport = :${p}`]).toString().trim().split("\n");
      assert.equal(lines.length, 2, `port ${p}: IPv4 and IPv6 sockets`);
      for (const l of lines) assert.match(l, /fwmark:0xdd/);
    }
    const got = new Promise<Buffer>((r) => sock.attach({ receive: (d) => r(Buffer.from(d)) }));
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    peer.send(Buffer.alloc(28, 7), base, "127.0.0.1");
    assert.deepEqual(await got, Buffer.alloc(28, 7));
    const back = new Promise<Buffer>((r) => peer.once("message", (d) => r(d)));
    sock.send(Buffer.alloc(30, 9), { address: "127.0.0.1", port: base }, { address: "127.0.0.1", port: peer.address().port });
    assert.deepEqual(await back, Buffer.alloc(30, 9));
    await assert.rejects(IkeSocket.open({ addresses: ["127.0.0.1"], port: base, nattPort: 0, mark: 0xdd }),
      new RegExp(`cannot bind IKE socket 127\\.0\\.0\\.1\\[${base}\\]: bind\\(127\\.0\\.0\\.1:${base}\\): EADDRINUSE`));
  } finally {
    peer.close();
    await sock.close();
  }
});
