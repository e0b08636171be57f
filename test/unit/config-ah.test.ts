// swanctl.conf ah_proposals (strongSwan's swanctl.opt; vici_config.c puts AH and ESP proposals in one list and adds
// the ESP default only to a child without any; proposal.c's AH default and check_proposal): AH-only children, AH
// and ESP together, `default`, and bad values reported with file:line:column. Transform numbers are IANA's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/settings.js";
import { parseSwanctl, type SwanctlChild } from "../../src/config/swanctl.js";
import { childProposals } from "../../src/ike/config.js";
import type { Proposal } from "../../src/ike/crypto/transforms.js";

const AUTH_SHA256 = 12, AUTH_SHA384 = 13, AUTH_SHA512 = 14, AUTH_AES_128_GMAC = 9, AUTH_AES_256_GMAC = 11;
const AES_GCM_16 = 20, X25519 = 31, ECP384 = 20;
const ahP = (integ: number[], dh: number[] = [], esn = [0]): Proposal => ({ protocol: "ah", encr: [], prf: [], integ, dh, esn });

const conf = (childKeys: string) => `connections {
  gw {
    remote_addrs = 192.0.2.2
    local { auth = psk }
    remote { auth = psk }
    children {
      c {
${childKeys.split("\n").map((l) => `        ${l}`).join("\n")}
      }
    }
  }
}
`;
const child = (keys: string): SwanctlChild => parseSwanctl(conf(keys), "ah.conf").connections[0].children[0];

function issues(keys: string): string[] {
  try {
    parseSwanctl(conf(keys), "ah.conf");
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("no error");
}

test("ah_proposals alone: the child proposes AH only (no ESP default)", () => {
  const c = child("ah_proposals = sha256");
  assert.deepEqual(c.ahProposals, [ahP([AUTH_SHA256])]);
  assert.deepEqual(c.espProposals, []);
  assert.deepEqual(childProposals(c).map((p) => p.protocol), ["ah"]);
  assert.deepEqual(child("ah_proposals = sha384-x25519-esn, aes128gmac-aes256gmac-ecp384-noesn").ahProposals, [
    ahP([AUTH_SHA384], [X25519], [1]), ahP([AUTH_AES_128_GMAC, AUTH_AES_256_GMAC], [ECP384], [0]),
  ]);
});

test("ah_proposals = default: strongSwan's AH default without HMAC-SHA1 and AES-XCBC", () => {
  assert.deepEqual(child("ah_proposals = default").ahProposals, [ahP([AUTH_SHA256, AUTH_SHA384, AUTH_SHA512])]);
  assert.deepEqual(child("ah_proposals = DEFAULT, sha512").ahProposals, [ahP([AUTH_SHA256, AUTH_SHA384, AUTH_SHA512]), ahP([AUTH_SHA512])]);
});

test("ah_proposals and esp_proposals: both offered, AH first; neither (or an empty ah_proposals): the ESP default", () => {
  const both = child("esp_proposals = aes256gcm16\nah_proposals = sha512");
  assert.deepEqual(both.ahProposals, [ahP([AUTH_SHA512])]);
  assert.deepEqual(both.espProposals.map((p) => [p.protocol, p.encr]), [["esp", [{ id: AES_GCM_16, keyBits: 256 }]]]);
  assert.deepEqual(childProposals(both).map((p) => p.protocol), ["ah", "esp"]);
  for (const keys of ["mode = tunnel", "ah_proposals ="]) {
    const c = child(keys);
    assert.equal(c.ahProposals, undefined, keys);
    assert.deepEqual(c.espProposals.map((p) => p.encr.map((e) => e.keyBits)), [[128, 192, 256]], keys);
  }
});

test("bad ah_proposals values say where and why", () => {
  const at = (line: number, col: number, value: string, why: string) =>
    [`ah.conf:${line}:${col}: connections.gw.children.c.ah_proposals = ${value}: ${why}`];
  assert.deepEqual(issues("ah_proposals = aes128-sha256"),
    at(8, 9, "aes128-sha256", "proposal 'aes128-sha256': AH does not encrypt: 'aes128' belongs in an ESP proposal"));
  assert.deepEqual(issues("ah_proposals = x25519"),
    at(8, 9, "x25519", "proposal 'x25519': an integrity algorithm is required in AH proposals (e.g. sha256)"));
  assert.deepEqual(issues("ah_proposals = sha265"), at(8, 9, "sha265", "unknown algorithm keyword 'sha265' (did you mean 'sha256'?)"));
  const [sha1] = issues("mode = tunnel\nah_proposals = sha256, sha1");
  assert.match(sha1, /^ah\.conf:9:9: connections\.gw\.children\.c\.ah_proposals = sha256, sha1: not supported by wasm-ipsec: algorithm 'sha1' is not implemented \(available: /);
  const [gmac192] = issues("ah_proposals = aes192gmac");
  assert.match(gmac192, /^ah\.conf:8:9: .*ah_proposals = aes192gmac: not supported by wasm-ipsec: algorithm 'aes192gmac' is not implemented/);
  // GMAC is AH's here: in esp_proposals it is not implemented.
  const [espGmac] = issues("esp_proposals = aes128gmac");
  assert.match(espGmac, /^ah\.conf:8:9: .*esp_proposals = aes128gmac: not supported by wasm-ipsec: algorithm 'aes128gmac' is not implemented/);
});
