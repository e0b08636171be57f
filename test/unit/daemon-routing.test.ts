// The daemon's policy routing (src/daemon/routing.ts): which routes our table gets for a set of policies (the
// expected prefixes worked out by hand from the selectors), the rules and `ip` arguments, the bookkeeping of
// PolicyRouting against a recording `ip`, and the wasm-ipsec keys of swanctl.conf that configure it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { plannedRoutes, ruleSpecs, routeArgs, PolicyRouting, DEFAULT_ROUTING, exemptRouteGet, type Route } from "../../src/daemon/routing.js";
import { parseSwanctl } from "../../src/config/swanctl.js";
import { ConfigError } from "../../src/config/settings.js";

const ts = (start: string, end = start) => ({ start, end });
const V4_ALL = ts("0.0.0.0", "255.255.255.255");
const V6_ALL = ts("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
const sorted = (r: Route[]) => [...r].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));

test("full tunnel (remote 0.0.0.0/0): a default route from our LAN address; our LAN, multicast and broadcast thrown back", () => {
  const r = plannedRoutes([{ local: ts("10.1.0.0", "10.1.0.255"), remote: V4_ALL }], ["192.0.2.1", "10.1.0.1"]);
  assert.deepEqual(sorted(r), [
    { prefix: "0.0.0.0/0", throw: false, src: "10.1.0.1" },
    { prefix: "10.1.0.0/24", throw: true },
    { prefix: "224.0.0.0/4", throw: true },
    { prefix: "255.255.255.255/32", throw: true },
  ]);
});

test("the other end (local 0.0.0.0/0, remote a subnet): one route, nothing thrown (the local selector is wider)", () => {
  const r = plannedRoutes([{ local: V4_ALL, remote: ts("10.1.0.0", "10.1.0.255") }], ["192.0.2.2", "10.2.0.1"]);
  // Every address of ours is in 0.0.0.0/0: the first one is as good as any.
  assert.deepEqual(r, [{ prefix: "10.1.0.0/24", throw: false, src: "192.0.2.2" }]);
});

test("transport mode: the peer's address, from ours", () => {
  const r = plannedRoutes([{ local: ts("192.0.2.1"), remote: ts("192.0.2.2") }], ["192.0.2.1"]);
  assert.deepEqual(r, [{ prefix: "192.0.2.2/32", throw: false, src: "192.0.2.1" }]);
});

test("IPv6 full tunnel: ::/0 from our address in the local selector; the local prefix, link-local and multicast thrown", () => {
  const r = plannedRoutes([{ local: ts("fd00:1::", "fd00:1::ffff:ffff:ffff:ffff"), remote: V6_ALL }], ["2001:db8::1", "fd00:1::1"]);
  assert.deepEqual(sorted(r), [
    { prefix: "::/0", throw: false, src: "fd00:1::1" },
    { prefix: "fd00:1::/64", throw: true },
    { prefix: "fe80::/10", throw: true },
    { prefix: "ff00::/8", throw: true },
  ]);
});

test("a range that is not a prefix: the prefixes covering it exactly; no source when none of ours is in the local selector", () => {
  const r = plannedRoutes([{ local: ts("10.1.0.0", "10.1.0.255"), remote: ts("10.2.0.0", "10.2.0.5") }], ["192.0.2.1"]);
  assert.deepEqual(r, [{ prefix: "10.2.0.0/30", throw: false }, { prefix: "10.2.0.4/31", throw: false }]);
});

test("several policies for one remote prefix: one route, its source from the narrowest local selector holding one of ours", () => {
  const remote = ts("10.9.0.0", "10.9.255.255");
  const wide = { local: V4_ALL, remote }, narrow = { local: ts("10.1.0.0", "10.1.0.255"), remote };
  for (const policies of [[wide, narrow], [narrow, wide], [narrow, wide, narrow]]) {
    assert.deepEqual(plannedRoutes(policies, ["192.0.2.1", "10.1.0.1"]), [{ prefix: "10.9.0.0/16", throw: false, src: "10.1.0.1" }]);
  }
});

test("throws: only local prefixes strictly inside a route's prefix; a more specific remote prefix inside a thrown one still routes", () => {
  // Local equal to remote: a throw would take the route's place, so none.
  assert.deepEqual(plannedRoutes([{ local: ts("10.1.0.0", "10.1.0.255"), remote: ts("10.1.0.0", "10.1.0.255") }], []),
    [{ prefix: "10.1.0.0/24", throw: false }]);
  // Longest prefix match in the table: 10.1.5.0/24 into the TUN, the rest of 10.1.0.0/16 back to the host's rules.
  const r = plannedRoutes([
    { local: ts("10.1.0.0", "10.1.255.255"), remote: V4_ALL },
    { local: ts("10.3.0.1"), remote: ts("10.1.5.0", "10.1.5.255") },
  ], []);
  assert.deepEqual(sorted(r), [
    { prefix: "0.0.0.0/0", throw: false },
    { prefix: "10.1.0.0/16", throw: true },
    { prefix: "10.1.5.0/24", throw: false },
    { prefix: "10.3.0.1/32", throw: true },
    { prefix: "224.0.0.0/4", throw: true },
    { prefix: "255.255.255.255/32", throw: true },
  ]);
  // IPv4 selectors never throw IPv6 prefixes, nor the other way round.
  assert.deepEqual(plannedRoutes([{ local: ts("fd00::1"), remote: ts("fd00::2") }], []), [{ prefix: "fd00::2/128", throw: false }]);
  assert.deepEqual(plannedRoutes([], ["192.0.2.1"]), []);
});

