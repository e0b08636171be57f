// AH Child SA negotiation between strongSwan 5.9 (charon) and our IKEv2 engine (test/e2e/peer/ah-peer.ts) across a
// veth pair. charon's kernel-libipsec backend implements ESP only and requires UDP encapsulation, so charon always
// claims a NAT (a NAT_DETECTION_SOURCE_IP that never matches), and AH cannot work with it: what is checked is that
// our engine decodes charon's AH proposal, never installs AH across that NAT, says why, and that charon copes
// (keeps its IKE_SA without the child either way). AH keys and packets are checked between two of our engines
// (test/unit/ike-ah.test.ts, test/e2e/gateway-ah.test.ts). Needs root and `bash scripts/install-test-deps.sh`.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CHARON, Charon, cleanup, connect, createNetns, makeRunDir, pskTunnel, setupHarness, waitUntil, type Netns, type NsProcess,
} from "./harness/index.js";
import type { AhChildEvent, AhPeerConfig } from "./peer/ah-peer.js";

setupHarness(["ip", "mount", CHARON, "swanctl"]);
after(cleanup);

const SW = { outer: "192.0.2.1", inner: "198.51.100.1", id: "charon.test" };
const WE = { outer: "192.0.2.2", inner: "203.0.113.1", id: "wasm.test" };
const PSK = "AH interop pre-shared key";

let sw: Netns, we: Netns, charon: Charon;

before(async () => {
  sw = createNetns("ahsw");
  we = createNetns("ahwe");
  connect({ ns: sw, addrs: [`${SW.outer}/24`] }, { ns: we, addrs: [`${WE.outer}/24`] });
  sw.addLoopbackAddress(SW.inner);
  charon = await Charon.start(sw);
});

/** charon's configuration: one tunnel whose child proposes `ah` and no ESP. */
async function loadCharon(ah: string): Promise<void> {
  const conf = pskTunnel({
    localAddr: SW.outer, remoteAddr: WE.outer, localId: SW.id, remoteId: WE.id, psk: PSK,
    localTs: `${SW.inner}/32`, remoteTs: `${WE.inner}/32`, child: { ah_proposals: ah },
  }) as { connections: { tunnel: { children: { child: Record<string, unknown> } } } };
  delete conf.connections.tunnel.children.child.esp_proposals;
  await charon.load(conf as Parameters<Charon["load"]>[0]);
}

interface Ours { proc: NsProcess; events: () => Array<AhChildEvent | { event: string; [k: string]: unknown }>; log: () => string }

function startOurs(ah: string, initiate: boolean, esp?: string): Ours {
  const dir = makeRunDir("ah-peer");
  const cfg: AhPeerConfig = {
    local: WE.outer, remote: SW.outer, localId: WE.id, remoteId: SW.id, psk: PSK, ikeProposals: "aes128-sha256-x25519",
    ahProposals: ah, ...(esp ? { espProposals: esp } : {}), localTs: `${WE.inner}/32`, remoteTs: `${SW.inner}/32`, initiate,
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  const logFile = join(dir, "ah-peer.log");
  const proc = we.spawn([process.execPath, new URL("./peer/ah-peer.js", import.meta.url).pathname, join(dir, "config.json")], { logFile });
  const lines = () => readFileSync(logFile, "utf8").split("\n");
  return {
    proc,
    events: () => lines().filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event: string }),
    log: () => lines().slice(-40).join("\n"),
  };
}

const wait = <T>(what: string, ours: Ours, f: () => T | undefined, ms = 15_000) =>
  waitUntil(what, ms, async () => f(), 100).catch((e: Error) => {
    throw new Error(`${e.message}\n--- ours:\n${ours.log()}\n${charon.diagnostics(40)}`);
  });

test("charon offers AH only: we decode its proposal, leave our AH out (its NAT is faked) and refuse; charon keeps the IKE_SA", async () => {
  await loadCharon("sha256");
  const ours = startOurs("sha384-sha256", false, "aes128gcm16");
  try {
    await wait("our peer is ready", ours, () => (ours.events().some((e) => e.event === "ready") ? true : undefined));
    await charon.initiate("child", { timeoutS: 10 }).catch(() => undefined); // no CHILD_SA: swanctl reports a failure
    await wait("charon gets NO_PROPOSAL_CHOSEN", ours, () => (/received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built/.test(charon.log()) ? true : undefined));
    const up = ours.events().find((e) => e.event === "ike-up");
    assert.deepEqual(up, { event: "ike-up", nat: true, remotePort: 4500 }, "kernel-libipsec makes charon claim a NAT");
    const log = ours.log();
    assert.match(log, /theirs: AH:HMAC_SHA2_256_128\/NO_ESN/, "charon's AH proposal as we decoded it");
    assert.match(log, /ours: {3}ESP:AES_GCM_16_128\/NO_ESN/);
    assert.match(log, /our AH proposals were left out: a NAT was detected \(in front of the peer\), and AH cannot be UDP-encapsulated/);
    assert.match(charon.log(), /failed to establish CHILD_SA, keeping IKE_SA/);
    assert.ok(!ours.events().some((e) => e.event === "child-up"), "nothing installed");
  } finally {
    await ours.proc.stop();
    await charon.terminate({ ike: "tunnel" }).catch(() => undefined);
  }
});

test("we have AH only and charon claims a NAT: our child fails before it is proposed, the IKE_SA comes up without it", async () => {
  await loadCharon("sha512");
  const ours = startOurs("sha256-sha512", true);
  try {
    const failed = await wait("our AH child fails", ours,
      () => ours.events().find((e) => e.event === "child-failed") as { why: string } | undefined);
    assert.equal(failed.why, "CHILD_SA net has AH proposals only, and AH cannot be used: a NAT was detected (in front of the peer), " +
      "and AH cannot be UDP-encapsulated");
    const sas = await charon.waitForSas("charon's IKE_SA", (l) => (l.length ? l : undefined));
    assert.equal(sas.length, 1);
    assert.equal(sas[0].state, "ESTABLISHED");
    assert.deepEqual(sas[0].children, [], "no CHILD_SA: none was proposed");
  } finally {
    await ours.proc.stop();
    await charon.terminate({ ike: "tunnel" }).catch(() => undefined);
  }
});
