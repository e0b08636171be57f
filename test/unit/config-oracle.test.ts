// strongSwan itself as the oracle for the settings parser: swanctl (/usr/sbin/swanctl, installed by
// scripts/install-test-deps.sh) parses a file with libstrongswan's settings parser and sends what it read to
// charon over vici. A fake vici server here records those messages: load-conn carries every connection as
// swanctl sees it (references resolved, lists split, empty values dropped), load-shared every secret decoded.
// Our parser plus views must produce exactly the same, on the strongSwan example configs, on a torture file
// and on generated random ones; and must reject exactly the files swanctl rejects. For certificate configs,
// load-cert and load-key carry every credential swanctl found in its directories (decrypted where a secret
// says how), and load-conn the certificate files certs/cacerts name: our loader must find the same.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadSettings, view, type SettingsView } from "../../src/config/settings.js";
import { listItems } from "../../src/config/values.js";
import { loadSwanctl } from "../../src/config/swanctl.js";

// ------------------------------------------------------------------------------------ fake vici

type Elem = [string, string | string[] | Elem[]];

/** A vici message body (vici_message.h): sections, key/values, lists; values as UTF-8 text. */
function decodeMessage(buf: Buffer): Elem[] {
  const root: Elem[] = [], stack: Elem[][] = [root];
  let list: string[] | undefined, i = 0;
  const name = () => { const n = buf[i++]; const s = buf.subarray(i, i + n).toString(); i += n; return s; };
  const value = () => { const n = buf.readUInt16BE(i); i += 2; const v = buf.subarray(i, i + n); i += n; return v; };
  while (i < buf.length) {
    const type = buf[i++], top = stack[stack.length - 1];
    if (type === 1) { const s: Elem[] = []; top.push([name(), s]); stack.push(s); }
    else if (type === 2) stack.pop();
    else if (type === 3) { const n = name(); top.push([n, value().toString("utf8")]); }
    else if (type === 4) { list = []; top.push([name(), list]); }
    else if (type === 5) list!.push(value().toString("utf8"));
    else if (type === 6) list = undefined;
    else throw new Error(`vici element type ${type}`);
  }
  return root;
}

function rawValue(buf: Buffer, key: string): Buffer | undefined {
  // load-shared's "data" is binary: find the key/value element by hand.
  for (let i = 0; i < buf.length;) {
    const type = buf[i++];
    if (type === 3) {
      const n = buf[i++], k = buf.subarray(i, i + n).toString(); i += n;
      const l = buf.readUInt16BE(i); i += 2;
      if (k === key) return buf.subarray(i, i + l);
      i += l;
    } else if (type === 1 || type === 4) i += 1 + buf[i];
    else if (type === 5) i += 2 + buf.readUInt16BE(i);
  }
  return undefined;
}

interface Request { name: string; body: Buffer }

