// The test PKI of test/fixtures/pki (made by its make.sh with the openssl CLI; see there what each
// certificate is for) and the values openssl computed for it (expected.json).
import { readFileSync } from "node:fs";
import { loadCertificates, type Certificate } from "../../src/ike/auth/certs.js";

const dir = new URL("../../../test/fixtures/pki/", import.meta.url);

export const fixture = (name: string): Buffer => readFileSync(new URL(name, dir));

export function cert(name: string): Certificate {
  const [c] = loadCertificates(fixture(`${name}.crt`));
  return c;
}

export const expected = JSON.parse(fixture("expected.json").toString()) as {
  spkiSha1: Record<string, string>;
  signatureAlgorithm: Record<string, string>;
};

/** A time when every fixture certificate is valid. */
export const NOW = new Date("2030-06-01T00:00:00Z");
