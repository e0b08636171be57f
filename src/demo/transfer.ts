// A TCP transfer checked end to end, run by the demo in the host namespaces (a process per side, since a
// namespace is a property of the process):
//   node transfer.js receive ADDRESS PORT       prints "listening", then the result as one JSON line
//   node transfer.js send ADDRESS PORT BYTES    sends pseudo-random bytes, prints one JSON line
// Each side hashes what it itself sent or received (SHA-256); the demo compares the two.
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { createConnection, createServer, type Socket } from "node:net";
import { once } from "node:events";

export interface TransferResult { bytes: number; sha256: string; seconds: number }

const CHUNK = 1 << 20;

function receive(address: string, port: number): Promise<TransferResult> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      server.close(); // one transfer only
      const hash = createHash("sha256"), t0 = process.hrtime.bigint();
      let bytes = 0;
      s.on("data", (d: Buffer) => { bytes += d.length; hash.update(d); });
      s.on("end", () => resolve({ bytes, sha256: hash.digest("hex"), seconds: Number(process.hrtime.bigint() - t0) / 1e9 }));
      s.on("error", reject);
    });
    server.on("error", reject);
    server.listen(port, address, () => console.log("listening"));
  });
}

async function send(address: string, port: number, total: number): Promise<TransferResult> {
  // AES-CTR keystream: incompressible and much faster to make than randomBytes.
  const stream = createCipheriv("aes-128-ctr", randomBytes(16), randomBytes(16)), zeros = Buffer.alloc(CHUNK);
  const hash = createHash("sha256");
  const s: Socket = createConnection({ host: address, port });
  await once(s, "connect");
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < total;) {
    const chunk = stream.update(zeros.subarray(0, Math.min(CHUNK, total - sent)));
    hash.update(chunk);
    sent += chunk.length;
    if (!s.write(chunk)) await once(s, "drain");
  }
  s.end();
  await once(s, "close");
  return { bytes: total, sha256: hash.digest("hex"), seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const [role, address, port, bytes] = process.argv.slice(2);
const result = role === "receive" ? receive(address, Number(port))
  : role === "send" ? send(address, Number(port), Number(bytes))
  : Promise.reject(new Error("usage: transfer.js receive ADDRESS PORT | send ADDRESS PORT BYTES"));
result.then((r) => console.log(JSON.stringify(r)), (e: Error) => { console.error(e.message); process.exitCode = 1; });
