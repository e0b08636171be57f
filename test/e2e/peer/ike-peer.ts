// Test helper process: our IKEv2 engine on real UDP sockets, driven over stdin/stdout so an e2e test can put it
// in a network namespace opposite strongSwan. Run as
//   ip netns exec NS node dist/test/e2e/peer/ike-peer.js CONFIG.json
// Commands are JSON lines on stdin ({"id":1,"cmd":"initiate","conn":"x"}); every command gets one reply line
// ({"reply":1,"ok":true,...}) and engine events arrive as {"event":"child-up",...} lines. Events carry the ESP
// keys in hex so the test can compare them with charon's: this is a test tool, never a product interface.
// stdin EOF ends the process, so it cannot outlive the test that spawned it. The engine's log goes to stderr.
// Certificates and keys are named by file (PEM or DER), as swanctl.conf names them.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { IkeEngine, hex8 } from "../../../src/ike/engine.js";
import { connectionDefaults, childDefaults, type ConnectionConfig, type ChildConfig, type EngineTimers } from "../../../src/ike/config.js";
import { parseProposals } from "../../../src/ike/crypto/index.js";
import { cidr } from "../../../src/dataplane/selectors.js";
import { DataPlane } from "../../../src/dataplane/dataplane.js";
import { DROP_REASONS } from "../../../src/dataplane/layout.js";
import { DataPlaneInstaller } from "../../../src/ike/installer.js";
import { KeyLog } from "../../../src/ike/keylog.js";
import { Logger } from "../../../src/ike/log.js";
import { formatList } from "../../../src/ike/selectors.js";
import { IkeSocket } from "../../../src/io/ike-socket.js";
import { loadCertificates } from "../../../src/ike/auth/certs.js";
import { loadPrivateKey } from "../../../src/ike/auth/keys.js";
import { formatIdentity } from "../../../src/ike/identity.js";
import { initiateReauth } from "../../../src/ike/tasks/ike-reauth.js";
import type { IkeSa } from "../../../src/ike/ike-sa.js";
import type { ChildSa } from "../../../src/ike/child-sa.js";

export interface PeerChildJson {
  name: string;
  localTs: string[];   // CIDR prefixes
  remoteTs: string[];
  espProposals: string; // strongSwan syntax, e.g. "aes128gcm16"
  rekeyTime?: number;
  dpdAction?: ChildConfig["dpdAction"];
}

export interface PeerConnJson {
  name: string;
  localAddrs: string[];
  remoteAddrs: string[];
  proposals: string;    // strongSwan syntax, e.g. "aes128-sha256-x25519"
  localId: string;
  remoteId: string;
  /** Both sides authenticate with this (default psk). */
  auth?: "psk" | "pubkey";
  /** pubkey: our certificate file, then intermediate CA files (local.certs). */
  certs?: string[];
  /** pubkey: trust anchor files for the peer (remote.cacerts); default the top-level caCerts. */
  cacerts?: string[];
  rekeyTime?: number;
  reauthTime?: number;
  dpdDelay?: number;
  keepalive?: number;
  children: PeerChildJson[];
}

export interface PeerConfigJson {
  /** Local addresses to bind on ports 500 and 4500. */
  addresses: string[];
  keylog: string;
  /** Engine log level for every subsystem (default 2). */
  logLevel?: number;
  timers?: Partial<EngineTimers>;
  connections: PeerConnJson[];
  secrets?: { ids: string[]; secret: string }[];
  /** Private key files (the engine's privateKeys) and trust anchor files (caCerts, swanctl's x509ca/). */
  privateKeys?: string[];
  caCerts?: string[];
}

const certsFrom = (files: string[]) => files.flatMap((f) => loadCertificates(readFileSync(f)));

