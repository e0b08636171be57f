// swanctl.conf onto the engine's model. Expected values come from strongSwan's documentation
// (swanctl.opt defaults), its vici_config.c lifetime rules, IANA transform numbers, strongSwan's own test
// configs (copied into test/fixtures/config, source named in each) and charon 5.9.8's listing of a config
// (charon-5.9.8-list-conns.*).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/settings.js";
import { loadSwanctl, parseSwanctl, type SwanctlConnection, type SwanctlChild } from "../../src/config/swanctl.js";
import { isDynamic, type ConfigSelector } from "../../src/config/selectors.js";
import type { Proposal } from "../../src/ike/crypto/transforms.js";

const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/config");
const fixture = (name: string) => join(FIXTURES, name);

// IANA "IKEv2 Transform Type n Transform IDs"
const AES_CBC = 12, AES_GCM_8 = 18, AES_GCM_12 = 19, AES_GCM_16 = 20;
const PRF_SHA256 = 5, PRF_SHA384 = 6, PRF_SHA512 = 7;
const AUTH_SHA256 = 12, AUTH_SHA384 = 13, AUTH_SHA512 = 14;
const ECP256 = 19, ECP384 = 20, ECP521 = 21, X25519 = 31;
const ESN_NONE = 0;

const sizes = (id: number) => [128, 192, 256].map((keyBits) => ({ id, keyBits }));
const ike = (encr: { id: number; keyBits: number }[], prf: number[], integ: number[], dh: number[]): Proposal =>
  ({ protocol: "ike", encr, prf, integ, dh, esn: [] } as Proposal);
const esp = (encr: { id: number; keyBits: number }[], dh: number[] = []): Proposal =>
  ({ protocol: "esp", encr, prf: [], integ: [], dh, esn: [ESN_NONE] } as Proposal);

/** strongSwan's default IKE proposals restricted to AES-CBC/GCM, SHA-2 and ECP/Curve25519 (proposal.c). */
const DEFAULT_IKE = [
  ike(sizes(AES_CBC), [PRF_SHA256, PRF_SHA384, PRF_SHA512], [AUTH_SHA256, AUTH_SHA384, AUTH_SHA512], [ECP256, ECP384, ECP521, X25519]),
  ike([...sizes(AES_GCM_16), ...sizes(AES_GCM_12), ...sizes(AES_GCM_8)], [PRF_SHA256, PRF_SHA384, PRF_SHA512], [], [ECP256, ECP384, ECP521, X25519]),
];
const DEFAULT_ESP = [esp(sizes(AES_GCM_16))];

const dynamic = (protocol = 0, portStart = 0, portEnd = 65535): ConfigSelector => ({ dynamic: true, protocol, portStart, portEnd });
const range = (start: string, end: string, protocol = 0, portStart = 0, portEnd = 65535): ConfigSelector => ({ start, end, protocol, portStart, portEnd });

