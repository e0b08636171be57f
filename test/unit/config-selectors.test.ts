// Traffic selectors and IKE address lists in swanctl.conf syntax (vici_config.c parse_ts, host.c,
// traffic_selector.c); charon's own reading of several of them is in config-swanctl.test.ts (captured
// list-conns output).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkAddressSpec, isDynamic, matchesAddress, parseTrafficSelector, resolveSelectors, type ConfigSelector,
} from "../../src/config/selectors.js";
import { UnsupportedError, ValueError } from "../../src/config/values.js";

const ts = (start: string, end: string, protocol = 0, portStart = 0, portEnd = 65535) => ({ start, end, protocol, portStart, portEnd });

test("subnets, hosts and ranges; the address is masked to the prefix", () => {
  assert.deepEqual(parseTrafficSelector("10.1.0.0/16"), ts("10.1.0.0", "10.1.255.255"));
  assert.deepEqual(parseTrafficSelector("10.1.2.3/16"), ts("10.1.0.0", "10.1.255.255"));
  assert.deepEqual(parseTrafficSelector("0.0.0.0/0"), ts("0.0.0.0", "255.255.255.255"));
  assert.deepEqual(parseTrafficSelector("192.0.2.7"), ts("192.0.2.7", "192.0.2.7"));
  assert.deepEqual(parseTrafficSelector("192.0.2.7/32"), ts("192.0.2.7", "192.0.2.7"));
  assert.deepEqual(parseTrafficSelector("fec1::1/16"), ts("fec1:0:0:0:0:0:0:0", "fec1:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  assert.deepEqual(parseTrafficSelector("::/0"), ts("0:0:0:0:0:0:0:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  assert.deepEqual(parseTrafficSelector("10.1.0.1-10.1.0.9"), ts("10.1.0.1", "10.1.0.9"));
  assert.deepEqual(parseTrafficSelector("fec0::1 - fec0::9"), ts("fec0:0:0:0:0:0:0:1", "fec0:0:0:0:0:0:0:9"));
  assert.deepEqual(parseTrafficSelector("10.0.0.5-10.0.0.5"), ts("10.0.0.5", "10.0.0.5"));
});

test("protocol and port restrictions: names, numbers, ranges, any", () => {
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[tcp/80]"), ts("10.0.0.0", "10.255.255.255", 6, 80, 80));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8 [udp]"), ts("10.0.0.0", "10.255.255.255", 17));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[17/any]"), ts("10.0.0.0", "10.255.255.255", 17));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[any/53]"), ts("10.0.0.0", "10.255.255.255", 0, 53, 53));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[/80]"), ts("10.0.0.0", "10.255.255.255", 0, 80, 80));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[TCP/http]"), ts("10.0.0.0", "10.255.255.255", 6, 80, 80));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[tcp/1024-2048]"), ts("10.0.0.0", "10.255.255.255", 6, 1024, 2048));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[0x11/0x35]"), ts("10.0.0.0", "10.255.255.255", 17, 53, 53));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[sctp/ipsec-nat-t]"), ts("10.0.0.0", "10.255.255.255", 132, 4500, 4500));
  assert.deepEqual(parseTrafficSelector("10.0.0.0/8[esp]"), ts("10.0.0.0", "10.255.255.255", 50));
});