let server: Server, sock: string, work: string;
let requests: Request[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), "wipsec-oracle-"));
  sock = join(work, "vici");
  server = createServer((c: Socket) => {
    let acc = Buffer.alloc(0);
    c.on("data", (d) => {
      acc = Buffer.concat([acc, d]);
      while (acc.length >= 4 && acc.length >= 4 + acc.readUInt32BE(0)) {
        const p = acc.subarray(4, 4 + acc.readUInt32BE(0));
        acc = acc.subarray(4 + p.length);
        requests.push({ name: p.subarray(2, 2 + p[1]).toString(), body: Buffer.from(p.subarray(2 + p[1])) });
        // CMD_RESPONSE { success = yes }
        const reply = Buffer.concat([Buffer.from([1, 3, 7]), Buffer.from("success"), Buffer.from([0, 3]), Buffer.from("yes")]);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(reply.length);
        c.write(Buffer.concat([len, reply]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
});

after(() => {
  server.close();
  rmSync(work, { recursive: true, force: true });
});

interface SwanctlView { parsed: boolean; conns: Elem[]; secrets: { id: string; type: string; data: Buffer; owners: string[] }[] }

/** swanctl died of a signal: it recursed without end through sections that (indirectly) reference themselves. */
const CRASHED = "crashed";

async function swanctl(file: string): Promise<SwanctlView | typeof CRASHED> {
  requests = [];
  const child = spawn("/usr/sbin/swanctl", ["--load-all", "--noprompt", "--uri", `unix://${sock}`, "--file", file]);
  let output = "";
  child.stdout.on("data", (d) => { output += d; });
  child.stderr.on("data", (d) => { output += d; });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code === null) return CRASHED;
  assert.equal(code, 0, output);
  return {
    parsed: !output.includes("invalid config file"),
    conns: requests.filter((r) => r.name === "load-conn").flatMap((r) => decodeMessage(r.body)),
    secrets: requests.filter((r) => r.name === "load-shared").map((r) => {
      const m = decodeMessage(r.body);
      const get = (k: string) => m.find((e) => e[0] === k)?.[1];
      return { id: get("id") as string, type: get("type") as string, data: rawValue(r.body, "data")!, owners: get("owners") as string[] };
    }),
  };
}

// -------------------------------------------------------------------------------- our side, same shape

/** load_conns.c is_list_key: these values are sent as lists split by enumerator_create_token. */
const LIST_KEYS = new Set(["local_addrs", "remote_addrs", "proposals", "esp_proposals", "ah_proposals", "local_ts",
  "remote_ts", "vips", "pools", "groups", "cert_policy"]);

class InfiniteTree extends Error {}

const depth = (e: Elem[]): number => Math.max(0, ...e.map(([, v]) => (Array.isArray(v) && typeof v[0] !== "string" && v.length ? 1 + depth(v as Elem[]) : 1)));

/** swanctl's add_sections walk; a section inheriting from its own ancestor makes the tree infinitely deep. */
function asVici(v: SettingsView, depth = 0): Elem[] {
  if (depth > 24) throw new InfiniteTree();
  const out: Elem[] = v.keys().map((k) => [k.name, LIST_KEYS.has(k.name.toLowerCase()) ? listItems(k.value!) : k.value!]);
  for (const name of v.sectionNames()) out.push([name, asVici(v.child(name), depth + 1)]);
  return out;
}

function ours(file: string): SwanctlView | "rejected" | typeof CRASHED {
  let root;
  try {
    root = loadSettings(file);
  } catch (e) {
    if (e instanceof ConfigError) return "rejected";
    throw e;
  }
  const conns = view(root, ["connections"]);
  const secrets = view(root, ["secrets"]);
  try {
    for (const n of conns.sectionNames()) asVici(conns.child(n));
  } catch (e) {
    // Both end the same way in strongSwan: a stack overflow (settings.c recurses through the references).
    if (e instanceof InfiniteTree || e instanceof ConfigError) return CRASHED;
    throw e;
  }
  const types = ["eap", "xauth", "ntlm", "ike", "ppk"];
  return {
    parsed: true,
    conns: conns.sectionNames().map((n): Elem => [n, asVici(conns.child(n))]),
    secrets: secrets.sectionNames().filter((n) => types.some((t) => n.startsWith(t)) && secrets.child(n).get("secret"))
      .map((n) => {
        const s = secrets.child(n);
        return {
          id: n, type: types.find((t) => n.startsWith(t))!, data: Buffer.alloc(0),
          owners: s.keys().filter((k) => k.name.startsWith("id")).map((k) => k.value!),
        };
      }),
  };
}

async function compare(file: string): Promise<void> {
  const theirs = await swanctl(file), mine = ours(file);
  if (theirs === CRASHED || mine === CRASHED) {
    // swanctl stops a self-inheriting section when its dotted path outgrows a 1024-byte buffer, or crashes.
    assert.ok(mine === CRASHED && (theirs === CRASHED || depth(theirs.conns) > 24), `${file}: endless nesting seen by one side only`);
    return;
  }
  if (mine === "rejected") {
    assert.equal(theirs.parsed, false, `we reject ${file}, swanctl parses it`);
    return;
  }
  assert.equal(theirs.parsed, true, `swanctl rejects ${file}, we parse it`);
  assert.deepEqual(mine.conns, theirs.conns, file);
  assert.deepEqual(mine.secrets.map(({ id, type, owners }) => ({ id, type, owners })),
    theirs.secrets.map(({ id, type, owners }) => ({ id, type, owners })), file);
}

const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/config");

test("strongSwan's example configs: swanctl reads the same connections and secrets as we do", async () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".conf"));
  assert.ok(files.length >= 10);
  for (const f of files) await compare(join(FIXTURES, f));
});

test("secrets decode to the bytes swanctl sends (text, 0x hex, 0s base64, strongSwan's odd quoting)", async () => {
  for (const f of ["ikev2-net2net-psk-moon.conf", "ikev2-rw-psk-fqdn-moon.conf", "ikev2-rw-psk-fqdn-carol.conf", "ikev2-start-action-start-sun.conf"]) {
    const theirs = await swanctl(join(FIXTURES, f));
    assert.notEqual(theirs, CRASHED);
    if (theirs === CRASHED) return;
    const mine = loadSwanctl(join(FIXTURES, f)).secrets;
    assert.equal(mine.length, theirs.secrets.length, f);
    theirs.secrets.forEach((s, i) => {
      assert.deepEqual(Buffer.from(mine[i].secret), s.data, `${f} ${s.id}`);
      assert.deepEqual(mine[i].ids, s.owners, `${f} ${s.id}`);
    });
  }
});

const TORTURE = String.raw`# a comment at the top
	# an indented comment
tmpl-a { version = 2
  rekey_time = 1h   # trailing comment
  local { auth = psk
    id = "quoted id" }
  children { c1 { esp_proposals = aes128gcm16 , aes256gcm16 ,, } }
}
tmpl-b : tmpl-a { mobike = no
   dpd_delay=30s
}
connections {
  c-one : tmpl-b, tmpl-a {
    rekey_time =
    local_addrs = 192.0.2.1 , "10.0.0.1, 10.0.0.2",'a,b'
    remote_addrs=   ${"  "}198.51.100.1   198.51.100.2
    proposals = aes128-sha256-x25519,default
    children {
      c1 { local_ts = 10.1.0.0/16[tcp/80] , dynamic }
      c2 : connections.c-two.children.x {
        updown = "/bin/up\tdown \"quoted\" \\ back\
continued"
        remote_ts = "multi
line"
      }
    }
  }
  c-two {
    children { x { mode = transport
    }
  }
  }
  c-one { unique = replace }
  c-three{local_addrs=%any}c-four{}
  "ignored" = "" # the line above leaves connections open
}
secrets {
  ike-1 { secret = 0x0102 ; id = a }
  ike-2 : tmpl-s { id-x = b
    secret = "tab\tnewline\n" }
  eap-1 { secret = x ; id = u }
  private-1 { secret = p }
}
tmpl-s { id-y = c
  secret = 0sAAEC }
`;

test("a torture file: comments, quotes, escapes, multi-line values, references, lists, merging", async () => {
  const f = join(work, "torture.conf");
  // The "ignored" key is a syntax error (quotes in a name); strongSwan and we must both reject it...
  writeFileSync(f, TORTURE);
  await compare(f);
  assert.equal(ours(f), "rejected");
  // ...and accept the rest.
  writeFileSync(f, TORTURE.replace(`  "ignored" = "" # the line above leaves connections open\n`, ""));
  await compare(f);
  assert.notEqual(ours(f), "rejected");
});

test("includes: globs, nesting, quoting and what a section include adds, as swanctl reads them", async () => {
  const dir = join(work, "inc");
  mkdirSync(join(dir, "conf.d"), { recursive: true });
  mkdirSync(join(dir, "more"), { recursive: true });
  writeFileSync(join(dir, "swanctl.conf"), "connections {\n  include conf.d/*.conf\n  gw {\n    include \"more/with space.conf\"\n  }\n}\n"
    + "include more/sec\\ rets.conf\ninclude none/*.conf\n");
  writeFileSync(join(dir, "conf.d/b.conf"), "gw { remote_addrs = 192.0.2.2\n  local { id = b } }\nother { version = 2 }\n");
  writeFileSync(join(dir, "conf.d/a.conf"), "gw { local_addrs = 192.0.2.1\n  local { id = a\n auth = psk } }\n");
  writeFileSync(join(dir, "more/with space.conf"), "children { net { local_ts = 10.0.0.0/8 } }\ninclude nested.conf\n");
  writeFileSync(join(dir, "more/nested.conf"), "proposals = default\n");
  writeFileSync(join(dir, "more/sec rets.conf"), "secrets { ike { secret = s\n id = a } }\n");
  await compare(join(dir, "swanctl.conf"));
});

test("syntax errors: swanctl rejects exactly the files we reject", async () => {
  const cases = [
    "connections {\n", "}\n", "a\n", "a b = c\n", "a.b = c\n", "\"a\" = b\n", "k = \"abc\n", "a : {\n}\n",
    "a : b c {\n}\n", "a : b\n", "= x\n", "s {\n , }\n", "include  = x\n", "include = x\n", "a : b. {}\n",
    "connections { c { k = v } } }\n", "k = \"a\\\n", "a : b, {}\n", "x {} y = }\n", "k = {\n",
  ];
  for (const [i, text] of cases.entries()) {
    const f = join(work, `syntax-${i}.conf`);
    writeFileSync(f, text);
    const theirs = await swanctl(f);
    assert.ok(theirs !== CRASHED && ours(f) !== CRASHED);
    assert.equal(ours(f) === "rejected", !theirs.parsed, JSON.stringify(text));
  }
});

/** Deterministic PRNG (mulberry32), so a failure can be reproduced from its seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random settings text: mostly valid, with odd spacing, quoting, references and the occasional broken byte. */
function randomConfig(rand: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  // No '%' in names: swanctl passes section paths to settings_t as printf formats (load_conns.c add_key_values).
  const names = ["a", "b", "conn", "local", "remote", "children", "x-1", "id", "k_2", "tmpl", "ike-1", "a@b", "*"];
  const blank = () => pick([" ", "  ", "\t", " \t ", ""]);
  const nl = () => pick(["\n", "\r\n", "\n\n", " # c\n", "\n# full line\n"]);
  const word = () => pick(["v", "10.0.0.0/8", "a,b , c", "x{y", "p=q", "1h", "a:b", "[tcp/80]", "'q'", "é"]);
  const str = () => `"${pick(["", "a b", "x\\\"y", "t\\tn\\n", "line\nbreak", "cont\\\nued", "#}{", "back\\\\", "\\q"])}"`;
  const value = (): string => Array.from({ length: 1 + Math.floor(rand() * 3) }, () => (rand() < 0.3 ? str() : word())).join(pick([" ", "\t", ""]));
  // References never point at an ancestor: such endless trees take swanctl seconds to crash on.
  const body = (depth: number, refs: boolean): string => {
    let s = "";
    const n = Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      const r = rand();
      if (r < 0.55 || depth > 3) s += `${blank()}${pick(names)}${blank()}=${blank()}${rand() < 0.1 ? "" : value()}${nl()}`;
      else {
        const ref = refs && rand() < 0.25 ? `${blank()}:${blank()}${pick(["tmpl", "connections.r1", "tmpl, connections.r2"])}` : "";
        s += `${blank()}${pick(names)}${ref}${blank()}{${rand() < 0.5 ? nl() : blank()}${body(depth + 1, refs)}}${nl()}`;
      }
    }
    return s;
  };
  let text = `tmpl {${nl()}${body(2, false)}}${nl()}connections {${nl()}r1 {${body(2, false)}}${nl()}${body(1, true)}conn {${body(2, true)}}${nl()}r2 { ${body(2, false)}}${nl()}}${nl()}secrets { ike-1 { secret = ${value()}${nl()}id = ${value()}${nl()}} }${nl()}`;
  if (rand() < 0.3) {
    // One random edit: a structural character inserted or a character deleted.
    const at = Math.floor(rand() * text.length);
    text = rand() < 0.5 ? text.slice(0, at) + pick(["{", "}", "\"", "=", ":", ",", ".", "#", "\n", "\\"]) + text.slice(at)
      : text.slice(0, at) + text.slice(at + 1);
  }
  return text;
}