test("rules: one per family, marked packets (our IKE, ESP and AH sockets') skip the table, as `ip rule` arguments", () => {
  assert.deepEqual(DEFAULT_ROUTING, { table: 221, priority: 221, fwmark: 221 });
  assert.deepEqual(ruleSpecs({ table: 1000, priority: 100, fwmark: 0x51 }), [["priority", "100", "not", "fwmark", "81", "lookup", "1000"]]);
});

test("route arguments: family, type, source on add only, our table", () => {
  assert.deepEqual(routeArgs("replace", { prefix: "0.0.0.0/0", throw: false, src: "10.1.0.1" }, "wip0", 221),
    ["-4", "route", "replace", "0.0.0.0/0", "dev", "wip0", "src", "10.1.0.1", "table", "221"]);
  assert.deepEqual(routeArgs("del", { prefix: "0.0.0.0/0", throw: false, src: "10.1.0.1" }, "wip0", 221),
    ["-4", "route", "del", "0.0.0.0/0", "dev", "wip0", "table", "221"]);
  assert.deepEqual(routeArgs("replace", { prefix: "fe80::/10", throw: true }, "wip0", 7), ["-6", "route", "replace", "throw", "fe80::/10", "table", "7"]);
  assert.deepEqual(routeArgs("del", { prefix: "::/0", throw: false }, "wip0", 7), ["-6", "route", "del", "::/0", "dev", "wip0", "table", "7"]);
});

test("exemptRouteGet: `ip route get` carries our mark, other commands (pathMtu's `link show`) run as given", () => {
  // Read-only lookups in whatever namespace the test runs in; the loopback address always routes.
  const ip = exemptRouteGet(0x51);
  const [route] = JSON.parse(ip(["-j", "route", "get", "127.0.0.1"])) as { dev: string; mark?: number }[];
  assert.deepEqual([route.dev, route.mark], ["lo", 0x51]);
  const [link] = JSON.parse(ip(["-j", "link", "show", "dev", "lo"])) as { ifname: string }[];
  assert.equal(link.ifname, "lo");
});

/** A recording `ip`: each call's arguments (and batch input); throws for calls `fail` picks. */
function fakeIp(fail: (args: string[]) => boolean = () => false) {
  const calls: string[] = [];
  const ip = (args: string[], input?: string) => {
    calls.push(args.join(" ") + (input === undefined ? "" : ` <<${input.trim().split("\n").join("; ")}`));
    if (fail(args)) throw Object.assign(new Error("exit 2"), { stderr: Buffer.from("RTNETLINK answers: Operation not supported") });
  };
  return { calls, ip };
}

// Ours, then an earlier version's exemption rules (exactly those), then the table.
const CLEAN = (family: string) =>
  `${family} -force -batch - <<rule del priority 221 not fwmark 221 lookup 221; rule del priority 220 ipproto udp sport 500 goto 222; `
  + "rule del priority 222 nop; route flush table 221";

test("PolicyRouting: leftovers cleaned before the rules go in, routes kept in line, everything removed on close", () => {
  const { calls, ip } = fakeIp();
  const logs: string[] = [];
  const pr = PolicyRouting.open(DEFAULT_ROUTING, "wip0", (m) => logs.push(m), ip);
  const rules = (f: string) => [`${f} rule add priority 221 not fwmark 221 lookup 221`];
  assert.deepEqual(calls.splice(0), [CLEAN("-4"), CLEAN("-6"), ...rules("-4"), ...rules("-6")]);

  const dflt: Route = { prefix: "0.0.0.0/0", throw: false, src: "10.1.0.1" }, lan: Route = { prefix: "10.1.0.0/24", throw: true };
  pr.sync([dflt, lan]);
  assert.deepEqual(calls.splice(0), ["-4 route replace 0.0.0.0/0 dev wip0 src 10.1.0.1 table 221", "-4 route replace throw 10.1.0.0/24 table 221"]);
  pr.sync([lan, dflt]);
  assert.deepEqual(calls.splice(0), [], "nothing changed, nothing done");
  // A new source for the same prefix: the old route goes, the new one comes; the throw is left alone.
  pr.sync([{ ...dflt, src: "10.1.0.2" }, lan]);
  assert.deepEqual(calls.splice(0), ["-4 route del 0.0.0.0/0 dev wip0 table 221", "-4 route replace 0.0.0.0/0 dev wip0 src 10.1.0.2 table 221"]);
  const v6: Route = { prefix: "fd00:2::/64", throw: false };
  pr.sync([v6]);
  assert.deepEqual(calls.splice(0), ["-4 route del 0.0.0.0/0 dev wip0 table 221", "-4 route del throw 10.1.0.0/24 table 221",
    "-6 route replace fd00:2::/64 dev wip0 table 221"]);
  pr.reinstall((r) => r.prefix.includes(":"));
  assert.deepEqual(calls.splice(0), ["-6 route replace fd00:2::/64 dev wip0 table 221"]);
  pr.close();
  assert.deepEqual(calls.splice(0), [CLEAN("-4"), CLEAN("-6")]);
  assert.deepEqual(logs, []);
});

