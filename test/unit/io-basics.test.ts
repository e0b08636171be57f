// The I/O layer's pieces that need no root: libc errors, kernel structure layouts, addresses into the
// shared WASM memory, sockaddr encoding, and waking a worker blocked in poll().
import { test } from "node:test";
import assert from "node:assert/strict";
import { constants } from "node:os";
import dgram from "node:dgram";
import { Worker } from "node:worker_threads";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { sys, C, E, LAYOUT, SysError, check, errnoName, memoryAddress } from "../../src/io/libc.js";
import { SockAddr, formatIp } from "../../src/io/sockaddr.js";
import { Wakeup } from "../../src/io/wakeup.js";
import { withNetns } from "../../src/io/netns.js";
import { Tun } from "../../src/io/tun.js";
import { UdpSocket } from "../../src/io/udp.js";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { unhex } from "../helpers/packets.js";

test("a failed call throws a SysError naming the call, the errno name and the system's message", () => {
  assert.throws(() => check("close(-1)", sys.close(-1)), (e: unknown) => {
    assert.ok(e instanceof SysError);
    assert.equal(e.message, "close(-1): EBADF (Bad file descriptor)");
    assert.equal(e.errno, constants.errno.EBADF);
    assert.equal(e.code, "EBADF");
    return true;
  });
  assert.equal(new SysError("ioctl(TUNSETIFF)", constants.errno.EPERM).message,
    "ioctl(TUNSETIFF): EPERM (Operation not permitted; are you root?)");
  assert.equal(check("ok", 7), 7);
});

test("errno numbers and names agree with node's own table", () => {
  const node = constants.errno as Record<string, number>;
  for (const [name, value] of Object.entries(node)) {
    assert.equal(E[name], value, name);
    assert.equal(node[errnoName(value)], value, `${name}: ${errnoName(value)}`);
  }
  assert.equal(errnoName(constants.errno.EAGAIN), "EAGAIN");
});

test("struct layouts match the LP64 Linux ABI (<bits/socket.h>, <bits/uio.h>)", () => {
  assert.deepEqual(
    [LAYOUT.IOV_SIZE, LAYOUT.IOV_BASE, LAYOUT.IOV_LEN, LAYOUT.MMSG_SIZE, LAYOUT.MSG_NAME, LAYOUT.MSG_NAMELEN,
     LAYOUT.MSG_IOV, LAYOUT.MSG_IOVLEN, LAYOUT.MSG_FLAGS, LAYOUT.MSG_LEN],
    [16, 0, 8, 64, 0, 8, 16, 24, 48, 56]);
});

test("read() lands at memoryAddress + offset of the shared WASM memory, also after it grew", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
  const base = memoryAddress(memory);
  const zero = check("open(/dev/zero)", sys.open("/dev/zero", C.O_RDONLY | C.O_CLOEXEC));
  try {
    for (const off of [1000, 65536 + 4095]) {
      if (off >= memory.buffer.byteLength) memory.grow(1);
      const u8 = new Uint8Array(memory.buffer);
      u8.fill(0xaa);
      assert.equal(memoryAddress(memory), base);
      assert.equal(sys.read(zero, BigInt(base + off), 100), 100);
      assert.equal(u8[off - 1], 0xaa);
      assert.ok(u8.subarray(off, off + 100).every((b) => b === 0));
      assert.equal(u8[off + 100], 0xaa);
    }
  } finally {
    sys.close(zero);
  }
});

test("sockaddr encoding matches struct sockaddr_in / sockaddr_in6 byte for byte", () => {
  const enc = (a: SockAddr, socketVersion: 4 | 6) => {
    const b = new Uint8Array(32).fill(0x55);
    const len = a.encode(b, 0, socketVersion);
    return b.subarray(0, len);
  };
  // family (host order), port (network order), address; sin_zero / flowinfo / scope id zero.
  assert.deepEqual(enc(new SockAddr("192.0.2.1", 4500), 4), unhex("0200 1194 c0000201 0000000000000000"));
  assert.deepEqual(enc(new SockAddr("192.0.2.1", 4500), 6),
    unhex("0a00 1194 00000000 00000000000000000000ffffc0000201 00000000"));
  assert.deepEqual(enc(new SockAddr("fd00:1::1", 500), 6),
    unhex("0a00 01f4 00000000 fd000001000000000000000000000001 00000000"));
  assert.equal(enc(new SockAddr("fd00:1::1", 500), 4).length, 0);
  const mapped = SockAddr.decode(unhex("0a00 1194 00000000 00000000000000000000ffffc0000201 00000000"), 0);
  assert.deepEqual([mapped.version, mapped.address, mapped.port, String(mapped)], [4, "192.0.2.1", 4500, "192.0.2.1:4500"]);
  const six = SockAddr.decode(unhex("0a00 01f4 00000000 fd000001000000000000000000000001 00000000"), 0);
  assert.equal(String(six), "[fd00:1::1]:500");
  assert.throws(() => new SockAddr("192.0.2.1", 65536), RangeError);
});