test("differential: 150 random configs parse (or fail) identically in swanctl and here", async () => {
  const rand = rng(20260527);
  let parsed = 0;
  for (let i = 0; i < 150; i++) {
    const text = randomConfig(rand);
    if (text.includes("include")) continue;
    const f = join(work, "random.conf");
    writeFileSync(f, text);
    try {
      await compare(f);
    } catch (e) {
      throw new Error(`case ${i}: ${JSON.stringify(text)}\n${(e as Error).message}`);
    }
    if (ours(f) !== "rejected") parsed++;
  }
  assert.ok(parsed > 50, `only ${parsed} of the random configs were valid`);
});

// ------------------------------------------------------------------------- certificates and keys

const PKI = join(import.meta.dirname, "../../../test/fixtures/pki");

/** A certificate or key as sent over vici: PEM text or DER. */
const certDer = (data: Buffer) => new X509Certificate(data).raw.toString("hex");
function keySpki(data: Buffer): string {
  const tries = data.includes("-----BEGIN") ? [{ format: "pem" as const }]
    : (["pkcs8", "sec1", "pkcs1"] as const).map((type) => ({ format: "der" as const, type }));
  for (const t of tries) {
    try { return createPublicKey(createPrivateKey({ key: data, ...t })).export({ type: "spki", format: "der" }).toString("hex"); } catch { /* next */ }
  }
  throw new Error(`swanctl sent a key node cannot read: ${data.toString("hex").slice(0, 40)}...`);
}

