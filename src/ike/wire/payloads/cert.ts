// Certificate and Certificate Request payloads (RFC 7296 §3.6, §3.7): an encoding byte and opaque data.
import { CertEncoding, PayloadType } from "../constants.js";
import { ensureNoProblem, Reader, Writer } from "../bytes.js";
import { WireError } from "../errors.js";

export interface CertPayload {
  type: typeof PayloadType.CERT;
  encoding: number;
  data: Buffer;
}

export interface CertReqPayload {
  type: typeof PayloadType.CERTREQ;
  encoding: number;
  /** For X.509 (and OCSP, RFC 4806): concatenated 20-byte SHA-1 hashes of trusted CA public keys. */
  data: Buffer;
}

const SHA1_LENGTH = 20;

function certReqProblem(encoding: number, length: number): string | undefined {
  const hashes = encoding === CertEncoding.X509_SIGNATURE || encoding === CertEncoding.OCSP_CONTENT;
  return hashes && length % SHA1_LENGTH !== 0 ? `CERTREQ of ${length} bytes is not a list of SHA-1 hashes` : undefined;
}

export function decodeCert(r: Reader): CertPayload {
  const encoding = r.u8("certificate encoding");
  return { type: PayloadType.CERT, encoding, data: r.rest("certificate data") };
}

export function decodeCertReq(r: Reader): CertReqPayload {
  const encoding = r.u8("certificate encoding");
  const data = r.rest("certification authority");
  const problem = certReqProblem(encoding, data.length);
  if (problem) throw new WireError("BAD_LENGTH", problem);
  return { type: PayloadType.CERTREQ, encoding, data };
}

export function encodeCert(p: CertPayload | CertReqPayload): Buffer {
  if (p.type === PayloadType.CERTREQ) {
    ensureNoProblem(certReqProblem(p.encoding, p.data.length));
  }
  return new Writer().u8(p.encoding, "certificate encoding").bytes(p.data).toBuffer();
}