test("IPv6 text is RFC 5952 (checked against the WHATWG URL serializer)", () => {
  const url = (b: Uint8Array) => new URL(`http://[${formatIp(b)}]/`).hostname.slice(1, -1);
  const fixed = ["::", "::1", "1::", "fd00:1::1", "2001:db8::1:0:0:1", "2001:db8:0:1:1:1:1:1", "0:1:0:0:1::", "fe80::"];
  for (const a of fixed) assert.equal(formatIp(new SockAddr(a, 0).bytes), a);
  for (let i = 0; i < 500; i++) {
    const b = randomBytes(16);
    for (let g = 0; g < 8; g++) if (Math.random() < 0.5) b[2 * g] = b[2 * g + 1] = 0;
    assert.equal(formatIp(b), url(b));
  }
});

test("withNetns names the namespace it cannot enter; Tun.open rejects a name longer than IFNAMSIZ-1", () => {
  assert.throws(() => withNetns("wipsec-io-missing", () => 0), /^SysError: open\(\/run\/netns\/wipsec-io-missing\): ENOENT/);
  const dp = DataPlane.create({ maxSAs: 1 });
  assert.throws(() => Tun.open(dp, { name: "x".repeat(16) }), RangeError);
});

test("a second socket on a port needs reusePort on both; without it bind names EADDRINUSE", () => {
  const dp = DataPlane.create({ maxSAs: 1 });
  const a = UdpSocket.open(dp, { address: "127.0.0.1", port: 0, reusePort: true });
  try {
    const b = UdpSocket.open(dp, { address: "127.0.0.1", port: a.port, reusePort: true });
    b.close();
    assert.throws(() => UdpSocket.open(dp, { address: "127.0.0.1", port: a.port }),
      new RegExp(`^SysError: bind\\(127\\.0\\.0\\.1:${a.port}\\): EADDRINUSE`));
  } finally {
    a.close();
  }
});

// The worker attaches to the data plane and blocks in recvBatch(-1) until a datagram or the wakeup.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
(async () => {
  const { DataPlane } = await import(workerData.urls.dp);
  const { UdpSocket } = await import(workerData.urls.udp);
  const { Wakeup } = await import(workerData.urls.wakeup);
  const dp = DataPlane.attach(workerData.handle);
  const wakeup = Wakeup.adopt(workerData.wakeup);
  const s = UdpSocket.open(dp, { address: "127.0.0.1", port: 0, wakeup });
  const batch = dp.batch(8);
  parentPort.postMessage({ port: s.port });
  while (!wakeup.signaled) {
    const n = s.recvBatch(batch, -1);
    const off = batch.slotOffset(0);
    parentPort.postMessage({ n, woken: s.woken, first: n ? Buffer.from(dp.views.u8.slice(off, off + 8)).toString("hex") : "" });
  }
  s.close();
})();`;

test("a worker blocked in poll() receives a datagram, then returns when the Wakeup is signalled", async () => {
  const dp = DataPlane.create({ maxSAs: 1 });
  const wakeup = Wakeup.create();
  const url = (p: string) => new URL(p, import.meta.url).href;
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      handle: dp.handle, wakeup: wakeup.handle,
      urls: { dp: url("../../src/dataplane/dataplane.js"), udp: url("../../src/io/udp.js"), wakeup: url("../../src/io/wakeup.js") },
    },
  });
  try {
    const messages: { port?: number; n?: number; woken?: boolean; first?: string }[] = [];
    const next = async () => { while (messages.length === 0) messages.push(...(await once(worker, "message"))); return messages.shift()!; };
    const { port } = await next();
    const client = dgram.createSocket("udp4");
    const payload = Buffer.from("c0ffee0000000001aabbcc", "hex");
    await new Promise<void>((r, j) => client.send(payload, port!, "127.0.0.1", (e) => (e ? j(e) : r())));
    client.close();
    assert.deepEqual(await next(), { n: 1, woken: false, first: "c0ffee0000000001" });
    // The worker is back in poll() with no timeout: only the eventfd can get it out.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(wakeup.signaled, false);
    wakeup.signal();
    assert.equal(wakeup.signaled, true);
    assert.deepEqual(await next(), { n: 0, woken: true, first: "" });
    await once(worker, "exit");
  } finally {
    await worker.terminate();
    wakeup.close();
  }
});
