// Fuzzing the settings parser and the swanctl mapping: random text and mutations of strongSwan's example
// configs must either load or raise ConfigError, never another exception, and never hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, parseSettings, type SettingsFs } from "../../src/config/settings.js";
import { mapSwanctl } from "../../src/config/swanctl.js";

const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/config");

/** Includes resolve against nothing: literal files are missing, globs match nothing. */
const emptyFs: SettingsFs = {
  read: (p) => { throw Object.assign(new Error(`no ${p}`), { code: "ENOENT" }); },
  glob: (p) => (/[*?[]/.test(p) ? [] : [p]),
};

/** Deterministic PRNG (mulberry32), so a failing input can be regenerated from the seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRUCTURE = ["{", "}", "=", ":", ",", ".", "#", "\"", "\\", "\n", "\r", "\t", " ", "include ", "[", "]", "/", "-", "%any", "0x", "0s", "dynamic"];
const WORDS = ["connections", "secrets", "children", "local", "remote", "local_ts", "remote_ts", "proposals", "esp_proposals",
  "rekey_time", "life_bytes", "auth", "psk", "id", "secret", "mode", "start_action", "wasm-ipsec", "tun", "mtu", "version",
  "10.0.0.0/8", "dynamic[tcp/80]", "aes128-sha256-x25519", "default", "1h", "500M", "yes", "%any", "@#00", "pools"];

test("20,000 random and mutated inputs: loaded or ConfigError, nothing else", (t) => {
  const rand = rng(0x5eed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const seeds = readdirSync(FIXTURES).filter((f) => f.endsWith(".conf")).map((f) => readFileSync(join(FIXTURES, f), "utf8"));
  const randomText = () => {
    let s = "";
    const n = Math.floor(rand() * 120);
    for (let i = 0; i < n; i++) {
      const r = rand();
      s += r < 0.45 ? pick(STRUCTURE) : r < 0.8 ? pick(WORDS) : String.fromCharCode(Math.floor(rand() * 0x300));
    }
    return s;
  };
  const mutate = (s: string) => {
    const edits = 1 + Math.floor(rand() * 6);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (s.length + 1)), len = Math.floor(rand() * 40);
      const r = rand();
      if (r < 0.3) s = s.slice(0, at) + pick(STRUCTURE) + s.slice(at);
      else if (r < 0.5) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 3));
      else if (r < 0.65) s = s.slice(0, at) + pick(WORDS) + s.slice(at);
      else if (r < 0.8) s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at); // duplicate a slice
      else if (r < 0.9) s = s.slice(0, at) + s.slice(at + len); // delete a slice
      else s = s.slice(0, at) + pick(seeds).slice(0, len * 10) + s.slice(at); // splice another config in
    }
    return s;
  };

  const N = 20_000;
  let loaded = 0, rejected = 0;
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const text = i % 4 === 0 ? randomText() : mutate(pick(seeds));
    try {
      const root = parseSettings(text, "fuzz.conf", { fs: emptyFs });
      mapSwanctl(root);
      loaded++;
    } catch (e) {
      if (!(e instanceof ConfigError)) assert.fail(`input ${i} threw ${(e as Error)?.stack ?? String(e)}\n${JSON.stringify(text)}`);
      for (const issue of e.issues) {
        assert.ok(issue.line === undefined || (issue.line >= 1 && issue.column! >= 1), `input ${i}: bad position`);
      }
      rejected++;
    }
  }
  const ms = performance.now() - start;
  t.diagnostic(`${N} inputs in ${ms.toFixed(0)} ms: ${loaded} loaded, ${rejected} rejected with ConfigError`);
  assert.equal(loaded + rejected, N);
  assert.ok(loaded > 100, "the mutations should leave some configs valid");
});

test("pathological shapes stay linear and bounded: deep nesting, long values, many keys", () => {
  const deep = "a {".repeat(50_000) + "}".repeat(50_000);
  assert.equal(parseSettings(deep, "deep.conf").sections.size, 1);
  const long = `k = ${"x".repeat(1_000_000)}\n`;
  assert.equal(parseSettings(long, "long.conf").keys.get("k")!.value!.length, 1_000_000);
  const many = Array.from({ length: 50_000 }, (_, i) => `k${i} = ${i}`).join("\n");
  assert.equal(parseSettings(many, "many.conf").keys.size, 50_000);
  const unclosed = `k = "${"a\\\n".repeat(100_000)}`;
  assert.throws(() => parseSettings(unclosed, "u.conf"), ConfigError);
  assert.throws(() => mapSwanctl(parseSettings(`connections { ${"c { ".repeat(10_000)}${"} ".repeat(10_000)} }`, "n.conf")), ConfigError);
});
