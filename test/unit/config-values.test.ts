// Value syntax as charon's vici plugin reads it (vici_config.c parse_uint32/parse_time/parse_bytes/parse_bool,
// enumerator_create_token, load_creds.c for secrets). Expected numbers are worked out from those definitions.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  listItems, parseBool, parseBytes, parseCount, parseDuration, parseSecret, parseUint, suggest, ValueError,
} from "../../src/config/values.js";

test("integers as strtoul(…, 0): decimal, 0x hex, leading-0 octal; nothing else", () => {
  const ok: [string, number][] = [["0", 0], ["10", 10], ["0x1F", 31], ["0X1f", 31], ["010", 8], ["4294967295", 4294967295]];
  for (const [text, n] of ok) assert.equal(parseUint(text), n, text);
  for (const text of ["", "08", "0x", "-1", "+1", " 1", "1 ", "1.0", "1e3", "4294967296", "0x100000000", "ten", "constructor"]) {
    assert.equal(parseUint(text), undefined, text);
  }
  assert.equal(parseUint("65535", 0xffff), 65535);
  assert.equal(parseUint("65536", 0xffff), undefined);
  assert.equal(parseCount("9007199254740991"), Number.MAX_SAFE_INTEGER);
  assert.equal(parseCount("9007199254740992"), undefined);
  assert.equal(parseCount("1k"), undefined);
});

test("durations: s, m, h, d in either case, optionally after a blank; plain numbers are seconds", () => {
  const ok: [string, number][] = [
    ["90", 90], ["90s", 90], ["30m", 1800], ["4h", 14400], ["2d", 172800], ["1H", 3600], ["30 m", 1800],
    ["0", 0], ["0x10m", 960], ["010h", 28800], ["0x1d", 29], ["49710d", 4294944000],
  ];
  for (const [text, n] of ok) assert.equal(parseDuration(text), n, text);
  for (const text of ["", "h", "1x", "1.5h", "1hh", "1 h s", "-1h", "1w", "1ms", "49711d", "1\th", "toString"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test("byte volumes: k, m, g are powers of 1024; no b, no t", () => {
  const ok: [string, number][] = [["500000", 500000], ["500k", 512000], ["100M", 104857600], ["2G", 2147483648], ["2 g", 2147483648], ["0x10K", 16384]];
  for (const [text, n] of ok) assert.equal(parseBytes(text), n, text);
  for (const text of ["", "1kb", "1t", "1 kB", "1.5M", "k"]) assert.equal(parseBytes(text), undefined, text);
  assert.equal(parseBytes("8388607g"), 8388607 * 2 ** 30);
  assert.equal(parseBytes("8388608g"), undefined); // 2^53: beyond exact numbers
});

test("booleans: yes/true/enabled/1 and no/false/disabled/0, any case", () => {
  for (const t of ["yes", "true", "enabled", "1", "YES", "True"]) assert.equal(parseBool(t), true, t);
  for (const t of ["no", "false", "disabled", "0", "No"]) assert.equal(parseBool(t), false, t);
  for (const t of ["", "y", "on", "2", "constructor", "__proto__"]) assert.equal(parseBool(t), undefined, t);
});

test("lists: comma separated, blanks trimmed, empty items skipped, quoted items kept whole", () => {
  assert.deepEqual(listItems("a, b,,c"), ["a", "b", "c"]);
  assert.deepEqual(listItems("a ,b "), ["a", "b"]);
  assert.deepEqual(listItems(" , ,"), []);
  assert.deepEqual(listItems(""), []);
  assert.deepEqual(listItems("'a,b', c"), ["a,b", "c"]);
  assert.deepEqual(listItems("\"x, y\",z"), ["x, y", "z"]);
  assert.deepEqual(listItems("\"\""), [""]);
  assert.deepEqual(listItems("'open, x"), ["'open", "x"]);
  assert.deepEqual(listItems("a b, c"), ["a b", "c"]);
});

test("secrets: text as UTF-8, 0x hex (colons allowed, odd length padded in front), 0s base64", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  assert.equal(hex(parseSecret("0x45a30759df97dc26a15b88ff")), "45a30759df97dc26a15b88ff");
  assert.equal(hex(parseSecret("0X0A:0b")), "0a0b");
  assert.equal(hex(parseSecret("0xabc")), "0abc");
  assert.deepEqual(Buffer.from(parseSecret("pässword")), Buffer.from("pässword", "utf8"));
  assert.deepEqual(Buffer.from(parseSecret("This is a strong password")), Buffer.from("This is a strong password"));
  // node's base64 decoder as the reference
  assert.deepEqual(Buffer.from(parseSecret("0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL")), Buffer.from("v+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL", "base64"));
  assert.deepEqual(Buffer.from(parseSecret("0SAAEC")), Buffer.from([0, 1, 2]));
  // strongSwan's rw-psk-fqdn test: "hex value equal to base64 0sFpZAZqEN6Ti9sqt4ZP5EWcqx"
  assert.deepEqual(parseSecret("0sFpZAZqEN6Ti9sqt4ZP5EWcqx"), parseSecret("0x16964066a10de938bdb2ab7864fe4459cab1"));
  for (const bad of ["", "0x", "0xzz", "0x12 34", "0s", "0sAAE", "0sAA=E", "0s!!!!"]) {
    assert.throws(() => parseSecret(bad), ValueError, bad);
  }
  assert.throws(() => parseSecret("0x"), /the secret is empty|expected hex digits after 0x/);
});

test("suggestions: closest name within two edits, transpositions count once, case ignored", () => {
  const keys = ["rekey_time", "reauth_time", "rand_time", "over_time", "remote_addrs"];
  assert.equal(suggest("rekey_tme", keys), "rekey_time");
  assert.equal(suggest("rekey_tiem", keys), "rekey_time");
  assert.equal(suggest("REKEY_TIME", keys), "rekey_time");
  assert.equal(suggest("remote_adrs", keys), "remote_addrs");
  assert.equal(suggest("lifetime", keys), undefined);
  assert.equal(suggest("ab", ["cd"]), undefined);
});
