// The strongSwan settings syntax (strongswan.conf(5)): expectations follow settings_lexer.l/settings_parser.y
// and the examples of the man page; config-oracle.test.ts checks the same inputs against swanctl itself.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError, loadSettings, parseSettings, view, type SettingsSection,
} from "../../src/config/settings.js";

interface Plain { keys?: Record<string, string | null>; sections?: Record<string, Plain>; refs?: string[] }

/** The tree without positions, for comparisons. */
function plain(s: SettingsSection): Plain {
  const out: Plain = {};
  if (s.keys.size) out.keys = Object.fromEntries([...s.keys.values()].map((k) => [k.name, k.value]));
  if (s.sections.size) out.sections = Object.fromEntries([...s.sections.values()].map((c) => [c.name, plain(c)]));
  if (s.references.length) out.refs = s.references.map((r) => r.name);
  return out;
}

const parse = (text: string) => plain(parseSettings(text, "t.conf"));

/** The message of the ConfigError that `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("no error");
}

test("the strongswan.conf(5) example: sections, subsections, comments, indentation", () => {
  const text = "a = b\nsection-one {\n\tsomevalue = asdf\n\tsubsection {\n\t\tothervalue = xxx\n\t}\n"
    + "\t# yei, a comment\n\tyetanother = zz\n}\nsection-two {\n\tx = 12\n}\n";
  assert.deepEqual(parse(text), {
    keys: { a: "b" },
    sections: {
      "section-one": { keys: { somevalue: "asdf", yetanother: "zz" }, sections: { subsection: { keys: { othervalue: "xxx" } } } },
      "section-two": { keys: { x: "12" } },
    },
  });
});

test("values: blanks between parts become one space, quotes keep them, '#' and '}' end the value", () => {
  assert.deepEqual(parse("k = a   b\tc  \n"), { keys: { k: "a b c" } });
  assert.deepEqual(parse("k = \"x  y\" z"), { keys: { k: "x  y z" } });
  assert.deepEqual(parse("k = a\"b\"c"), { keys: { k: "a b c" } });
  assert.deepEqual(parse("k = v# comment\nl = w # comment"), { keys: { k: "v", l: "w" } });
  assert.deepEqual(parse("s { k = v }"), { sections: { s: { keys: { k: "v" } } } });
  // { = : , . are ordinary characters in values
  assert.deepEqual(parse("k = a{b=c:d,e.f"), { keys: { k: "a{b=c:d,e.f" } });
  // strongSwan's net2net-psk test secret: single quotes are not quotes, the double-quoted parts are strings
  assert.deepEqual(parse("secret = 'My \"home\" is my \"castle\"!'"), { keys: { secret: "'My home is my castle !'" } });
  assert.deepEqual(parse("k =\nl = \"\""), { keys: { k: null, l: "" } });
  assert.deepEqual(parse("k=v\r\nl\t=\tw\r\n"), { keys: { k: "v", l: "w" } });
});

test("quoted strings: escapes, line continuation, literal newlines, '#' and '}' inside", () => {
  assert.deepEqual(parse('k = "a\\nb\\tc\\rd\\"e\\\\f\\qg"'), { keys: { k: "a\nb\tc\rd\"e\\fqg" } });
  assert.deepEqual(parse('k = "abc\\\ndef"'), { keys: { k: "abcdef" } });
  assert.deepEqual(parse('k = "abc\\\r\ndef"'), { keys: { k: "abcdef" } });
  assert.deepEqual(parse('k = "line1\nline2"\nl = x'), { keys: { k: "line1\nline2", l: "x" } });
  assert.deepEqual(parse('k = "a\r\nb"'), { keys: { k: "a\nb" } }); // CR is dropped inside strings
  assert.deepEqual(parse('s { k = "#}{" }'), { sections: { s: { keys: { k: "#}{" } } } });
});

test("repeated keys replace the value in the first place; repeated sections merge", () => {
  const root = parseSettings("a = 1\nb = 2\na = 3\ns { x = 1 }\nt { }\ns { y = 2\n x = 3 }\n", "t.conf");
  assert.deepEqual([...root.keys.keys()], ["a", "b"]);
  assert.equal(root.keys.get("a")!.value, "3");
  assert.deepEqual(root.keys.get("a")!.position, { file: "t.conf", line: 3, column: 1 });
  assert.deepEqual(plain(root).sections, { s: { keys: { x: "3", y: "2" } }, t: {} });
  assert.deepEqual([...root.sections.keys()], ["s", "t"]);
  assert.deepEqual(root.sections.get("s")!.position, { file: "t.conf", line: 4, column: 1 });
  // a key and a section may share a name
  assert.deepEqual(parse("n = 1\nn { }"), { keys: { n: "1" }, sections: { n: {} } });
});

test("references: absolute dotted names, comma separated, across lines and comments, deduplicated", () => {
  assert.deepEqual(parse("a : b, c.d.e {\n}"), { sections: { a: { refs: ["b", "c.d.e"] } } });
  assert.deepEqual(parse("a :\n b , # why\n c {}\na : c, d {}"), { sections: { a: { refs: ["b", "c", "d"] } } });
  const root = parseSettings("x {\n  conn : tmpl,\n    other.one {}\n}", "t.conf");
  assert.deepEqual(root.sections.get("x")!.sections.get("conn")!.references, [
    { name: "tmpl", position: { file: "t.conf", line: 2, column: 10 } },
    { name: "other.one", position: { file: "t.conf", line: 3, column: 5 } },
  ]);
});

test("names take any character but . , : { } = \" # and blanks", () => {
  assert.deepEqual(parse("a-b_c@d%e/f+g*h!i~j[k]l = v"), { keys: { "a-b_c@d%e/f+g*h!i~j[k]l": "v" } });
});

test("positions: line and column of every key, section and reference (tabs count one column)", () => {
  const root = parseSettings("# c\n\tconn {\n\t\tkey = v\n  sub : ref { }\n}\n", "p.conf");
  const conn = root.sections.get("conn")!;
  assert.deepEqual(conn.position, { file: "p.conf", line: 2, column: 2 });
  assert.deepEqual(conn.keys.get("key")!.position, { file: "p.conf", line: 3, column: 3 });
  assert.equal(conn.keys.get("key")!.section, "conn");
  const sub = conn.sections.get("sub")!;
  assert.deepEqual(sub.position, { file: "p.conf", line: 4, column: 3 });
  assert.equal(sub.path, "conn.sub");
  assert.deepEqual(sub.references[0].position, { file: "p.conf", line: 4, column: 9 });
});

test("include is a keyword only when blanks and then not '=' follow (flex: \"include\"[\\t ]+/[^=])", () => {
  assert.deepEqual(parse("include = x"), { keys: { include: "x" } });
  assert.deepEqual(parse("includes = x"), { keys: { includes: "x" } });
  assert.deepEqual(parse("include\t= x"), { keys: { include: "x" } });
  // two blanks: the first is taken by the include rule, the pattern is empty
  assert.equal(errorOf(() => parseSettings("include  = x", "t.conf")), "t.conf:1:1: include without a file pattern");
});

test("syntax errors name the file, line and column", () => {
  const cases: [string, string][] = [
    ["conn {\n  a = b\n", "t.conf:1:1: section 'conn' is not closed (missing '}')"],
    ["a { b {\n}", "t.conf:1:1: section 'a' is not closed (missing '}')"],
    ["a = b\n}", "t.conf:2:1: unexpected '}': no section is open"],
    ["\n  name", "t.conf:2:7: unexpected end of file after 'name' (expected '=', '{' or ':')"],
    ["a b = c", "t.conf:1:3: unexpected 'b' after 'a' (expected '=', '{' or ':')"],
    ["a.b = c", "t.conf:1:2: unexpected '.' after 'a' (expected '=', '{' or ':'; names cannot contain '.', nest sections instead)"],
    ["\"a\" = b", "t.conf:1:1: unexpected '\"': quoted strings are only allowed in values"],
    ["x = 1\nk = \"abc\n", "t.conf:2:5: unterminated string (missing closing '\"')"],
    ["k = \"abc\\", "t.conf:1:5: unterminated string (missing closing '\"')"],
    ["a : {", "t.conf:1:5: unexpected '{' (expected the name of a section to reference)"],
    ["a : b c {", "t.conf:1:7: unexpected 'c' after reference 'b' (expected ',' or '{')"],
    ["a : b", "t.conf:1:6: unexpected end of file after reference 'b' (expected ',' or '{')"],
    ["a : b.{", "t.conf:1:6: unexpected '.' after reference 'b' (expected ',' or '{')"],
    ["= x", "t.conf:1:1: unexpected '=' (expected a key or section name)"],
    ["s {\n , }", "t.conf:2:2: unexpected ',' (expected a key or section name)"],
  ];
  for (const [text, message] of cases) assert.equal(errorOf(() => parseSettings(text, "t.conf")), message, JSON.stringify(text));
});

test("the error carries the issue as data", () => {
  try {
    parseSettings("}", "t.conf");
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.issues, [{ file: "t.conf", line: 1, column: 1, message: "unexpected '}': no section is open" }]);
  }
});

// ---------------------------------------------------------------------------------------- includes

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "wipsec-settings-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test("include: relative to the including file, glob sorted, nested, inside sections, extending sections", () => {
  const dir = tree({
    "main.conf": "a = before\ns {\n  include sub/in-section.conf\n}\ninclude conf.d/*.conf\nz = last\n",
    "sub/in-section.conf": "k = from-include\ninclude deeper/x.conf\n",
    "sub/deeper/x.conf": "d = deep\n",
    "conf.d/20-b.conf": "s { k2 = b }\na = from-b\n",
    "conf.d/10-a.conf": "s { k2 = a }\n",
    "conf.d/.hidden.conf": "hidden = yes\n",
    "conf.d/notconf.txt": "txt = yes\n",
  });
  const root = loadSettings(join(dir, "main.conf"));
  assert.deepEqual(plain(root), {
    keys: { a: "from-b", z: "last" },
    sections: { s: { keys: { k: "from-include", d: "deep", k2: "b" } } },
  });
  const d = root.sections.get("s")!.keys.get("d")!;
  assert.deepEqual(d.position, { file: join(dir, "sub/deeper/x.conf"), line: 1, column: 1 });
});

test("include: quoted and escaped patterns, a glob matching nothing, a directory matched by a glob", () => {
  const dir = tree({
    "main.conf": "include \"with space.conf\"\ninclude with\\ space2.conf\ninclude none.d/*.conf\ninclude dirs/*\n",
    "with space.conf": "one = 1\n",
    "with space2.conf": "two = 2\n",
    "dirs/sub/x.conf": "not = read\n",
    "dirs/file": "file = read\n",
  });
  mkdirSync(join(dir, "none.d"));
  assert.deepEqual(plain(loadSettings(join(dir, "main.conf"))), { keys: { one: "1", two: "2", file: "read" } });
});

test("include errors: a missing or unreadable file, a cycle, an error inside an included file", () => {
  const dir = tree({
    "missing.conf": "a = 1\n  include nothere.conf\n",
    "cycle.conf": "include cycle.conf\n",
    "bad.conf": "x {\ninclude inner.conf\n}\n",
    "inner.conf": "ok = 1\nbroken {\n",
    "bad2.conf": "include inner2.conf\n",
    "inner2.conf": "ok = 1\na b\n",
    "dir.conf": "include sub\n",
    "sub/x": "",
    "latin1.conf": "",
  });
  assert.equal(errorOf(() => loadSettings(join(dir, "missing.conf"))),
    `${join(dir, "missing.conf")}:2:3: cannot read included file '${join(dir, "nothere.conf")}': no such file or directory`);
  assert.match(errorOf(() => loadSettings(join(dir, "cycle.conf"))),
    /cycle\.conf:1:1: includes nested deeper than 32 levels \(does a file include itself\?\)$/);
  // Fan-out: 40 files each including all 40 would never end; the file budget stops it before the depth limit.
  mkdirSync(join(dir, "fan"));
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, "fan", `${i}.conf`), "include *.conf\n");
  assert.match(errorOf(() => loadSettings(join(dir, "fan", "0.conf"))),
    /fan\/\d+\.conf:1:1: more than 1024 files included \(does a file include itself\?\)$/);
  assert.equal(errorOf(() => loadSettings(join(dir, "bad2.conf"))),
    `${join(dir, "inner2.conf")}:2:3: unexpected 'b' after 'a' (expected '=', '{' or ':')`);
  // Tokens of included files continue the including file's (flex switches buffers): the '}' after the include
  // closes 'broken', so 'x' stays open.
  assert.equal(errorOf(() => loadSettings(join(dir, "bad.conf"))),
    `${join(dir, "bad.conf")}:1:1: section 'x' is not closed (missing '}')`);
  assert.equal(errorOf(() => loadSettings(join(dir, "dir.conf"))),
    `${join(dir, "dir.conf")}:1:1: cannot read included file '${join(dir, "sub")}': is a directory`);
  assert.equal(errorOf(() => loadSettings(join(dir, "absent.conf"))), `${join(dir, "absent.conf")}: cannot read: no such file or directory`);
  writeFileSync(join(dir, "latin1.conf"), Buffer.from("# ok\nsecret = p\xe4ss\n", "latin1"));
  assert.equal(errorOf(() => loadSettings(join(dir, "latin1.conf"))),
    `${join(dir, "latin1.conf")}: cannot read: line 2: not valid UTF-8 text (byte 0xe4)`);
  if (process.getuid?.() !== 0) {
    writeFileSync(join(dir, "secret.conf"), "x = 1\n");
    chmodSync(join(dir, "secret.conf"), 0);
    writeFileSync(join(dir, "perm.conf"), "include secret.conf\n");
    assert.match(errorOf(() => loadSettings(join(dir, "perm.conf"))), /permission denied$/);
  }
});

test("include from a string resolves against the directory of the name it is given", () => {
  const dir = tree({ "part.conf": "p = 1\n" });
  assert.deepEqual(plain(parseSettings("include part.conf\n", join(dir, "virtual.conf"))), { keys: { p: "1" } });
});

test("an in-memory file system replaces node:fs", () => {
  const files: Record<string, string> = { "/etc/x/a.conf": "a = 1\n", "/etc/x/b.conf": "b = 2\n" };
  const fs = {
    read: (p: string) => { if (!(p in files)) throw Object.assign(new Error("nope"), { code: "ENOENT" }); return files[p]; },
    glob: (p: string) => (p.endsWith("*.conf") ? Object.keys(files).sort() : [p]),
  };
  assert.deepEqual(plain(parseSettings("include *.conf\n", "/etc/x/main.conf", { fs })), { keys: { a: "1", b: "2" } });
});

// ------------------------------------------------------------------------------------------- views

test("views follow references as settings.c does: own first, then referenced sections, left to right", () => {
  // The strongswan.conf(5) "REFERENCING OTHER SECTIONS" example, with contents.
  const root = parseSettings(`
conn-defaults { rekey_time = 1h
  local { auth = psk }
}
eap-defaults { rekey_time = 2h
  eap = yes
  remote { auth = eap }
}
child-defaults { esp_proposals = aes256gcm16 }
connections {
  conn-a : conn-defaults, eap-defaults {
    version = 2
    children {
      child-a : child-defaults { local_ts = 10.0.0.0/8 }
    }
  }
  conn-b : conn-defaults {
    rekey_time = 3h
    children {
      child-b : child-defaults { esp_proposals = aes128gcm16 }
    }
  }
  conn-c : connections.conn-a {
    eap =
  }
}`, "r.conf");
  const kv = (path: string[]) => view(root, path).keys().map((k) => `${k.name}=${k.value}`);
  assert.deepEqual(kv(["connections", "conn-a"]), ["version=2", "rekey_time=1h", "eap=yes"]);
  assert.deepEqual(view(root, ["connections", "conn-a"]).sectionNames(), ["children", "local", "remote"]);
  assert.deepEqual(kv(["connections", "conn-a", "local"]), ["auth=psk"]);
  assert.deepEqual(kv(["connections", "conn-a", "children", "child-a"]), ["local_ts=10.0.0.0/8", "esp_proposals=aes256gcm16"]);
  assert.deepEqual(kv(["connections", "conn-b"]), ["rekey_time=3h"]);
  assert.deepEqual(kv(["connections", "conn-b", "children", "child-b"]), ["esp_proposals=aes128gcm16"]);
  // conn-c inherits everything of conn-a, including what conn-a inherits; `eap =` clears the inherited value
  assert.deepEqual(kv(["connections", "conn-c"]), ["version=2", "rekey_time=1h"]);
  assert.deepEqual(kv(["connections", "conn-c", "children", "child-a"]), ["local_ts=10.0.0.0/8", "esp_proposals=aes256gcm16"]);
  assert.deepEqual(kv(["connections", "conn-c", "remote"]), ["auth=eap"]);
  assert.equal(view(root, ["connections", "conn-c"]).get("eap"), undefined);
  assert.equal(view(root, ["connections", "conn-c"]).get("rekey_time")!.section, "conn-defaults");
  assert.deepEqual(view(root, ["nothing", "here"]).sections, []);
});

test("reference cycles terminate; absurdly deep chains are a ConfigError, not a crash", () => {
  const cyc = parseSettings("a : b { x = 1 }\nb : a { y = 2 }\n", "c.conf");
  assert.deepEqual(view(cyc, ["a"]).keys().map((k) => k.name), ["x", "y"]);
  assert.deepEqual(view(cyc, ["b"]).keys().map((k) => k.name), ["y", "x"]);
  let chain = "";
  for (let i = 0; i < 500; i++) chain += `s${i} : s${i + 1} { k${i} = ${i} }\n`;
  const deep = parseSettings(chain, "d.conf");
  assert.match(errorOf(() => view(deep, ["s0"])), /d\.conf:\d+:1: section references are nested too deeply to resolve/);
});
