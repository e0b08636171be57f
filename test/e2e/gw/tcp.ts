// A TCP sink and source for the tunnel tests, run as their own processes inside the namespaces (neither nc
// nor socat is installed, and iperf3 does not hash). Each hashes what it moves with node:crypto, so the
// receiver's SHA-256 matching the sender's proves every byte crossed intact and in order.
//   node tcp.js sink   '{"address":"10.2.0.1","port":5001}'
//     prints "listening", then after one connection ended: {"bytes":N,"sha256":"..."}
//   node tcp.js source '{"address":"10.2.0.1","port":5001,"localAddress":"10.1.0.1","bytes":N}'
//     sends N random bytes (bytes 0: until SIGUSR2), then {"bytes":N,"sha256":"...","seconds":S}
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer } from "node:net";

export interface SinkResult { bytes: number; sha256: string }
export interface SourceResult extends SinkResult { seconds: number }

const CHUNK = 256 * 1024;
/** A source "until SIGUSR2" stops here anyway: a lost signal cannot make it run forever. */
const CAP = 8 * 1024 ** 3;

function sink(address: string, port: number): void {
  const srv = createServer((s) => {
    srv.close(); // one transfer per sink
    const h = createHash("sha256");
    let bytes = 0;
    s.on("data", (d: Buffer) => { h.update(d); bytes += d.length; });
    s.on("end", () => {
      process.stdout.write(JSON.stringify({ bytes, sha256: h.digest("hex") } satisfies SinkResult) + "\n");
      s.end();
    });
    s.on("error", (e) => { process.stderr.write(`sink: ${e.message}\n`); process.exitCode = 1; });
  });
  srv.listen(port, address, () => process.stdout.write("listening\n"));
}

function source(address: string, port: number, localAddress: string | undefined, total: number): void {
  let stop = false;
  process.on("SIGUSR2", () => { stop = true; });
  const limit = total > 0 ? total : CAP;
  const h = createHash("sha256");
  let sent = 0;
  const start = process.hrtime.bigint();
  const s = connect({ host: address, port, localAddress }, () => {
    // Waiting for "drain" is the only pause, and drain comes while data flows: a stop is seen there.
    const pump = (): void => {
      while (sent < limit && !stop) {
        const b = randomBytes(Math.min(CHUNK, limit - sent));
        h.update(b);
        sent += b.length;
        if (!s.write(b)) { s.once("drain", pump); return; }
      }
      s.end();
    };
    pump();
  });
  s.resume();
  s.on("error", (e) => { process.stderr.write(`source: ${e.message}\n`); process.exit(1); });
  s.on("close", () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    process.stdout.write(JSON.stringify({ bytes: sent, sha256: h.digest("hex"), seconds } satisfies SourceResult) + "\n");
  });
}

const [mode, json] = process.argv.slice(2);
const a = JSON.parse(json ?? "{}") as { address: string; port: number; localAddress?: string; bytes?: number };
if (mode === "sink") sink(a.address, a.port);
else if (mode === "source") source(a.address, a.port, a.localAddress, a.bytes ?? 0);
else { process.stderr.write("usage: tcp.js sink|source JSON\n"); process.exit(2); }
