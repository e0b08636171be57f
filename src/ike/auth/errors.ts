// One error type for certificate and signature authentication, with a code the IKE_AUTH task can act
// on and a message meant for the log as is (it names the certificate, identity or algorithm at fault).
export type AuthErrorCode =
  | "MALFORMED"       // DER, PEM, CERT or AUTH payload content that does not parse
  | "UNSUPPORTED"     // an algorithm, key type or encoding we do not implement
  | "NO_COMMON_HASH"  // RFC 7427 negotiation found nothing both sides support
  | "NO_KEY"          // no private key for our certificate
  | "IDENTITY"        // identity not in the certificate
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "UNTRUSTED"       // no path to a trust anchor
  | "CONSTRAINT"      // basicConstraints / pathLen / keyUsage violated
  | "SIGNATURE";      // a certificate or AUTH signature does not verify

export class AuthError extends Error {
  constructor(readonly code: AuthErrorCode, message: string) {
    super(message);
    this.name = "AuthError";
  }
}