/** The lines of the ConfigError a config raises. */
function issues(text: string, file = "e.conf"): string[] {
  try {
    parseSwanctl(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("no error");
}

/** A connection with the documented defaults: swanctl.opt, with the children's lifetimes as vici derives them. */
function defaultChild(name: string, over: Partial<SwanctlChild> = {}): SwanctlChild {
  return {
    name, localTs: [dynamic()], remoteTs: [dynamic()], espProposals: DEFAULT_ESP, mode: "tunnel", startAction: "none",
    closeAction: "none", dpdAction: "clear", replayWindow: 32,
    rekeyTime: 3600, lifeTime: 3960, randTime: 360, // 1h, +10%, the difference
    rekeyBytes: 0, lifeBytes: 0, randBytes: 0, rekeyPackets: 0, lifePackets: 0, randPackets: 0, ...over,
  };
}

function defaultConnection(name: string, over: Partial<SwanctlConnection> = {}): SwanctlConnection {
  return {
    name, version: 0, localAddrs: ["%any"], remoteAddrs: ["%any"], localPort: 500, remotePort: 500, proposals: DEFAULT_IKE,
    local: { auth: "psk", id: "%any" }, remote: { auth: "psk", id: "%any" }, children: [],
    rekeyTime: 14400, reauthTime: 0, overTime: 1440, randTime: 1440, // 4h; over and rand: 10% of it
    dpdDelay: 0, dpdTimeout: 0, encap: false, fragmentation: true, keyingTries: 1, unique: "no", mobike: true,
    sendCert: "ifasked", sendCertreq: true, ...over,
  };
}

// ---------------------------------------------------------------------------------------- defaults

const MINIMAL = "connections {\n  gw {\n    local {\n      auth = psk\n    }\n    children {\n      net {\n      }\n    }\n  }\n}\n";

test("a minimal connection gets strongSwan's documented defaults", () => {
  const c = parseSwanctl(MINIMAL);
  assert.deepEqual(c.connections, [defaultConnection("gw", { children: [defaultChild("net")] })]);
  assert.deepEqual(c.secrets, []);
  assert.deepEqual(c.wasmIpsec, { cryptoBackend: "wasm", maxSas: 1024, tun: { name: "wipsec%d" } });
});

test("round trip: every documented default written out gives the same model as none at all", () => {
  const explicit = `connections {
  gw {
    version = 0
    local_addrs = %any
    remote_addrs = %any
    local_port = 500
    remote_port = 500
    proposals = default
    vips =
    aggressive = no
    pull = yes
    dscp = 000000
    encap = no
    mobike = yes
    dpd_delay = 0s
    dpd_timeout = 0s
    fragmentation = yes
    childless = allow
    send_certreq = yes
    send_cert = ifasked
    ocsp = reply
    ppk_id =
    ppk_required = no
    keyingtries = 1
    unique = no
    reauth_time = 0s
    rekey_time = 4h
    over_time = 1440s
    rand_time = 1440s
    pools =
    if_id_in = 0
    if_id_out = 0
    mediation = no
    local {
      round = 0
      auth = psk
      certs =
      pubkeys =
    }
    remote {
      round = 0
      id = %any
      revocation = relaxed
    }
    children {
      net {
        ah_proposals =
        esp_proposals = default
        sha256_96 = no
        local_ts = dynamic
        remote_ts = dynamic
        rekey_time = 1h
        life_time = 3960s
        rand_time = 360s
        rekey_bytes = 0
        life_bytes = 0
        rand_bytes = 0
        rekey_packets = 0
        life_packets = 0
        rand_packets = 0
        updown =
        hostaccess = no
        mode = tunnel
        policies = yes
        policies_fwd_out = no
        dpd_action = clear
        ipcomp = no
        inactivity = 0s
        reqid = 0
        priority = 0
        interface =
        mark_in = 0/0x00000000
        mark_in_sa = no
        mark_out = 0/0x00000000
        set_mark_in = 0/0x00000000
        set_mark_out = 0/0x00000000
        if_id_in = 0
        if_id_out = 0
        label =
        label_mode = system
        tfc_padding = 0
        replay_window = 32
        per_cpu_sas = no
        hw_offload = no
        copy_df = yes
        copy_ecn = yes
        copy_dscp = out
        icmp = no
        start_action = none
        close_action = none
      }
    }
  }
}
wasm-ipsec {
  crypto_backend = wasm
  max_sas = 1024
  keylog =
  tun {
    name = wipsec%d
  }
}
`;
  assert.deepEqual(parseSwanctl(explicit), parseSwanctl(MINIMAL));
});

test("IKE lifetimes as vici derives them: reauth alone disables rekeying; over and rand from the longer", () => {
  const conn = (keys: string) => parseSwanctl(`connections { c { ${keys}\nlocal { auth = psk } } }`).connections[0];
  const times = (c: SwanctlConnection) => [c.rekeyTime, c.reauthTime, c.overTime, c.randTime];
  assert.deepEqual(times(conn("")), [14400, 0, 1440, 1440]);
  assert.deepEqual(times(conn("reauth_time = 10800")), [0, 10800, 1080, 1080]);
  assert.deepEqual(times(conn("reauth_time = 0")), [0, 0, 0, 0]);
  assert.deepEqual(times(conn("rekey_time = 1h\nreauth_time = 2h")), [3600, 7200, 720, 720]);
  assert.deepEqual(times(conn("rekey_time = 1h\nreauth_time = 2h\nover_time = 1h")), [3600, 7200, 3600, 1800]);
  assert.deepEqual(times(conn("rekey_time = 100\nrand_time = 7\nover_time = 1")), [100, 0, 1, 7]);
});

test("CHILD_SA lifetimes: a missing soft limit is the hard one / 1.1, a missing hard one the soft one * 1.1", () => {
  const child = (keys: string) => parseSwanctl(`connections { c { local { auth = psk }\nchildren { x { ${keys}\n} } } }`)
    .connections[0].children[0];
  const t = (c: SwanctlChild) => [c.rekeyTime, c.lifeTime, c.randTime];
  assert.deepEqual(t(child("life_time = 1h")), [3272, 3600, 328]); // 3600 / 1.1 = 3272.7
  assert.deepEqual(t(child("rekey_time = 5400")), [5400, 5940, 540]);
  assert.deepEqual(t(child("rekey_time = 0")), [0, 0, 0]);
  assert.deepEqual(t(child("rekey_time = 2h\nlife_time = 1h")), [7200, 3600, 0]); // rand: life - min(life, rekey)
  assert.deepEqual(t(child("rekey_time = 1h\nrand_time = 5m")), [3600, 3960, 300]);
  const v = child("life_bytes = 1M\nrekey_packets = 1000");
  assert.deepEqual([v.rekeyBytes, v.lifeBytes, v.randBytes], [953250, 1048576, 95326]); // 1048576 / 1.1 = 953250.9
  assert.deepEqual([v.rekeyPackets, v.lifePackets, v.randPackets], [1000, 1100, 100]);
});

// ------------------------------------------------------------------------ strongSwan's test configs

test("ikev2/net2net-psk moon: the connection, and secrets in every notation", () => {
  const c = loadSwanctl(fixture("ikev2-net2net-psk-moon.conf"));
  assert.deepEqual(c.connections, [defaultConnection("gw-gw", {
    version: 2, localAddrs: ["192.168.0.1"], remoteAddrs: ["192.168.0.2"],
    proposals: [ike([{ id: AES_CBC, keyBits: 128 }], [PRF_SHA256], [AUTH_SHA256], [X25519])],
    local: { auth: "psk", id: "moon.strongswan.org" }, remote: { auth: "psk", id: "sun.strongswan.org" },
    mobike: false, rekeyTime: 0, reauthTime: 10800, overTime: 1080, randTime: 1080,
    children: [defaultChild("net-net", {
      localTs: [range("10.1.0.0", "10.1.255.255")], remoteTs: [range("10.2.0.0", "10.2.255.255")],
      espProposals: [esp([{ id: AES_GCM_16, keyBits: 128 }], [X25519])],
      rekeyTime: 5400, lifeTime: 5940, randTime: 540,
      rekeyBytes: 500000000, lifeBytes: 550000000, randBytes: 50000000,
      rekeyPackets: 1000000, lifePackets: 1100000, randPackets: 100000,
      updown: "/usr/local/libexec/ipsec/_updown iptables",
    })],
  })]);
  const hex = c.secrets.map((s) => ({ ids: s.ids, secret: Buffer.from(s.secret).toString("hex") }));
  assert.deepEqual(hex, [
    { ids: ["moon.strongswan.org"], secret: "45a30759df97dc26a15b88ff" },
    { ids: ["sun.strongswan.org"], secret: Buffer.from("This is a strong password").toString("hex") },
    { ids: ["moon.strongswan.org", "sun.strongswan.org"], secret: Buffer.from("v+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL", "base64").toString("hex") },
    // 'My "home" is my "castle"!': single quotes are ordinary, the double-quoted words are separate parts
    { ids: [], secret: Buffer.from("'My home is my castle !'").toString("hex") },
    { ids: ["192.168.0.1"], secret: Buffer.from("Andi's home").toString("hex") },
  ]);
});

test("ikev2/net2net-psk sun mirrors moon, and both hold the same key for the pair", () => {
  const moon = loadSwanctl(fixture("ikev2-net2net-psk-moon.conf")), sun = loadSwanctl(fixture("ikev2-net2net-psk-sun.conf"));
  const m = moon.connections[0], s = sun.connections[0];
  assert.deepEqual([s.localAddrs, s.remoteAddrs], [m.remoteAddrs, m.localAddrs]);
  assert.deepEqual([s.local.id, s.remote.id], [m.remote.id, m.local.id]);
  assert.deepEqual([s.children[0].localTs, s.children[0].remoteTs], [m.children[0].remoteTs, m.children[0].localTs]);
  assert.deepEqual(sun.secrets, [{ ids: ["moon.strongswan.org", "sun.strongswan.org"], secret: moon.secrets[2].secret }]);
});

test("ikev2/rw-psk-fqdn: road warrior with dynamic selectors; carol's hex key is moon's base64 key", () => {
  const moon = loadSwanctl(fixture("ikev2-rw-psk-fqdn-moon.conf")), carol = loadSwanctl(fixture("ikev2-rw-psk-fqdn-carol.conf"));
  const rw = moon.connections[0];
  assert.deepEqual([rw.name, rw.localAddrs, rw.remoteAddrs, rw.remote], ["rw", ["192.168.0.1"], ["%any"], { auth: "psk", id: "%any" }]);
  assert.deepEqual(rw.children[0].remoteTs, [dynamic()]);
  assert.equal(isDynamic(rw.children[0].remoteTs[0]), true);
  assert.deepEqual(carol.connections[0].children[0].localTs, [dynamic()]);
  assert.deepEqual(carol.connections[0].children[0].remoteTs, [range("10.1.0.0", "10.1.255.255")]);
  assert.deepEqual(moon.secrets.map((s) => s.ids), [["carol@strongswan.org"], ["dave@strongswan.org"]]);
  assert.deepEqual(carol.secrets[0].secret, moon.secrets[0].secret);
});

test("ikev2/start-action-start sun: connections built from a template by reference, defaults everywhere else", () => {
  const c = loadSwanctl(fixture("ikev2-start-action-start-sun.conf"));
  assert.deepEqual(c.connections.map((x) => [x.name, x.local.id, x.remote.id, x.children.length]), [
    ["one-start", "sun-one", "moon-one", 1], ["two-start", "sun-two", "moon-two", 2], ["four-start", "sun-four", "moon-four", 4],
    ["one-start-child", "sun-one-child", "moon-one-child", 1], ["two-start-child", "sun-two-child", "moon-two-child", 2],
    ["four-start-child", "sun-four-child", "moon-four-child", 4],
  ]);
  const four = c.connections[2];
  assert.deepEqual(four, defaultConnection("four-start", {
    localAddrs: ["192.168.0.2"], remoteAddrs: ["192.168.0.1"],
    local: { auth: "psk", id: "sun-four" }, remote: { auth: "psk", id: "moon-four" },
    children: [4001, 4002, 4003, 4004].map((port, i) => defaultChild(`four-start-${i + 1}`, {
      localTs: [dynamic(6, port, port)], remoteTs: [dynamic(6, port, port)],
    })),
  }));
  assert.deepEqual(c.secrets, [{ ids: [], secret: Uint8Array.from(Buffer.from("v+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL", "base64")) }]);
});

test("ikev2/nat-rw-psk sun: IP address identities", () => {
  const c = loadSwanctl(fixture("ikev2-nat-rw-psk-sun.conf"));
  assert.deepEqual(c.connections[0].local, { auth: "psk", id: "192.168.0.2" });
  assert.deepEqual(c.secrets.map((s) => s.ids), [["10.1.0.10"], ["10.1.0.20"]]);
});

test("strongSwan test configs using what wasm-ipsec lacks: every problem, with its place", () => {
  const f = fixture("ikev2-net2net-psk-dscp-moon.conf");
  const addr = "expected an IP address, a subnet (192.0.2.0/24), a range (192.0.2.1-192.0.2.9), %any, %any4 or %any6";
  assert.deepEqual(loadIssues(f), [
    `${f}:6:7: connections.dscp-be.local_addrs = PH_IP_MOON: ${addr}`,
    `${f}:7:7: connections.dscp-be.remote_addrs = PH_IP_SUN: ${addr}`,
    `${f}:22:13: connections.dscp-be.children.net-net.mark_in = 10: not supported by wasm-ipsec: netfilter marks`,
    `${f}:23:13: connections.dscp-be.children.net-net.mark_out = 10: not supported by wasm-ipsec: netfilter marks`,
    `${f}:43:13: connections.dscp-ef.children.net-net.mark_in = 20: not supported by wasm-ipsec: netfilter marks`,
    `${f}:44:13: connections.dscp-ef.children.net-net.mark_out = 20: not supported by wasm-ipsec: netfilter marks`,
  ]);
  const g = fixture("ikev2-trap-any-moon.conf");
  assert.deepEqual(loadIssues(g), [
    `${g}:23:4: connections.pass: public key authentication (the default without auth = psk) needs our certificate: add certs = <file in ${join(FIXTURES, "x509")}>`,
    `${g}:30:13: connections.pass.children.pass-ssh.mode = pass: not supported by wasm-ipsec: only tunnel and transport mode`,
  ]);
  const h = fixture("ikev2-rw-psk-no-idr-carol.conf");
  assert.deepEqual(loadIssues(h), [
    `${h}:15:10: connections.home.remote.id = *.strongswan.org: not supported by wasm-ipsec: wildcard and regular-expression identities other than in distinguished names`,
  ]);
  const i = fixture("ipv6-rw-psk-ikev2-moon.conf");
  assert.deepEqual(loadIssues(i), [
    `${i}:20:13: connections.rw.children.net.esp_proposals = aes128-sha256-x25519: not supported by wasm-ipsec: `
      + "'aes128-sha256-x25519': the data plane implements AES-GCM only (e.g. aes256gcm16)",
  ]);
});

function loadIssues(file: string): string[] {
  try {
    loadSwanctl(file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("no error");
}

// ------------------------------------------------------------------- charon 5.9.8 as the oracle

/** A selector as charon prints it (%R): subnet or a..b, with [proto/port] using the names of the capture. */
function printTs(ts: ConfigSelector): string {
  const PROTO: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp" }, SERVICE: Record<number, string> = { 22: "ssh", 80: "http", 123: "ntp" };
  const host = (a: string) => (a.includes(":") ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a); // RFC 5952 form
  const value = (a: string) => (a.includes(":")
    ? a.split(":").reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n)
    : a.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n));
  let net = "dynamic";
  if (!isDynamic(ts)) {
    const size = value(ts.end) - value(ts.start) + 1n;
    const prefix = (size & (size - 1n)) === 0n && value(ts.start) % size === 0n;
    const len = (ts.start.includes(":") ? 128 : 32) - (size.toString(2).length - 1);
    net = prefix ? `${host(ts.start)}/${len}` : `${host(ts.start)}..${host(ts.end)}`;
  }
  const p = ts.protocol ?? 0, from = ts.portStart ?? 0, to = ts.portEnd ?? 65535;
  if (p === 0 && from === 0 && to === 65535) return net;
  const proto = PROTO[p] ?? String(p);
  if (from === 0 && to === 65535) return `${net}[${proto}]`;
  const port = p === 1 ? String(from >> 8) : from === to ? SERVICE[from] ?? String(from) : `${from}-${to}`;
  return `${net}[${proto}/${port}]`;
}

test("charon 5.9.8 lists the captured config as we read it: lifetimes, modes, selectors", () => {
  const c = loadSwanctl(fixture("charon-5.9.8-list-conns.conf"));
  const every = (n: number, what: string) => ` every ${n}${what}`;
  const lines: string[] = [];
  for (const conn of c.connections) {
    lines.push(`${conn.name}: IKEv1/2, ${conn.reauthTime ? `reauthentication${every(conn.reauthTime, "s")}` : "no reauthentication"}, `
      + `${conn.rekeyTime ? `rekeying${every(conn.rekeyTime, "s")}` : "no rekeying"}${conn.dpdDelay ? `, dpd delay ${conn.dpdDelay}s` : ""}`);
    for (const ch of conn.children) {
      const limits = [ch.rekeyTime ? ` ${ch.rekeyTime}s` : "", ch.rekeyBytes ? ` ${ch.rekeyBytes} bytes` : "", ch.rekeyPackets ? ` ${ch.rekeyPackets} packets` : ""]
        .filter((x) => x).join(" or");
      const dpd = { clear: "none", trap: "trap", restart: "start" }[ch.dpdAction];
      lines.push(`  ${ch.name}: ${ch.mode.toUpperCase()}, ${limits ? `rekeying every${limits}` : "no rekeying"}${conn.dpdDelay ? `, dpd action is ${dpd}` : ""}`);
      lines.push(`    local:  ${ch.localTs.map(printTs).join(" ")}`, `    remote: ${ch.remoteTs.map(printTs).join(" ")}`);
    }
  }
  const charon = readFileSync(fixture("charon-5.9.8-list-conns.txt"), "utf8").split("\n")
    .filter((l) => /^\S+: IKE|^ {2}\S+: (TUNNEL|TRANSPORT)|^ {4}(local|remote): /.test(l));
  assert.deepEqual(lines, charon);
});

// --------------------------------------------------------------------------------- error paths

test("an unknown key is named with its place and the closest known key", () => {
  assert.deepEqual(issues("connections {\n  gw {\n    rekey_tme = 1h\n    local { auth = psk }\n  }\n}\n"),
    ["e.conf:3:5: unknown key 'rekey_tme' in connections.gw (did you mean 'rekey_time'?)"]);
  assert.deepEqual(issues("connections { gw { local { auth = psk\n  ids = x }\n children { c {\n  local_tss = dynamic\n  flavour = x } } } }"), [
    "e.conf:2:3: unknown key 'ids' in connections.gw.local (did you mean 'id'?)",
    "e.conf:4:3: unknown key 'local_tss' in connections.gw.children.c (did you mean 'local_ts'?)",
    "e.conf:5:3: unknown key 'flavour' in connections.gw.children.c",
  ]);
  assert.deepEqual(issues("x = 1\nconnections {\n  y = 2\n}\nsecrets {\n  z = 3\n  ike { secert = s\n id = a } }\n"), [
    "e.conf:1:1: unknown key 'x' in the top level",
    "e.conf:3:3: unknown key 'y' in connections",
    "e.conf:6:3: unknown key 'z' in secrets",
    "e.conf:7:9: unknown key 'secert' in secrets.ike (did you mean 'secret'?)",
    "e.conf:7:3: secrets.ike: missing secret = ...",
  ].sort(byPosition));
});

/** Issue lines in file order (what the loader promises). */
function byPosition(a: string, b: string): number {
  const pos = (s: string) => s.split(":").slice(1, 3).map(Number);
  const [la, ca] = pos(a), [lb, cb] = pos(b);
  return la - lb || ca - cb;
}

test("unknown sections, with suggestions; template sections that are referenced are fine", () => {
  assert.deepEqual(issues("connection { }\ntmpl { }\nunused { }\nconnections { gw : tmpl { local { auth = psk }\n childern { } } }"), [
    "e.conf:1:1: unknown section 'connection' (did you mean 'connections'?)",
    "e.conf:3:1: unknown section 'unused'",
    "e.conf:5:2: unknown section 'childern' in connections.gw (did you mean 'children'?)",
  ]);
  assert.deepEqual(issues("connections { gw { local { auth = psk\n cert-1 { file = /x } }\n children { c { sub { } } } } }\nwasm-ipsec { tunn { } }"), [
    "e.conf:2:2: connections.gw.local.cert-1: not supported by wasm-ipsec: certificates on tokens or smartcards (use certs = <file>)",
    "e.conf:3:17: unknown section 'sub' in connections.gw.children.c",
    "e.conf:4:14: unknown section 'tunn' in wasm-ipsec (did you mean 'tun'?)",
  ]);
});

test("settings strongSwan has and wasm-ipsec lacks are errors that say so", () => {
  const conn = (keys: string, child = "") => issues(`connections {\n gw {\n  local { auth = psk }\n  ${keys}\n  children { c {\n   ${child}\n  } }\n }\n}\n`);
  const e = (line: number, col: number, text: string) => [`e.conf:${line}:${col}: ${text}`];
  assert.deepEqual(conn("pools = p1"), e(4, 3, "connections.gw.pools = p1: not supported by wasm-ipsec: virtual IP address pools"));
  assert.deepEqual(conn("vips = 0.0.0.0"), e(4, 3, "connections.gw.vips = 0.0.0.0: not supported by wasm-ipsec: virtual IPs (configuration payloads)"));
  assert.deepEqual(conn("version = 1"), e(4, 3, "connections.gw.version = 1: not supported by wasm-ipsec: IKEv1"));
  assert.deepEqual(conn("aggressive = yes"), e(4, 3, "connections.gw.aggressive = yes: not supported by wasm-ipsec: IKEv1 Aggressive Mode"));
  assert.deepEqual(conn("fragmentation = accept"), e(4, 3, "connections.gw.fragmentation = accept: not supported by wasm-ipsec: only yes and no"));
  assert.deepEqual(conn("dscp = 101110"), e(4, 3, "connections.gw.dscp = 101110: not supported by wasm-ipsec: DSCP marking of IKE packets"));
  assert.deepEqual(conn("childless = force"), e(4, 3, "connections.gw.childless = force: not supported by wasm-ipsec: childless IKE_SA initiation (RFC 6023)"));
  assert.deepEqual(conn("ppk_id = k"), e(4, 3, "connections.gw.ppk_id = k: not supported by wasm-ipsec: postquantum preshared keys (RFC 8784)"));
  assert.deepEqual(conn("if_id_in = %unique"), e(4, 3, "connections.gw.if_id_in = %unique: not supported by wasm-ipsec: XFRM interface IDs"));
  assert.deepEqual(conn("remote_addrs = vpn.example.org"), e(4, 3, "connections.gw.remote_addrs = vpn.example.org: not supported by wasm-ipsec: DNS names are not supported here, use an IP address"));
  assert.deepEqual(conn("proposals = aes256-sha256-modp2048"), e(4, 3, "connections.gw.proposals = aes256-sha256-modp2048: not supported by wasm-ipsec: algorithm 'modp2048' is not implemented (available: "
    + "aes aes128 aes192 aes256 sha256 sha2_256 sha384 sha2_384 sha512 sha2_512 prfsha256 prfsha384 prfsha512 ecp256 ecp384 ecp521 curve25519 x25519 noesn esn "
    + "aes128gcm aes128gcm8 aes128gcm64 aes128gcm12 aes128gcm96 aes128gcm16 aes128gcm128 aes192gcm aes192gcm8 aes192gcm64 aes192gcm12 aes192gcm96 aes192gcm16 aes192gcm128 "
    + "aes256gcm aes256gcm8 aes256gcm64 aes256gcm12 aes256gcm96 aes256gcm16 aes256gcm128)"));
  assert.deepEqual(conn("", "mode = beet"), e(6, 4, "connections.gw.children.c.mode = beet: not supported by wasm-ipsec: only tunnel and transport mode"));
  assert.deepEqual(conn("", "ipcomp = yes"), e(6, 4, "connections.gw.children.c.ipcomp = yes: not supported by wasm-ipsec: IPComp"));
  assert.deepEqual(conn("", "replay_window = 8"), e(6, 4, "connections.gw.children.c.replay_window = 8: not supported by wasm-ipsec: replay windows other than 0 (off) and 32-16320"));
  assert.deepEqual(conn("", "start_action = trap|start"), e(6, 4, "connections.gw.children.c.start_action = trap|start: not supported by wasm-ipsec: combined actions (trap|start)"));
  assert.deepEqual(conn("", "hw_offload = packet"), e(6, 4, "connections.gw.children.c.hw_offload = packet: not supported by wasm-ipsec: hardware offload"));
  assert.deepEqual(conn("", "per_cpu_sas = encap"), e(6, 4, "connections.gw.children.c.per_cpu_sas = encap: not supported by wasm-ipsec: per-CPU SAs"));
  assert.deepEqual(conn("", "local_ts = 10.0.0.0/8[tcp/opaque]"), e(6, 4, "connections.gw.children.c.local_ts = 10.0.0.0/8[tcp/opaque]: not supported by wasm-ipsec: OPAQUE ports (RFC 4301)"));
  assert.deepEqual(conn("", "esp_proposals = aes256-sha256"), e(6, 4, "connections.gw.children.c.esp_proposals = aes256-sha256: not supported by wasm-ipsec: 'aes256-sha256': the data plane implements AES-GCM only (e.g. aes256gcm16)"));
  assert.deepEqual(conn("", "mark_out = %unique"), e(6, 4, "connections.gw.children.c.mark_out = %unique: not supported by wasm-ipsec: netfilter marks"));
  assert.deepEqual(conn("", "inactivity = 5m"), e(6, 4, "connections.gw.children.c.inactivity = 5m: not supported by wasm-ipsec: inactivity timeouts"));
});

test("authentication other than PSK, and identities the engine cannot match, are errors", () => {
  const auth = (local: string, remote = "auth = psk") => issues(`connections {\n gw {\n  local {\n   ${local}\n  }\n  remote {\n   ${remote}\n  }\n }\n}\n`);
  assert.deepEqual(auth("auth = eap-mschapv2"), ["e.conf:4:4: connections.gw.local.auth = eap-mschapv2: not supported by wasm-ipsec: EAP authentication (only psk and pubkey)"]);
  assert.deepEqual(auth("auth = psk", "auth = pubkey-sha256"), ["e.conf:7:4: connections.gw.remote.auth = pubkey-sha256: not supported by wasm-ipsec: signature scheme and key strength constraints (use auth = pubkey)"]);
  assert.deepEqual(auth("auth = xauth-pam"), ["e.conf:4:4: connections.gw.local.auth = xauth-pam: not supported by wasm-ipsec: XAuth (IKEv1; only psk and pubkey)"]);
  assert.deepEqual(auth("auth = secret"), ["e.conf:4:4: connections.gw.local.auth = secret: expected psk, pubkey, eap[-method] or xauth[-backend]"]);
  assert.deepEqual(auth("id = moon"), ["e.conf:3:3: connections.gw.local: public key authentication (the default without auth = psk) needs our certificate: "
    + "add certs = <file in x509> (none there for 'moon' with its private key)"]);
  assert.deepEqual(auth("auth = psk\n id = \"C=CH, O=strongSwan, CN=*\""), ["e.conf:5:2: connections.gw.local.id = C=CH, O=strongSwan, CN=*: our own identity cannot hold wildcards"]);
  assert.equal(parseSwanctl("connections { gw { local { auth = psk\n id = \"C=CH, CN=moon\" }\n remote { id = \"C=CH, CN=*\" } } }").connections[0].remote.id, "C=CH, CN=*");
  assert.deepEqual(auth("auth = psk\n id = fqdn:moon"), ["e.conf:5:2: connections.gw.local.id = fqdn:moon: not supported by wasm-ipsec: identity type prefixes like fqdn: or email: (write the identity without it)"]);
  assert.deepEqual(auth("auth = psk", "auth = psk\n id = \"email:^(moon|sun)@x$\""), ["e.conf:8:2: connections.gw.remote.id = email:^(moon|sun)@x$: not supported by wasm-ipsec: identity type prefixes like fqdn: or email: (write the identity without it)"]);
  assert.deepEqual(auth("auth = psk\n id = \"@#zz\""), ["e.conf:5:2: connections.gw.local.id = @#zz: expected @# followed by hex digits"]);
  assert.deepEqual(auth("auth = psk\n id = @#0102"), ["e.conf:5:2: connections.gw.local.id = @: expected a name after @ (write \"@#hex\" in quotes: # starts a comment)"]);
  assert.equal(parseSwanctl("connections { gw { local { auth = psk\n id = \"@#0102\" } } }").connections[0].local.id, "@#0102");
  assert.deepEqual(auth("auth = psk\n eap_id = %any"), ["e.conf:5:2: connections.gw.local.eap_id = %any: not supported by wasm-ipsec: EAP authentication"]);
  assert.deepEqual(issues("connections { gw {\n local { auth = psk }\n local-2 { auth = psk } } }"),
    ["e.conf:3:2: connections.gw: not supported by wasm-ipsec: more than one local authentication round (local, local-2; RFC 4739)"]);
  assert.deepEqual(issues("connections { gw {\n local-b { auth = psk\n round = 2 }\n local-a { auth = psk\n round = 1 } } }"),
    ["e.conf:2:2: connections.gw: not supported by wasm-ipsec: more than one local authentication round (local-a, local-b; RFC 4739)"]);
  assert.deepEqual(issues("connections { gw {\n} }"), ["e.conf:1:15: connections.gw: public key authentication (the default without auth = psk) needs our certificate: add certs = <file in x509>"]);
  // one round per side, under any suffix, any case
  assert.deepEqual(parseSwanctl("connections { gw { LOCAL-x { auth = PSK\n id = @moon } Remote7 { id = sun@x } } }").connections[0].remote, { auth: "psk", id: "sun@x" });
});

test("malformed values say what was expected", () => {
  const conn = (keys: string, child = "") => issues(`connections {\n gw {\n  local { auth = psk }\n  ${keys}\n  children { c {\n   ${child}\n  } }\n }\n}\n`);
  const e = (line: number, col: number, text: string) => [`e.conf:${line}:${col}: ${text}`];
  assert.deepEqual(conn("rekey_time = 1x"), e(4, 3, "connections.gw.rekey_time = 1x: expected a duration like 30m, 1h, 2d (units s, m, h, d; seconds without one)"));
  assert.deepEqual(conn("version = 3"), e(4, 3, "connections.gw.version = 3: expected 0 (any), 1 (IKEv1) or 2 (IKEv2)"));
  assert.deepEqual(conn("local_port = 70000"), e(4, 3, "connections.gw.local_port = 70000: expected a UDP port 0-65535"));
  assert.deepEqual(conn("remote_port = 0"), e(4, 3, "connections.gw.remote_port = 0: expected a UDP port 1-65535"));
  assert.deepEqual(conn("mobike = maybe"), e(4, 3, "connections.gw.mobike = maybe: expected yes or no"));
  assert.deepEqual(conn("unique = sometimes"), e(4, 3, "connections.gw.unique = sometimes: expected one of never, no, keep, replace"));
  assert.deepEqual(conn("local_addrs = ,"), e(4, 3, "connections.gw.local_addrs = ,: expected at least one address"));
  assert.deepEqual(conn("proposals = aes128-sha265-x25519"), e(4, 3, "connections.gw.proposals = aes128-sha265-x25519: unknown algorithm keyword 'sha265' (did you mean 'sha256'?)"));
  assert.deepEqual(conn("proposals = aes128-x25519"), e(4, 3, "connections.gw.proposals = aes128-x25519: proposal 'aes128-x25519': a PRF is required (prfsha256, or an integrity keyword)"));
  assert.deepEqual(conn("", "rekey_bytes = 1t"), e(6, 4, "connections.gw.children.c.rekey_bytes = 1t: expected a byte count like 500000, 500k, 100M, 2G (binary multiples)"));
  assert.deepEqual(conn("", "life_packets = 1k"), e(6, 4, "connections.gw.children.c.life_packets = 1k: expected a whole number of packets"));
  assert.deepEqual(conn("", "mode = tunnels"), e(6, 4, "connections.gw.children.c.mode = tunnels: expected one of tunnel, transport, transport_proxy, iptfs, beet, pass, drop"));
  assert.deepEqual(conn("", "start_action = go"), e(6, 4, "connections.gw.children.c.start_action = go: expected none, trap or start (or clear/restart/route)"));
  assert.deepEqual(conn("", "remote_ts = 10.0.0.0/8, 10.1.0.0/33"), e(6, 4, "connections.gw.children.c.remote_ts = 10.0.0.0/8, 10.1.0.0/33: bad prefix length (expected /0 to /32)"));
  assert.deepEqual(conn("", "replay_window = many"), e(6, 4, "connections.gw.children.c.replay_window = many: expected a whole number"));
  assert.deepEqual(conn("", "mark_in = 1/2/3"), e(6, 4, "connections.gw.children.c.mark_in = 1/2/3: expected a mark value[/mask] (number or %unique)"));
});

test("secrets: never echoed in messages; other secret types are named as unsupported", () => {
  assert.deepEqual(issues("secrets {\n ike-a { secret = 0xnothex\n id = a }\n ike-b { id = b }\n eap-c { secret = x }\n private-d { file = k.pem }\n"
    + " psk { secret = x }\n ike-e { secret = \"\" }\n ike-f { secret = s\n id = *@x }\n}\n"), [
    "e.conf:2:10: secrets.ike-a.secret: expected hex digits after 0x",
    "e.conf:4:2: secrets.ike-b: missing secret = ...",
    "e.conf:5:2: secrets.eap-c: not supported by wasm-ipsec: eap secrets (only ike<suffix> pre-shared keys and private/rsa/ecdsa/pkcs8<suffix> key passphrases)",
    "e.conf:6:2: secrets.private-d: missing secret = <passphrase>",
    "e.conf:7:2: unknown secret type 'psk' in secrets: pre-shared keys go in sections named ike<suffix>",
    "e.conf:8:10: secrets.ike-e.secret: the secret is empty",
    "e.conf:10:2: secrets.ike-f.id = *@x: not supported by wasm-ipsec: wildcard and regular-expression identities other than in distinguished names",
  ]);
  assert.deepEqual(parseSwanctl("secrets { ike { id-a = a\n id-b = %any\n secret = s } }").secrets, [{ ids: [], secret: Uint8Array.from([0x73]) }]);
  assert.deepEqual(issues("pools { p { addrs = 10.3.0.0/16 } }\nauthorities { }\nauthorities { ca { cacert = x } }"), [
    "e.conf:1:1: pools: not supported by wasm-ipsec: virtual IP address pools",
    "e.conf:2:1: authorities: not supported by wasm-ipsec: certification authorities",
  ]);
});

test("all problems of a file are reported together, in file order; an inherited one once", () => {
  const text = `tmpl {
  local {
    auth = psk
  }
  rekey_time = soon
}
connections {
  a : tmpl {
    children { c { mode = beet } }
  }
  b : tmpl {
    pools = x
  }
}
secrets {
  ike { secret = 0x1 }
  eap { secret = y }
}
`;
  assert.deepEqual(issues(text), [
    "e.conf:5:3: tmpl.rekey_time = soon: expected a duration like 30m, 1h, 2d (units s, m, h, d; seconds without one)",
    "e.conf:9:20: connections.a.children.c.mode = beet: not supported by wasm-ipsec: only tunnel and transport mode",
    "e.conf:12:5: connections.b.pools = x: not supported by wasm-ipsec: virtual IP address pools",
    "e.conf:17:3: secrets.eap: not supported by wasm-ipsec: eap secrets (only ike<suffix> pre-shared keys and private/rsa/ecdsa/pkcs8<suffix> key passphrases)",
  ]);
});

test("an empty assignment clears an inherited value, so the default applies", () => {
  const c = parseSwanctl("tmpl { rekey_time = 1h\n mobike = no\n local { auth = psk } }\nconnections { gw : tmpl { rekey_time =\n } }");
  assert.deepEqual([c.connections[0].rekeyTime, c.connections[0].mobike], [14400, false]);
});

test("files split with include, as swanctl.conf's own `include conf.d/*.conf`", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wipsec-swanctl-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "conf.d"));
  writeFileSync(join(dir, "swanctl.conf"), "connections {\n}\nsecrets {\n}\ninclude conf.d/*.conf\n");
  writeFileSync(join(dir, "conf.d/gw.conf"), "connections {\n  gw {\n    local_addrs = 192.0.2.1\n    local { auth = psk }\n    rekey_time = 2x\n  }\n}\n");
  writeFileSync(join(dir, "conf.d/psk.conf"), "secrets { ike-gw { secret = s } }\n");
  assert.deepEqual(loadIssues(join(dir, "swanctl.conf")),
    [`${join(dir, "conf.d/gw.conf")}:5:5: connections.gw.rekey_time = 2x: expected a duration like 30m, 1h, 2d (units s, m, h, d; seconds without one)`]);
  writeFileSync(join(dir, "conf.d/gw.conf"), "connections {\n  gw {\n    local_addrs = 192.0.2.1\n    local { auth = psk }\n  }\n}\n");
  const c = loadSwanctl(join(dir, "swanctl.conf"));
  assert.deepEqual([c.connections[0].name, c.connections[0].localAddrs, c.secrets.length], ["gw", ["192.0.2.1"], 1]);
});

