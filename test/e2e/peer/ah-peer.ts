// Test helper process: our IKEv2 engine on real UDP sockets negotiating an AH Child SA, so an e2e test can put it in a
// network namespace opposite strongSwan. Run as
//   ip netns exec NS node dist/test/e2e/peer/ah-peer.js CONFIG.json
// It initiates if the config says so, else it answers. Engine events are JSON lines on stdout, the engine's log goes
// to stderr. SIGTERM ends it.
import { readFileSync } from "node:fs";
import { IkeEngine, hex8 } from "../../../src/ike/engine.js";
import { childDefaults, connectionDefaults, type ChildConfig } from "../../../src/ike/config.js";
import { parseProposals } from "../../../src/ike/crypto/index.js";
import { cidr } from "../../../src/dataplane/selectors.js";
import { DataPlane } from "../../../src/dataplane/dataplane.js";
import { DataPlaneInstaller } from "../../../src/ike/installer.js";
import { Logger } from "../../../src/ike/log.js";
import { IkeSocket } from "../../../src/io/ike-socket.js";
import { childAlgorithm, type ChildSa } from "../../../src/ike/child-sa.js";
import type { IkeSa } from "../../../src/ike/ike-sa.js";

export interface AhPeerConfig {
  local: string; remote: string; localId: string; remoteId: string; psk: string;
  ikeProposals: string; ahProposals: string; espProposals?: string; localTs: string; remoteTs: string;
  initiate: boolean;
}

export interface AhChildEvent {
  event: "child-up" | "child-down";
  protocol: string; algorithm: string; spiIn: string; spiOut: string; udpEncap: boolean; reason?: string;
}

async function main(): Promise<void> {
  const c = JSON.parse(readFileSync(process.argv[2], "utf8")) as AhPeerConfig;
  const out = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
  const dp = DataPlane.create({ maxSAs: 16 });
  const socket = await IkeSocket.open({ addresses: [c.local], onError: (e) => process.stderr.write(`ike-socket: ${e.message}\n`) });
  const engine = new IkeEngine({
    connections: [connectionDefaults({
      name: "ours", localAddrs: [c.local], remoteAddrs: [c.remote], encap: false,
      proposals: parseProposals(c.ikeProposals, "ike"),
      local: { auth: "psk", id: c.localId }, remote: { auth: "psk", id: c.remoteId },
      children: [childDefaults({
        name: "net", localTs: [cidr(c.localTs)], remoteTs: [cidr(c.remoteTs)], ahProposals: parseProposals(c.ahProposals, "ah"),
        espProposals: c.espProposals ? parseProposals(c.espProposals, "esp") : [],
      })],
    })],
    secrets: [{ ids: [c.localId, c.remoteId], secret: Buffer.from(c.psk) }],
    transport: socket, installer: new DataPlaneInstaller(dp),
    log: new Logger(undefined, { ike: 2, chd: 2, net: 1, cfg: 1, enc: 1 }, 2),
  });
  socket.attach(engine);
  const child = (event: AhChildEvent["event"], ch: ChildSa, reason?: string): AhChildEvent => ({
    event, protocol: ch.spec.protocol, algorithm: childAlgorithm(ch.spec), spiIn: hex8(ch.spiIn), spiOut: hex8(ch.spiOut),
    udpEncap: ch.spec.udpEncap, reason,
  });
  engine.on("ike-up", (sa: IkeSa) => out({ event: "ike-up", nat: sa.natLocal || sa.natRemote, remotePort: sa.remote.port }));
  engine.on("child-up", (_sa: IkeSa, ch: ChildSa) => out(child("child-up", ch)));
  engine.on("child-down", (_sa: IkeSa, ch: ChildSa, reason: string) => out(child("child-down", ch, reason)));
  engine.on("child-failed", (_sa: IkeSa, cfg: ChildConfig, why: string) => out({ event: "child-failed", name: cfg.name, why }));
  process.on("SIGTERM", () => void socket.close().then(() => process.exit(0)));
  out({ event: "ready" });
  if (c.initiate) engine.initiate("ours");
}

main().catch((e) => {
  process.stderr.write(`ah-peer: ${(e as Error).stack}\n`);
  process.exit(1);
});
