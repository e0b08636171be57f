// The io_uring read ring (src/io/uring.ts) on UDP sockets, whose read() returns one datagram: requests run
// in order, each gets one datagram or -EAGAIN when none is left (never a wait), buffers hold what node's
// dgram sent byte for byte, and a bad descriptor fails its requests without breaking the ring.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { UringReader } from "../../src/io/uring.js";
import { sys, C, E, check, NativeBlock } from "../../src/io/libc.js";
import { SockAddr } from "../../src/io/sockaddr.js";

const ring = UringReader.open(8);
const buffers = new NativeBlock(8 * 256);
const sender = dgram.createSocket("udp4");
after(() => { ring?.close(); buffers.free(); sender.close(); });

/** A non-blocking UDP socket on 127.0.0.1 (the descriptor and its port). */
function socket(): { fd: number; port: number } {
  const fd = check("socket", sys.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_CLOEXEC | C.O_NONBLOCK, 0));
  const sa = new Uint8Array(32);
  const len = new SockAddr("127.0.0.1", 0).encode(sa, 0, 4);
  check("bind", sys.bind(fd, sa, len));
  check("getsockname", sys.getsockname(fd, sa, Uint32Array.of(32)));
  return { fd, port: SockAddr.decode(sa, 0).port };
}

async function send(port: number, messages: Buffer[]): Promise<void> {
  for (const m of messages) await new Promise<void>((ok, fail) => sender.send(m, port, "127.0.0.1", (e) => (e ? fail(e) : ok())));
  await new Promise((r) => setTimeout(r, 50)); // loopback delivers at once; leave it a moment anyway
}


test("this kernel has a usable io_uring (5.18+, not disabled): the gateway's TUN reads depend on it", () => {
  assert.ok(ring, "UringReader.open returned undefined");
  assert.equal(ring!.entries, 8);
});

test("queued datagrams come one per request, in order; the requests beyond them get -EAGAIN", async () => {
  const s = socket();
  try {
    const msgs = Array.from({ length: 5 }, (_, i) => randomBytes(20 + i * 37));
    await send(s.port, msgs);
    assert.equal(ring!.submit(s.fd, 8, buffers.address, 256, 256), 5);
    assert.deepEqual(Array.from(ring!.results), [...msgs.map((m) => m.length), -E.EAGAIN, -E.EAGAIN, -E.EAGAIN]);
    msgs.forEach((m, j) => assert.deepEqual(Buffer.from(buffers.u8.subarray(j * 256, j * 256 + m.length)), m));
    assert.equal(ring!.submit(s.fd, 3, buffers.address, 256, 256), 0, "nothing left: no request waits");
    assert.deepEqual(Array.from(ring!.results.subarray(0, 3)), [-E.EAGAIN, -E.EAGAIN, -E.EAGAIN]);
  } finally {
    sys.close(s.fd);
  }
});

test("a datagram longer than its buffer is cut to it (the TUN reader sizes buffers for the largest packet)", async () => {
  const s = socket();
  try {
    const big = randomBytes(600);
    await send(s.port, [big]);
    assert.equal(ring!.submit(s.fd, 1, buffers.address, 256, 256), 1);
    assert.equal(ring!.results[0], 256);
    assert.deepEqual(Buffer.from(buffers.u8.subarray(0, 256)), big.subarray(0, 256));
  } finally {
    sys.close(s.fd);
  }
});

test("a bad descriptor fails each request with -EBADF; the ring goes on working; counts are checked", async () => {
  assert.equal(ring!.submit(1_000_000, 4, buffers.address, 256, 256), 0);
  assert.deepEqual(Array.from(ring!.results.subarray(0, 4)), [-E.EBADF, -E.EBADF, -E.EBADF, -E.EBADF]);
  const s = socket();
  try {
    await send(s.port, [Buffer.from("after")]);
    assert.equal(ring!.submit(s.fd, 2, buffers.address, 256, 256), 1);
    assert.equal(Buffer.from(buffers.u8.subarray(0, 5)).toString(), "after");
  } finally {
    sys.close(s.fd);
  }
  assert.throws(() => ring!.submit(0, 9, buffers.address, 256, 256), RangeError);
  assert.throws(() => ring!.submit(0, 0, buffers.address, 256, 256), RangeError);
  assert.throws(() => UringReader.open(0), RangeError);
});
