// The control socket protocol: validation of untrusted requests, framing, and a client/server round trip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createConnection } from "node:net";
import { parseCommand, LineReader } from "../../src/control/protocol.js";
import { ControlServer } from "../../src/control/server.js";
import { callDaemon } from "../../src/control/client.js";
import { formatSas, formatConns, duration } from "../../src/control/format.js";

test("requests are validated with specific errors", () => {
  assert.match(parseCommand(42) as string, /JSON object/);
  assert.match(parseCommand({ cmd: "reboot" }) as string, /unknown command "reboot"/);
  assert.match(parseCommand({ cmd: "initiate" }) as string, /needs --child NAME or --ike NAME/);
  assert.match(parseCommand({ cmd: "initiate", child: 5 }) as string, /child must be a string/);
  assert.match(parseCommand({ cmd: "initiate", child: "x", timeout: -1 }) as string, /timeout/);
  assert.deepEqual(parseCommand({ cmd: "list-sas" }), { cmd: "list-sas" });
});

test("line framing: split chunks, bad JSON and oversized lines are reported, not thrown", () => {
  const got: unknown[] = [], errs: string[] = [];
  const r = new LineReader((v) => got.push(v), (e) => errs.push(e), 64);
  r.push('{"a":'); r.push('1}\n{"b":2}\n\nnot json\n');
  r.push("x".repeat(100));
  assert.deepEqual(got, [{ a: 1 }, { b: 2 }]);
  assert.equal(errs.length, 2);
});

test("client and server: logs stream before the result; errors come back as errors; garbage is answered", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "wipsec-ctl-"));
  const sock = path.join(dir, "ctl.sock");
  const server = new ControlServer(sock, async (cmd, log) => {
    if (cmd.cmd === "stats") { log("counting"); return { ok: 1 }; }
    throw new Error("no such child 'x'");
  });
  try {
    await server.listen();
    const logs: string[] = [];
    assert.deepEqual(await callDaemon(sock, { cmd: "stats" }, (l) => logs.push(l)), { ok: 1 });
    assert.deepEqual(logs, ["counting"]);
    await assert.rejects(callDaemon(sock, { cmd: "initiate", child: "x" }), /no such child 'x'/);
    const answer = await new Promise<string>((resolve) => {
      const c = createConnection(sock);
      c.setEncoding("utf8");
      c.on("data", (d: string) => { resolve(d); c.destroy(); });
      c.write("{{{\n");
    });
    assert.match(answer, /"ok":false.*not JSON/);
    await assert.rejects(new ControlServer(sock, async () => null).listen(), /another daemon is listening/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(callDaemon(sock, { cmd: "stats" }), /cannot reach the daemon .* is 'wasm-ipsec daemon' running/);
});

test("list-sas text looks like swanctl's", () => {
  const text = formatSas([{
    name: "gw", uniqueId: 3, state: "established", version: 2, initiator: true, spiI: "0011223344556677", spiR: "8899aabbccddeeff",
    localHost: "192.0.2.1", localPort: 4500, localId: "moon", remoteHost: "192.0.2.2", remotePort: 4500, remoteId: "sun",
    natLocal: true, natRemote: false, algorithms: "AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519", establishedSecondsAgo: 65, rekeyInSeconds: 3600,
    children: [{ name: "net", uniqueId: 4, state: "installed", mode: "tunnel", protocol: "ESP", encap: true, encr: "AES_GCM_16-128", esn: false,
      spiIn: "c1234567", spiOut: "c7654321", bytesIn: "252", packetsIn: "3", bytesOut: "168", packetsOut: "2",
      dropsIn: { replay: "1" }, dropsOut: {}, localTs: ["10.1.0.0/24"], remoteTs: ["10.2.0.0/24"], installedSecondsAgo: 65, rekeyInSeconds: 3000 }],
  }]);
  assert.match(text, /^gw: #3, ESTABLISHED, IKEv2, 0011223344556677_i\* 8899aabbccddeeff_r/);
  assert.match(text, /net: #4, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-128/);
  assert.match(text, /in {2}c1234567, +252 bytes, +3 packets, dropped replay 1/);
  assert.equal(duration(3725), "1h 2m");
});

test("list-sas: the IKE SA's rekey and reauth times in swanctl's order and words; a half-open SA has none", () => {
  const sa = {
    name: "gw", uniqueId: 1, state: "established", version: 2 as const, initiator: false, spiI: "0011223344556677", spiR: "8899aabbccddeeff",
    localHost: "192.0.2.1", localPort: 500, localId: "moon", remoteHost: "192.0.2.2", remotePort: 500, remoteId: "sun",
    natLocal: false, natRemote: false, algorithms: "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519", children: [],
  };
  // swanctl list_sas.c: "  established %ss ago" [", rekeying in %ss"] [", reauth in %ss"] (our durations are h/m/s).
  const line = (over: object) => formatSas([{ ...sa, ...over }]).split("\n").filter((l) => l.startsWith("  established"));
  assert.deepEqual(line({ establishedSecondsAgo: 5, rekeyInSeconds: 13985, reauthInSeconds: 3290 }), ["  established 5s ago, rekeying in 3h 53m, reauth in 54m 50s"]);
  assert.deepEqual(line({ establishedSecondsAgo: 5, reauthInSeconds: 3290 }), ["  established 5s ago, reauth in 54m 50s"]);
  assert.deepEqual(line({ establishedSecondsAgo: 5 }), ["  established 5s ago"]);
  assert.deepEqual(line({ state: "authenticating" }), []);
});

test("list-conns: authentication by method, with the certificates' subjects", () => {
  const text = formatConns([{
    name: "gw", localAddrs: ["192.0.2.1"], remoteAddrs: ["192.0.2.2"], proposals: [],
    local: { auth: "pubkey", id: "moon.example", certs: ["C=CH, CN=moon.example", "C=CH, CN=Intermediate CA"] },
    remote: { auth: "pubkey", id: "%any", cacerts: ["C=CH, CN=Root CA"] }, children: [],
  }, {
    name: "psk", localAddrs: ["%any"], remoteAddrs: ["%any"], proposals: [], local: { auth: "psk", id: "a" }, remote: { auth: "psk", id: "b" }, children: [],
  }]);
  assert.ok(text.includes("  local public key authentication:\n    id: moon.example\n    certs: C=CH, CN=moon.example\n    certs: C=CH, CN=Intermediate CA\n"), text);
  assert.ok(text.includes("  remote public key authentication:\n    id: %any\n    cacerts: C=CH, CN=Root CA\n"), text);
  assert.ok(text.includes("  local pre-shared key authentication:\n    id: a\n  remote pre-shared key authentication:\n    id: b\n"), text);
});