// ------------------------------------------------------------------------------------ wasm-ipsec

test("the wasm-ipsec section: our own settings, validated the same way", () => {
  const w = parseSwanctl("wasm-ipsec {\n crypto_backend = auto\n auto_threshold = 1k\n workers = 4\n max_sas = 4096\n keylog = /tmp/keys\n"
    + " tun {\n  name = vpn0\n  mtu = 1400\n }\n}\n").wasmIpsec;
  assert.deepEqual(w, { cryptoBackend: "auto", autoThreshold: 1024, workers: 4, maxSas: 4096, keylog: "/tmp/keys", tun: { name: "vpn0", mtu: 1400 } });
  assert.deepEqual(issues("wasm-ipsec {\n crypto_backend = openssl\n workers = 0\n max_sas = 1\n tun {\n  name = a-very-long-name0\n  mtu = 9\n  mut = 1\n }\n worker = 2\n}\n"), [
    "e.conf:2:2: wasm-ipsec.crypto_backend = openssl: expected one of wasm, node, noble, auto",
    "e.conf:3:2: wasm-ipsec.workers = 0: expected 1-64 worker pairs",
    "e.conf:4:2: wasm-ipsec.max_sas = 1: expected 2-1048576 SAs",
    "e.conf:6:3: wasm-ipsec.tun.name = a-very-long-name0: expected an interface name of at most 15 bytes, without blanks or '/'",
    "e.conf:7:3: wasm-ipsec.tun.mtu = 9: expected an MTU of 68-65535 bytes",
    "e.conf:8:3: unknown key 'mut' in wasm-ipsec.tun (did you mean 'mtu'?)",
    "e.conf:10:2: unknown key 'worker' in wasm-ipsec (did you mean 'workers'?)",
  ]);
  // A jumbo MTU would have the data plane truncate (and count) what the kernel should answer or fragment.
  assert.deepEqual(issues("wasm-ipsec {\n tun {\n  mtu = 9000\n }\n}\n"),
    ["e.conf:3:3: wasm-ipsec.tun.mtu = 9000: not supported by wasm-ipsec: packets above 1856 bytes (the data plane's packet slots)"]);
});