test("ICMP: a port below 256 is the message type, moved to the high byte (type/code)", () => {
  assert.deepEqual(parseTrafficSelector("0.0.0.0/0[icmp/8]"), ts("0.0.0.0", "255.255.255.255", 1, 0x0800, 0x0800));
  assert.deepEqual(parseTrafficSelector("0.0.0.0/0[icmp/2048]"), ts("0.0.0.0", "255.255.255.255", 1, 2048, 2048));
  assert.deepEqual(parseTrafficSelector("::/0[ipv6-icmp/128-129]"), ts("0:0:0:0:0:0:0:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 58, 0x8000, 0x8100));
  assert.deepEqual(parseTrafficSelector("0.0.0.0/0[icmp]"), ts("0.0.0.0", "255.255.255.255", 1));
});

test("dynamic: the IKE SA's address, with an optional protocol/port restriction", () => {
  assert.deepEqual(parseTrafficSelector("dynamic"), { dynamic: true, protocol: 0, portStart: 0, portEnd: 65535 });
  assert.deepEqual(parseTrafficSelector("dynamic[tcp/1001]"), { dynamic: true, protocol: 6, portStart: 1001, portEnd: 1001 });
  assert.deepEqual(parseTrafficSelector("dynamic [udp/ntp]"), { dynamic: true, protocol: 17, portStart: 123, portEnd: 123 });
  assert.equal(isDynamic(parseTrafficSelector("dynamic")), true);
  assert.equal(isDynamic(parseTrafficSelector("10.0.0.0/8")), false);
});

test("resolveSelectors puts the SA's address in place of dynamic, and leaves the others alone", () => {
  const list: ConfigSelector[] = [parseTrafficSelector("dynamic[tcp/22]"), parseTrafficSelector("10.0.0.0/8")];
  assert.deepEqual(resolveSelectors(list, "192.0.2.1"), [ts("192.0.2.1", "192.0.2.1", 6, 22, 22), list[1]]);
  assert.strictEqual(resolveSelectors(list, "192.0.2.1")[1], list[1]);
  assert.deepEqual(resolveSelectors([parseTrafficSelector("dynamic")], "2001:db8::1"),
    [ts("2001:db8:0:0:0:0:0:1", "2001:db8:0:0:0:0:0:1")]);
});

test("malformed selectors are ValueErrors that say what was expected", () => {
  const bad = ["", "foo", "10.0.0.0/33", "10.0.0.0/abc", "10.0.0.0/8/9", "10.0.0.0/", "::/129", "10.0.0.1-fec0::1",
    "10.0.0.9-10.0.0.1", "10.0.0.1-", "[tcp/80", "10.0.0.0/8[tcp]x", "10.0.0.0/8[tcp/65536]", "10.0.0.0/8[tcp/2000-1000]",
    "10.0.0.0/8[256]", "10.0.0.0/8[tcp/80-]", "10.0.0.0/8[bogus]", "10.0.0.0/8[tcp/nosuchservice]", "%any",
    "10.0.0.0/8[tcp/1-2-3]", "dynamic[17/%any]", "010.0.0.1/8"];
  for (const text of bad) assert.throws(() => parseTrafficSelector(text), ValueError, text);
  assert.throws(() => parseTrafficSelector("foo"), /expected a subnet \(10\.1\.0\.0\/16\), a range \(10\.1\.0\.1-10\.1\.0\.9\) or dynamic/);
  assert.throws(() => parseTrafficSelector("1.2.3.4[tcp/x]"), /bad port 'x' \(expected a number 0-65535, a range like 1024-2048 or a service name\)/);
  assert.throws(() => parseTrafficSelector("1.2.3.4[xyz]"), /unknown protocol 'xyz'/);
  assert.throws(() => parseTrafficSelector("dynamic[17/%any]"), /bad port '%any' \(swanctl\.conf writes any; %any is ipsec\.conf syntax\)/);
  assert.throws(() => parseTrafficSelector("dynamic[%any]"), /unknown protocol '%any' \(swanctl\.conf writes any/);
  assert.throws(() => parseTrafficSelector("dynamic[tcp/opaque]"), UnsupportedError);
});

test("IKE address lists: addresses, subnets, ranges and %any; DNS names are not supported", () => {
  for (const ok of ["192.0.2.1", "fec0::1", "192.0.2.0/24", "2001:db8::/32", "192.0.2.1-192.0.2.9", "%any", "%any4", "%any6"]) {
    assert.doesNotThrow(() => checkAddressSpec(ok), ok);
  }
  assert.throws(() => checkAddressSpec("vpn.example.org"), UnsupportedError);
  assert.throws(() => checkAddressSpec("moon"), UnsupportedError);
  for (const bad of ["PH_IP_MOON", "192.0.2.0/33", "192.0.2.0/x", "192.0.2.9-192.0.2.1", "%all", "", "192.0.2.1/24/1"]) {
    assert.throws(() => checkAddressSpec(bad), ValueError, bad);
  }
});

test("matchesAddress compares addresses by value, within subnets and ranges, by family for %any4/%any6", () => {
  assert.equal(matchesAddress(["%any"], "192.0.2.1"), true);
  assert.equal(matchesAddress(["%any"], "::1"), true);
  assert.equal(matchesAddress(["%any4"], "192.0.2.1"), true);
  assert.equal(matchesAddress(["%any4"], "::1"), false);
  assert.equal(matchesAddress(["%any6"], "::1"), true);
  assert.equal(matchesAddress(["fec0::1"], "fec0:0:0::0:1"), true);
  assert.equal(matchesAddress(["192.0.2.0/24"], "192.0.2.77"), true);
  assert.equal(matchesAddress(["192.0.2.0/24"], "192.0.3.1"), false);
  assert.equal(matchesAddress(["2001:db8::/32"], "2001:db8:1::5"), true);
  assert.equal(matchesAddress(["2001:db8::/32"], "2001:db9::5"), false);
  assert.equal(matchesAddress(["192.0.2.10-192.0.2.20"], "192.0.2.20"), true);
  assert.equal(matchesAddress(["192.0.2.10-192.0.2.20"], "192.0.2.21"), false);
  assert.equal(matchesAddress(["192.0.2.0/24"], "::ffff:192.0.2.1"), false);
  assert.equal(matchesAddress(["10.0.0.1", "192.0.2.1"], "192.0.2.1"), true);
  assert.equal(matchesAddress(["not an address"], "192.0.2.1"), false);
  assert.equal(matchesAddress(["%any"], "not an address"), false);
});
