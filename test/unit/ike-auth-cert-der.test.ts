// The DER reader and distinguished names (src/ike/auth/der.ts, dn.ts). Oracles: X.690 encodings written
// out by hand, node's X509Certificate (subject/issuer text, validity) and openssl-made fixtures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readSingle, readTlv, readOid, readTime, readSmallUint, readBitString, children, oid, Tag } from "../../src/ike/auth/der.js";
import { parseDn, formatDn, dnEquals, dnMatches, rdns } from "../../src/ike/auth/dn.js";
import { AuthError } from "../../src/ike/auth/errors.js";
import { cert } from "./ike-auth-cert-fixtures.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const malformed = (fn: () => unknown, why: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof AuthError && e.code === "MALFORMED" && why.test(e.message));

test("DER lengths: short and long form accepted; indefinite, non-minimal, overlong and overrunning ones refused", () => {
  assert.equal(readSingle(hex("0400"), "x").content.length, 0);
  assert.equal(readSingle(Buffer.concat([hex("047f"), Buffer.alloc(0x7f)]), "x", Tag.OCTET_STRING).content.length, 0x7f);
  assert.equal(readSingle(Buffer.concat([hex("048180"), Buffer.alloc(0x80)]), "x").content.length, 0x80);
  malformed(() => readSingle(Buffer.concat([hex("04817f"), Buffer.alloc(0x7f)]), "x"), /non-minimal DER length/);
  assert.equal(readSingle(Buffer.concat([hex("04820100"), Buffer.alloc(256)]), "x").content.length, 256);
  malformed(() => readSingle(hex("3080 0000"), "x"), /indefinite/);
  malformed(() => readSingle(Buffer.concat([hex("048105"), Buffer.alloc(5)]), "x"), /non-minimal DER length/);
  malformed(() => readSingle(Buffer.concat([hex("04820005"), Buffer.alloc(5)]), "x"), /non-minimal DER length/);
  malformed(() => readSingle(hex("0485 0000000001 00"), "x"), /too large/);
  malformed(() => readSingle(hex("0403 0102"), "x"), /overruns/);
  malformed(() => readSingle(hex("0482 01"), "x"), /truncated DER length/);
  malformed(() => readSingle(hex("04"), "x"), /truncated DER header/);
  malformed(() => readSingle(hex("0401 00 00"), "x"), /1 trailing bytes/);
  malformed(() => readSingle(hex("1f0100"), "x"), /multi-byte DER tags/);
  malformed(() => readSingle(hex("0400"), "x", Tag.SEQUENCE), /expected DER tag 0x30, found 0x4/);
  // A child running past its parent's end is caught even though the buffer continues.
  malformed(() => children(readTlv(hex("3003 0405 00 000000"), 0, "x"), "x"), /overruns/);
  malformed(() => children(readSingle(hex("0400"), "x"), "x"), /constructed/);
});

test("OBJECT IDENTIFIERs decode per X.690 §8.19 (multi-byte arcs, first-arc rules) and round-trip", () => {
  const cases: Array<[string, string]> = [
    ["06092a864886f70d01010b", "1.2.840.113549.1.1.11"],
    ["06032b6570", "1.3.101.112"],
    ["0603550403", "2.5.4.3"],
    ["060a0992268993f22c640119", "0.9.2342.19200300.100.1.25"],
    ["0603883703", "2.999.3"],          // X.690 §8.19.5 example: first subidentifier 1079
    ["06028100", "2.48"],
  ];
  for (const [der, dotted] of cases) {
    assert.equal(readOid(readSingle(hex(der), "oid"), "oid"), dotted);
    assert.deepEqual(oid(dotted), hex(der));
  }
  malformed(() => readOid(readSingle(hex("0600"), "oid"), "oid"), /empty/);
  malformed(() => readOid(readSingle(hex("0603 2a 80 01"), "oid"), "oid"), /non-minimal/);
  malformed(() => readOid(readSingle(hex("0602 2a 86"), "oid"), "oid"), /truncated/);
  assert.throws(() => oid("1.40"), /invalid OBJECT IDENTIFIER/);
});

test("times (RFC 5280 §4.1.2.5): UTCTime century rule, GeneralizedTime, nothing but Z-terminated seconds", () => {
  const t = (tag: number, s: string) => readTime(readSingle(Buffer.concat([Buffer.from([tag, s.length]), Buffer.from(s)]), "t"), "t");
  assert.equal(t(Tag.UTC_TIME, "491231235959Z").toISOString(), "2049-12-31T23:59:59.000Z");
  assert.equal(t(Tag.UTC_TIME, "500101000000Z").toISOString(), "1950-01-01T00:00:00.000Z");
  assert.equal(t(Tag.GENERALIZED_TIME, "20500101000000Z").toISOString(), "2050-01-01T00:00:00.000Z");
  malformed(() => t(Tag.UTC_TIME, "4912312359Z"), /malformed time/);
  malformed(() => t(Tag.UTC_TIME, "491231235959+0100"), /malformed time/);
  malformed(() => t(Tag.GENERALIZED_TIME, "20500101000000.5Z"), /malformed time/);
  malformed(() => t(Tag.UTC_TIME, "250230000000Z"), /invalid time/);
  malformed(() => t(Tag.UTC_TIME, "250101240000Z"), /invalid time/);
  malformed(() => t(Tag.OCTET_STRING, "250101000000Z"), /expected UTCTime/);
});

