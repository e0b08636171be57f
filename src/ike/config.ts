// The IKE engine's configuration model: connections with authentication rounds and children, and the
// pre-shared secrets. It mirrors swanctl.conf's structure and key names (the file parser maps onto it).
import type { Proposal } from "./crypto/transforms.js";
import type { TrafficSelector } from "../dataplane/selectors.js";
import type { Certificate } from "./auth/certs.js";

export interface AuthConfig {
  auth: "psk" | "pubkey";
  /** strongSwan identity syntax: 192.0.2.1, fd00::1, @fqdn, user@example.org, fqdn, "C=CH, O=x, CN=moon"
   *  (remote: "CN=*" wildcards). pubkey, local: "%any" = the certificate's subject DN. */
  id: string;
  /** pubkey, local: our certificate, then intermediate CA certificates to send (swanctl local.certs). */
  certs?: Certificate[];
  /** pubkey, remote: trust anchors for the peer's certificate (swanctl remote.cacerts); default the engine's caCerts. */
  cacerts?: Certificate[];
}

export interface ChildConfig {
  name: string;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  espProposals: Proposal[];
  /** AH proposals (swanctl ah_proposals); a child with only AH has no ESP proposals. See childProposals(). */
  ahProposals?: Proposal[];
  mode: "tunnel" | "transport";
  startAction: "none" | "trap" | "start";
  closeAction?: "none" | "trap" | "start";
  dpdAction?: "clear" | "trap" | "restart";
  rekeyTime: number;    // seconds; 0 = never
  lifeTime?: number;    // seconds; default rekeyTime * 1.1
  randTime?: number;    // seconds of jitter subtracted from rekeyTime; default lifeTime - rekeyTime
  rekeyBytes?: number; lifeBytes?: number; rekeyPackets?: number; lifePackets?: number;
  replayWindow: number;
}

export interface ConnectionConfig {
  name: string;
  localAddrs: string[];   // our address(es); the first is used to initiate
  remoteAddrs: string[];  // the peer's; "%any" accepts any as responder
  localPort: number;      // default 500
  remotePort: number;     // default 500
  proposals: Proposal[];  // IKE proposals
  local: AuthConfig;
  remote: AuthConfig;     // id "%any" accepts any identity
  children: ChildConfig[];
  rekeyTime: number;      // IKE SA rekey, seconds; 0 = never
  reauthTime: number;     // seconds; 0 = never
  randTime?: number;      // seconds of jitter subtracted from rekey/reauth time; default a tenth of it
  overTime?: number;      // hard lifetime beyond the earlier of rekey/reauth time; default max(rekey, reauth) / 10
  dpdDelay: number;       // seconds; 0 = no liveness checks
  dpdTimeout?: number;
  keepalive?: number;     // NAT-T keepalive interval, seconds (0 = none); default the engine's timers.keepalive
  encap: boolean;         // force UDP encapsulation (always true for this data plane)
  fragmentation: boolean; // RFC 7383
  fragmentSize?: number;  // bytes (default 1280)
  keyingTries?: number;   // initiation attempts (default 1)
  sendCert?: "always" | "ifasked" | "never"; // swanctl send_cert (default ifasked: when the peer sent a CERTREQ)
  sendCertreq?: boolean;  // swanctl send_certreq (default true): ask for the peer's certificate when remote auth is pubkey
}

export interface SharedSecret {
  ids: string[];          // identities the secret belongs to; empty = any
  secret: Uint8Array;
}

export interface EngineTimers {
  retransmitTimeout: number; // s, first retransmission (strongSwan: 4.0)
  retransmitBase: number;    // back-off factor (strongSwan: 1.8)
  retransmitTries: number;   // retransmissions before giving up (strongSwan: 5)
  halfOpenTimeout: number;   // s, a responder's half-open IKE SA lifetime
  cookieThreshold: number;   // half-open SAs before the responder demands cookies
  keepalive: number;         // s, NAT-T keepalive interval when behind a NAT; 0 = none (strongSwan: charon.keep_alive 20)
}

export const DEFAULT_TIMERS: EngineTimers = {
  retransmitTimeout: 4, retransmitBase: 1.8, retransmitTries: 5, halfOpenTimeout: 30, cookieThreshold: 10, keepalive: 20,
};

export function connectionDefaults(c: Partial<ConnectionConfig> & Pick<ConnectionConfig, "name" | "proposals" | "local" | "remote">): ConnectionConfig {
  return {
    localAddrs: ["%any"], remoteAddrs: ["%any"], localPort: 500, remotePort: 500, children: [], rekeyTime: 14400,
    reauthTime: 0, dpdDelay: 0, encap: true, fragmentation: true, ...c,
  };
}

/** What a child offers and accepts, in order of preference: its AH proposals, then its ESP ones (strongSwan
 *  keeps both in one list, in the order of the swanctl.conf keys; a child rarely has both). */
export function childProposals(c: Pick<ChildConfig, "espProposals" | "ahProposals">): Proposal[] {
  return [...(c.ahProposals ?? []), ...c.espProposals];
}

export function childDefaults(c: Partial<ChildConfig> & Pick<ChildConfig, "name" | "localTs" | "remoteTs" | "espProposals">): ChildConfig {
  return { mode: "tunnel", startAction: "none", rekeyTime: 3600, replayWindow: 32, ...c };
}