function toConnection(c: PeerConnJson): ConnectionConfig {
  return connectionDefaults({
    name: c.name, localAddrs: c.localAddrs, remoteAddrs: c.remoteAddrs,
    proposals: parseProposals(c.proposals, "ike"),
    local: { auth: c.auth ?? "psk", id: c.localId, ...(c.certs ? { certs: certsFrom(c.certs) } : {}) },
    remote: { auth: c.auth ?? "psk", id: c.remoteId, ...(c.cacerts ? { cacerts: certsFrom(c.cacerts) } : {}) },
    ...(c.rekeyTime !== undefined ? { rekeyTime: c.rekeyTime } : {}),
    ...(c.reauthTime !== undefined ? { reauthTime: c.reauthTime } : {}),
    ...(c.dpdDelay !== undefined ? { dpdDelay: c.dpdDelay } : {}),
    ...(c.keepalive !== undefined ? { keepalive: c.keepalive } : {}),
    children: c.children.map((ch) => childDefaults({
      name: ch.name, localTs: ch.localTs.map((t) => cidr(t)), remoteTs: ch.remoteTs.map((t) => cidr(t)),
      espProposals: parseProposals(ch.espProposals, "esp"),
      ...(ch.rekeyTime !== undefined ? { rekeyTime: ch.rekeyTime } : {}),
      ...(ch.dpdAction !== undefined ? { dpdAction: ch.dpdAction } : {}),
    })),
  });
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const hex16 = (n: bigint) => n.toString(16).padStart(16, "0");

export interface IkeInfo {
  uniqueId: number; name: string; state: string; initiator: boolean; spiI: string; spiR: string;
  local: string; remote: string; localId?: string; remoteId?: string;
  /** NAT detection: we are behind one, the peer is, ours is only claimed for UDP encapsulation. */
  nat: { local: boolean; remote: boolean; fake: boolean };
  children: ChildInfo[];
}

export interface ChildInfo {
  ike: number; uniqueId: number; name: string; state: string; spiIn: string; spiOut: string;
  /** ESP children only. */
  encr?: { id: number; keyBits: number; icvLength: number }; udpEncap: boolean; localTs: string; remoteTs: string;
  /** AES-GCM key ‖ salt per direction (hex); absent once the SA is gone (its keys are zeroed). */
  keyIn?: string; keyOut?: string;
}

function childInfo(sa: IkeSa, c: ChildSa, keys: boolean): ChildInfo {
  const s = c.spec;
  return {
    ike: sa.uniqueId, uniqueId: c.uniqueId, name: c.name, state: c.state, spiIn: hex8(c.spiIn), spiOut: hex8(c.spiOut),
    ...(s.protocol === "esp" ? { encr: s.encr } : {}), udpEncap: s.udpEncap, localTs: formatList(s.localTs), remoteTs: formatList(s.remoteTs),
    ...(keys ? { keyIn: hex(s.keysIn.encryptionKey), keyOut: hex(s.keysOut.encryptionKey) } : {}),
  };
}

function ikeInfo(sa: IkeSa): IkeInfo {
  return {
    uniqueId: sa.uniqueId, name: sa.name, state: sa.state, initiator: sa.initiator, spiI: hex16(sa.spiI), spiR: hex16(sa.spiR),
    local: `${sa.local.address}[${sa.local.port}]`, remote: `${sa.remote.address}[${sa.remote.port}]`,
    localId: sa.localId && formatIdentity(sa.localId), remoteId: sa.remoteId && formatIdentity(sa.remoteId),
    nat: { local: sa.natLocal, remote: sa.natRemote, fake: sa.natFake },
    children: [...sa.children.values()].map((c) => childInfo(sa, c, true)),
  };
}

/** Inner IPv4 source, destination and protocol of a decapsulated packet. */
function innerSummary(p: Uint8Array): { src: string; dst: string; proto: number } | undefined {
  if (p.length < 20 || p[0] >> 4 !== 4) return undefined;
  return { src: p.subarray(12, 16).join("."), dst: p.subarray(16, 20).join("."), proto: p[9] };
}

async function main(): Promise<void> {
  const config = JSON.parse(readFileSync(process.argv[2], "utf8")) as PeerConfigJson;
  const out = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
  const dp = DataPlane.create({ maxSAs: 64 });
  const batch = dp.batch(1);
  const socket = await IkeSocket.open({
    addresses: config.addresses,
    // ESP from the peer is decapsulated with the SAs we installed: proof that the keys work, not a data path.
    onEsp: (datagram) => {
      batch.clear();
      batch.push(datagram);
      batch.decap();
      const status = batch.status(0);
      out({ event: "esp", spi: hex8(datagram.readUInt32BE(0)), ok: status === dp.L.ST_OK,
        status: DROP_REASONS[status] ?? status, inner: status === dp.L.ST_OK ? innerSummary(batch.output(0)) : undefined });
    },
    onError: (e) => process.stderr.write(`ike-socket: ${e.message}\n`),
  });
  const level = config.logLevel ?? 2;
  const engine = new IkeEngine({
    connections: config.connections.map(toConnection),
    secrets: (config.secrets ?? []).map((s) => ({ ids: s.ids, secret: Buffer.from(s.secret) })),
    privateKeys: (config.privateKeys ?? []).map((f) => loadPrivateKey(readFileSync(f))),
    caCerts: certsFrom(config.caCerts ?? []),
    transport: socket,
    installer: new DataPlaneInstaller(dp),
    log: new Logger(undefined, { ike: level, chd: level, net: level, cfg: level, enc: level }, level),
    timers: config.timers,
    keylog: new KeyLog(config.keylog),
  });
  socket.attach(engine);

  engine.on("ike-up", (sa: IkeSa) => out({ event: "ike-up", sa: ikeInfo(sa) }));
  engine.on("ike-down", (sa: IkeSa, reason: string) =>
    out({ event: "ike-down", uniqueId: sa.uniqueId, spiI: hex16(sa.spiI), spiR: hex16(sa.spiR), reason }));
  engine.on("child-up", (sa: IkeSa, c: ChildSa) => out({ event: "child-up", child: childInfo(sa, c, true) }));
  engine.on("child-down", (sa: IkeSa, c: ChildSa, reason: string) => out({ event: "child-down", child: childInfo(sa, c, false), reason }));
  engine.on("child-failed", (sa: IkeSa, config: ChildConfig, why: string) =>
    out({ event: "child-failed", ike: sa.uniqueId, name: config.name, why }));

  const ike = (id?: number): IkeSa => {
    const sas = engine.sas().filter((s) => id === undefined ? s.state === "established" : s.uniqueId === id);
    if (sas.length !== 1) throw new Error(`expected one IKE SA${id === undefined ? " established" : ` with id ${id}`}, have ${sas.length}`);
    return sas[0];
  };
  const child = (sa: IkeSa, id?: number): ChildSa => {
    const cs = [...sa.children.values()].filter((c) => id === undefined ? c.state === "installed" : c.uniqueId === id);
    if (cs.length !== 1) throw new Error(`expected one CHILD_SA${id === undefined ? " installed" : ` with id ${id}`}, have ${cs.length}`);
    return cs[0];
  };

  type Command = { id: number; cmd: string; conn?: string; child?: string; ike?: number; childId?: number };
  const handle = (c: Command): object => {
    switch (c.cmd) {
      case "initiate": return { ike: engine.initiate(c.conn!, c.child).uniqueId };
      case "rekey-child": { const sa = ike(c.ike); engine.rekeyChild(sa, child(sa, c.childId)); return {}; }
      case "rekey-ike": engine.rekeyIke(ike(c.ike)); return {};
      case "reauth": initiateReauth(engine, ike(c.ike)); return {};
      case "terminate-child": { const sa = ike(c.ike); engine.terminateChild(sa, child(sa, c.childId)); return {}; }
      case "terminate-ike": engine.terminateIke(ike(c.ike)); return {};
      case "list": return { sas: engine.sas().map(ikeInfo), sadb: dp.sadb.size, socket: socket.stats, engine: engine.stats };
      case "exit": setImmediate(() => void socket.close().then(() => process.exit(0))); return {};
      default: throw new Error(`unknown command '${c.cmd}'`);
    }
  };
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    let c: Command | undefined;
    try {
      c = JSON.parse(line) as Command;
      out({ reply: c.id, ok: true, ...handle(c) });
    } catch (e) {
      out({ reply: c?.id ?? null, ok: false, error: (e as Error).message });
    }
  });
  rl.on("close", () => process.exit(0)); // the parent went away
  out({ event: "ready", pid: process.pid });
}

main().catch((e) => {
  process.stderr.write(`ike-peer: ${(e as Error).stack}\n`);
  process.exit(1);
});
