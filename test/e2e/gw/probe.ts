// Hostile and malformed datagrams for the daemon's ports, sent from another namespace, and the IKE_SA_INIT
// requests of a flood built by hand from RFC 7296 §3 (not with our codec, which is under test).
//   node probe.js FILE    FILE: {"to": "192.0.2.1", "datagrams": [{"port": 500, "hex": "..."}], "listenMs": 500}
// Sends every datagram from one socket, then collects answers for listenMs and prints them as
// {"sent": N, "answers": ["hex", ...]}.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export interface ProbeInput { to: string; datagrams: { port: number; hex: string }[]; listenMs: number }
export interface ProbeResult { sent: number; answers: string[] }

/** RFC 7296 §3.3.5 transform type / §3.3.2 ids for aes128-sha256-x25519, the proposal the gateways use. */
const TRANSFORMS: [type: number, id: number, keyLength?: number][] = [[1, 12, 128], [2, 5], [3, 12], [4, 31]];

function payload(next: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt8(next, 0);
  h.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([h, body]);
}

/** A well-formed IKE_SA_INIT request (HDR, SAi1, KEi, Ni) with a fresh initiator SPI; `cookie` echoes a COOKIE. */
export function ikeSaInit(cookie?: Buffer): Buffer {
  const transforms = TRANSFORMS.map(([type, id, keyLength], i) => {
    const attr = keyLength === undefined ? Buffer.alloc(0) : Buffer.from([0x80, 0x0e, keyLength >> 8, keyLength & 0xff]);
    const t = Buffer.alloc(8);
    t.writeUInt8(i === TRANSFORMS.length - 1 ? 0 : 3, 0); // 3: more transforms follow
    t.writeUInt16BE(8 + attr.length, 2);
    t.writeUInt8(type, 4);
    t.writeUInt16BE(id, 6);
    return Buffer.concat([t, attr]);
  });
  const body = Buffer.concat(transforms);
  const proposal = Buffer.alloc(8);
  proposal.writeUInt16BE(8 + body.length, 2); // last proposal (0), reserved
  proposal.writeUInt8(1, 4);                  // proposal number
  proposal.writeUInt8(1, 5);                  // protocol IKE, SPI size 0
  proposal.writeUInt8(TRANSFORMS.length, 7);
  const ke = Buffer.concat([Buffer.from([0, 31, 0, 0]), randomBytes(32)]); // group 31 (Curve25519)
  const payloads = [
    ...(cookie ? [payload(33, Buffer.concat([Buffer.from([0, 0, 0x40, 0x06]), cookie]))] : []), // N(COOKIE) 16390
    payload(34, Buffer.concat([proposal, body])), // SA, next KE
    payload(40, ke),                              // KE, next Nonce
    payload(0, randomBytes(32)),                  // Nonce
  ];
  const msg = Buffer.concat([Buffer.alloc(28), ...payloads]);
  randomBytes(8).copy(msg, 0);       // SPIi; SPIr stays zero
  msg.writeUInt8(cookie ? 41 : 33, 16); // first payload: Notify or SA
  msg.writeUInt8(0x20, 17);          // version 2.0
  msg.writeUInt8(34, 18);            // IKE_SA_INIT
  msg.writeUInt8(0x08, 19);          // Initiator
  msg.writeUInt32BE(msg.length, 24); // message ID 0
  return msg;
}

/** The COOKIE of an IKE_SA_INIT response whose first payload is N(COOKIE), else undefined (RFC 7296 §2.6). */
export function cookieOf(response: Buffer): Buffer | undefined {
  if (response.length < 36 || response.readUInt8(16) !== 41 || response.readUInt8(18) !== 34 || !(response.readUInt8(19) & 0x20)) return undefined;
  const len = response.readUInt16BE(30);
  if (response.readUInt16BE(34) !== 16390 || response.readUInt8(33) !== 0 || 28 + len > response.length) return undefined;
  return response.subarray(36, 28 + len);
}

function main(file: string): void {
  const input = JSON.parse(readFileSync(file, "utf8")) as ProbeInput;
  const answers: string[] = [];
  const sock = createSocket(input.to.includes(":") ? "udp6" : "udp4");
  sock.on("message", (m) => answers.push(m.toString("hex")));
  sock.bind(0, () => {
    let i = 0;
    const next = (): void => {
      if (i === input.datagrams.length) {
        setTimeout(() => {
          process.stdout.write(JSON.stringify({ sent: i, answers } satisfies ProbeResult) + "\n");
          sock.close();
        }, input.listenMs);
        return;
      }
      const d = input.datagrams[i++];
      sock.send(Buffer.from(d.hex, "hex"), d.port, input.to, (e) => {
        if (e) { process.stderr.write(`send: ${e.message}\n`); process.exit(1); }
        next();
      });
    };
    next();
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv[2]);