test("PolicyRouting: an IPv4 rule the kernel refuses fails the start and leaves nothing; IPv6 ones and failed routes are logged", () => {
  const refused = fakeIp((a) => a.includes("fwmark") && a.includes("add"));
  assert.throws(() => PolicyRouting.open(DEFAULT_ROUTING, "wip0", () => {}, refused.ip),
    /ip -4 rule add priority 221 not fwmark 221 lookup 221: RTNETLINK answers: Operation not supported/);
  assert.deepEqual(refused.calls, [CLEAN("-4"), CLEAN("-6"), "-4 rule add priority 221 not fwmark 221 lookup 221", CLEAN("-4"), CLEAN("-6")]);

  // No IPv6 in the kernel: the IPv4 rule stays, the IPv6 side is cleaned again, and it is said.
  const noV6 = fakeIp((a) => a[0] === "-6" && a.includes("not"));
  const v6logs: string[] = [];
  PolicyRouting.open(DEFAULT_ROUTING, "wip0", (m) => v6logs.push(m), noV6.ip);
  assert.deepEqual(noV6.calls.slice(2), ["-4 rule add priority 221 not fwmark 221 lookup 221", "-6 rule add priority 221 not fwmark 221 lookup 221", CLEAN("-6")]);
  assert.deepEqual(v6logs, ["ip -6 rule add priority 221 not fwmark 221 lookup 221: RTNETLINK answers: Operation not supported: no IPv6 routes into wip0"]);

  const routeFails = fakeIp((a) => a.includes("route") && a.includes("replace"));
  const logs: string[] = [];
  const pr = PolicyRouting.open(DEFAULT_ROUTING, "wip0", (m) => logs.push(m), routeFails.ip);
  pr.sync([{ prefix: "10.2.0.0/24", throw: false }]);
  assert.deepEqual(logs, ["ip -4 route replace 10.2.0.0/24 dev wip0 table 221 failed: RTNETLINK answers: Operation not supported"]);
});

test("swanctl.conf: routing_table, routing_table_prio and fwmark in the wasm-ipsec section", () => {
  assert.equal(parseSwanctl("wasm-ipsec {\n workers = 1\n}\n").wasmIpsec.routing, undefined, "none given: the defaults apply");
  assert.deepEqual(parseSwanctl("wasm-ipsec {\n routing_table = 1000\n routing_table_prio = 0x64\n fwmark = 0x51\n}\n").wasmIpsec.routing,
    { table: 1000, priority: 100, fwmark: 0x51 });
  assert.deepEqual(parseSwanctl("wasm-ipsec {\n fwmark = 4294967295\n}\n").wasmIpsec.routing, { fwmark: 0xffff_ffff });
  // One file each: a key given twice counts once (the last).
  const issue = (key: string, value: string) => {
    try { parseSwanctl(`wasm-ipsec {\n ${key} = ${value}\n}\n`, "e.conf"); } catch (e) { if (e instanceof ConfigError) return e.message; throw e; }
    return "";
  };
  const TABLE = "expected a table number other than 0 and 253-255 (the kernel's)", PRIO = "expected a rule priority of 2-32764";
  for (const [key, value, why] of [
    ["routing_table", "0", TABLE], ["routing_table", "253", TABLE], ["routing_table", "254", TABLE], ["routing_table", "255", TABLE],
    ["routing_table_prio", "1", PRIO], ["routing_table_prio", "32765", PRIO],
    ["fwmark", "0", "expected a non-zero mark (unmarked packets are the ones routed into the TUN)"],
    ["fwmark", "0x100000000", "expected a whole number"], ["routing_table", "-1", "expected a whole number"],
  ]) assert.equal(issue(key, value), `e.conf:2:2: wasm-ipsec.${key} = ${value}: ${why}`);
  assert.deepEqual(parseSwanctl("wasm-ipsec {\n routing_table = 256\n routing_table_prio = 32764\n}\n").wasmIpsec.routing, { table: 256, priority: 32764 });
});