test("INTEGER and BIT STRING strictness", () => {
  assert.equal(readSmallUint(readSingle(hex("020100"), "i"), "i"), 0);
  assert.equal(readSmallUint(readSingle(hex("02020080"), "i"), "i"), 128);
  malformed(() => readSmallUint(readSingle(hex("02020001"), "i"), "i"), /non-minimal/);
  malformed(() => readSmallUint(readSingle(hex("0201ff"), "i"), "i"), /negative/);
  malformed(() => readSmallUint(readSingle(hex("0200"), "i"), "i"), /empty/);
  assert.deepEqual(readBitString(readSingle(hex("03020780"), "b"), "b"), { unused: 7, bytes: hex("80") });
  malformed(() => readBitString(readSingle(hex("03020781"), "b"), "b"), /non-zero padding/);
  malformed(() => readBitString(readSingle(hex("030108"), "b"), "b"), /malformed/);
});

test("formatDn() prints subject and issuer of every fixture as node's X509Certificate does (strongSwan's ', ' separator)", () => {
  for (const name of ["root", "im", "moon", "sun", "carol", "dave", "eve", "other", "stranger", "deep"]) {
    const c = cert(name);
    assert.equal(c.subjectText, c.x509.subject.split("\n").join(", "));
    assert.equal(c.issuerText, c.x509.issuer.split("\n").join(", "));
  }
  assert.equal(cert("moon").subjectText, "C=CH, O=strongSwan Test, CN=moon.strongswan.org");
});

test("parseDn() encodes as strongSwan's atodn(); dnEquals() compares as its rdn_equals()", () => {
  const dn = parseDn("C=CH, O=strongSwan Test, CN=moon.strongswan.org");
  const str = (s: string) => Buffer.from(s).toString("hex");
  // PrintableString for everything printable (openssl's fixture uses UTF8String for O and CN).
  assert.deepEqual(dn, hex(`3045 310b 3009 0603550406 1302 ${str("CH")}
                           3118 3016 060355040a 130f ${str("strongSwan Test")}
                           311c 301a 0603550403 1313 ${str("moon.strongswan.org")}`));
  const moon = cert("moon").subject;
  assert.ok(!dn.equals(moon), "different string types");
  assert.ok(dnEquals(dn, moon), "same values compare equal whatever the string type");
  assert.equal(formatDn(dn), "C=CH, O=strongSwan Test, CN=moon.strongswan.org");
  assert.deepEqual(parseDn("/C=CH/O=strongSwan Test/CN=moon.strongswan.org"), dn);
  assert.deepEqual(parseDn("c = CH ,  o=strongSwan Test,cn=moon.strongswan.org "), dn);
  // Case: PrintableString (C) case-insensitive on both sides; UTF8String (CN in the certificate) not.
  assert.ok(dnEquals(parseDn("C=ch, O=strongSwan Test, CN=moon.strongswan.org"), moon));
  assert.ok(!dnEquals(parseDn("C=CH, O=strongSwan Test, CN=MOON.strongswan.org"), moon));
  assert.ok(dnEquals(parseDn("C=CH, O=strongSwan Test, CN=MOON.strongswan.org"), dn), "both PrintableString");
  // Order and count matter; wildcards only in dnMatches().
  assert.ok(!dnEquals(parseDn("O=strongSwan Test, C=CH, CN=moon.strongswan.org"), moon));
  assert.ok(!dnEquals(parseDn("C=CH, O=strongSwan Test"), moon));
  const pattern = parseDn("C=CH, O=strongSwan Test, CN=*");
  assert.ok(dnMatches(pattern, moon));
  assert.ok(!dnEquals(pattern, moon));
  assert.ok(!dnMatches(parseDn("C=CH, O=*, CN=*, OU=*"), moon));
  // Non-printable characters become UTF8String, emailAddress IA5String (compared case-insensitively).
  const r = rdns(parseDn("CN=Zürich, E=Moon@strongswan.org"));
  assert.deepEqual(r.map((x) => [x.type, x.value.toString()]), [[Tag.UTF8_STRING, "Zürich"], [Tag.IA5_STRING, "Moon@strongswan.org"]]);
  assert.ok(dnEquals(parseDn("CN=Zürich, E=moon@STRONGSWAN.org"), parseDn("CN=Zürich, emailAddress=Moon@strongswan.org")));
  assert.equal(formatDn(parseDn("CN=Zürich, E=moon@strongswan.org")), "CN=Zürich, E=moon@strongswan.org");
  assert.throws(() => parseDn("CN=moon, XYZ=1"), /unknown attribute 'XYZ'/);
  assert.throws(() => parseDn("CN=moon, garbage"), /lacks 'attribute=value'/);
});

test("rdns() rejects malformed Names, and formatDn() shows unknown attributes by OID", () => {
  malformed(() => rdns(hex("3002 3100")), /empty SET/);
  malformed(() => rdns(hex("3004 3102 0500")), /expected DER tag 0x30/);
  malformed(() => rdns(hex("3004 3002 0500")), /expected DER tag 0x31/);
  malformed(() => rdns(hex("3009 3107 3005 0603550403")), /missing value/);
  const odd = hex("3010 310e 300c 06062a0304050607 1302 6869");
  assert.equal(formatDn(odd), "1.2.3.4.5.6.7=hi");
  assert.equal(formatDn(hex("300f 310d 300b 0603550403 1e04 00e4 0041")), "CN=äA"); // BMPString
});