test("certificates and keys: swanctl loads the same files from the same directories as we do, decrypts the same, resolves certs/cacerts alike", async () => {
  const dir = join(work, "creds");
  const place = (to: string, from: string) => { mkdirSync(join(dir, to, ".."), { recursive: true }); copyFileSync(join(PKI, from), join(dir, to)); };
  place("x509/moon.crt", "moon.crt");
  place("x509/sun.crt", "sun.crt");
  place("x509ca/root.crt", "root.crt");
  place("x509ca/im.crt", "im.crt");
  place("ecdsa/moon.pem", "moon.key.pem");     // SEC1 PEM
  place("rsa/carol.pem", "carol.key.pem");     // PKCS#1 PEM
  place("rsa/carol.der", "carol.key.der");     // PKCS#1 DER
  place("private/sun.pem", "sun.key.pem");     // Ed25519 PKCS#8
  place("pkcs8/eve.pem", "eve.key.pem");       // P-521 PKCS#8
  place("private/dave.enc.pem", "dave.key.enc.pem");
  writeFileSync(join(dir, "swanctl.conf"), `connections {
  gw {
    local { auth = pubkey
      certs = moon.crt
      id = moon.strongswan.org }
    remote { auth = pubkey
      cacerts = root.crt
      id = "C=CH, O=strongSwan Test, CN=sun.strongswan.org" }
  }
  pinned {
    local { auth = ecdsa
      certs = ${join(dir, "x509/moon.crt")} }
    remote { auth = pubkey
      certs = sun.crt }
  }
}
secrets {
  private-dave { file = dave.enc.pem
    secret = "dave's secret" }
}
`);
  requests = [];
  const child = spawn("/usr/sbin/swanctl", ["--load-all", "--noprompt", "--uri", `unix://${sock}`, "--file", join(dir, "swanctl.conf")]);
  let output = "";
  child.stdout.on("data", (d) => { output += d; });
  child.stderr.on("data", (d) => { output += d; });
  assert.equal(await new Promise<number | null>((resolve) => child.on("close", resolve)), 0, output);
  // Plugins this build lacks and credential directories that do not exist are no errors of the config.
  const errors = output.split("\n").filter((l) => /fail|invalid/i.test(l) && !/^plugin '|^opening directory/.test(l));
  assert.deepEqual(errors, [], output);

  const cfg = loadSwanctl(join(dir, "swanctl.conf"));
  const sorted = (a: string[]) => [...a].sort();
  // x509/ with flag NONE, x509ca/ with flag CA (vici load-cert).
  const certs = requests.filter((r) => r.name === "load-cert").map((r) => {
    const m = decodeMessage(r.body), get = (k: string) => m.find((e) => e[0] === k)?.[1];
    return { flag: get("flag"), der: certDer(rawValue(r.body, "data")!) };
  });
  assert.deepEqual(sorted(certs.filter((c) => c.flag === "NONE").map((c) => c.der)), sorted(cfg.certs.map((c) => c.der.toString("hex"))));
  assert.deepEqual(sorted(certs.filter((c) => c.flag === "CA").map((c) => c.der)), sorted(cfg.caCerts.map((c) => c.der.toString("hex"))));
  assert.equal(certs.length, 4);
  // Keys (load-key): as read, or re-encoded after decryption; compared by public key.
  const keys = requests.filter((r) => r.name === "load-key").map((r) => keySpki(rawValue(r.body, "data")!));
  assert.equal(keys.length, 6, output);
  assert.deepEqual(sorted(keys), sorted(cfg.privateKeys.map((k) => createPublicKey(k).export({ type: "spki", format: "der" }).toString("hex"))));
  // load-conn carries the files certs/cacerts name, found where swanctl looks (x509/, x509ca/, absolute).
  const conns = requests.filter((r) => r.name === "load-conn").flatMap((r) => decodeMessage(r.body));
  const list = (conn: string, side: string, key: string) => {
    const c = conns.find((e) => e[0] === conn)![1] as Elem[], s = c.find((e) => e[0] === side)![1] as Elem[];
    return (s.find((e) => e[0] === key)![1] as string[]).map((pem) => certDer(Buffer.from(pem)));
  };
  const [gw, pinned] = ["gw", "pinned"].map((n) => cfg.connections.find((c) => c.name === n)!);
  assert.deepEqual(list("gw", "local", "certs"), [gw.local.certs![0].der.toString("hex")]);
  assert.deepEqual(list("gw", "remote", "cacerts"), gw.remote.cacerts!.map((c) => c.der.toString("hex")));
  assert.deepEqual(list("pinned", "local", "certs"), [pinned.local.certs![0].der.toString("hex")]);
  assert.deepEqual(list("pinned", "remote", "certs"), pinned.remote.cacerts!.map((c) => c.der.toString("hex")));
});
