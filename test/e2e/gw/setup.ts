// The gateways of the daemon tests and the one swanctl.conf template both implementations load: strongSwan's
// swanctl reads the file as it is (it ignores the `wasm-ipsec` section), and so does our daemon.
//
//   direct:  a 192.0.2.1 ══ 192.0.2.2 b
//   NAT:     c 192.168.10.2 ── .1 nat 198.51.100.1 ── 198.51.100.2 d     (nat masquerades towards d)
//
// Every gateway has an inner address on lo inside its local traffic selector (charon's libipsec routes use it as
// the source; our pings and TCP clients bind to it).
import { connect, createNetns, makeNatRouter, mergeConf, pskTunnel, type ConfSection, type Netns } from "../harness/index.js";

export interface Side {
  label: string;
  /** Outer address. */
  outer: string;
  /** Inner address (on lo) and the local traffic selector around it. */
  inner: string;
  net: string;
  id: string;
}

export const A: Side = { label: "a", outer: "192.0.2.1", inner: "10.1.0.1", net: "10.1.0.0/24", id: "a.wasm-ipsec.test" };
export const B: Side = { label: "b", outer: "192.0.2.2", inner: "10.2.0.1", net: "10.2.0.0/24", id: "b.wasm-ipsec.test" };
export const C: Side = { label: "c", outer: "192.168.10.2", inner: "10.3.0.1", net: "10.3.0.0/24", id: "c.wasm-ipsec.test" };
export const D: Side = { label: "d", outer: "198.51.100.2", inner: "10.4.0.1", net: "10.4.0.0/24", id: "d.wasm-ipsec.test" };
export const NAT_PUBLIC = "198.51.100.1";

const PSK = "gateway daemon e2e pre-shared key";
export const CONN = "gw";
export const CHILD = "net";

export interface TunnelOptions {
  /** The peer's address as configured: its outer address, or %any (a peer behind a NAT). */
  remoteAddr?: string;
  /** Extra keys for connections.gw and its child (dpd_delay, start_action, ...). */
  conn?: ConfSection;
  child?: ConfSection;
}

/** The swanctl.conf of `local` for a tunnel to `remote`: IKE aes128-sha256-x25519, ESP aes128gcm16 (no ESN); our
 *  daemon's TUN device is wip<label>0. */
export function tunnelConf(local: Side, remote: Side, o: TunnelOptions = {}): ConfSection {
  const conf = pskTunnel({
    name: CONN, childName: CHILD, localAddr: local.outer, remoteAddr: o.remoteAddr ?? remote.outer,
    localId: local.id, remoteId: remote.id, psk: PSK, localTs: local.net, remoteTs: remote.net,
    conn: o.conn, child: o.child,
  });
  return mergeConf(conf, { "wasm-ipsec": { tun: { name: `wip${local.label}%d`, mtu: 1400 } } });
}

function addSide(ns: Netns, s: Side): void {
  ns.addLoopbackAddress(s.inner);
  // The tests run IPv4 only: without this the kernel gives the TUN device a link-local address and sends router
  // solicitations and MLD reports into it, which the daemon rightly drops (no policy) and counts.
  ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
}

/** a and b on one veth. */
export function directTopology(): { a: Netns; b: Netns } {
  const a = createNetns("a"), b = createNetns("b");
  connect({ ns: a, iface: "wan", addrs: [`${A.outer}/24`] }, { ns: b, iface: "wan", addrs: [`${B.outer}/24`] });
  addSide(a, A);
  addSide(b, B);
  return { a, b };
}

/** c behind a masquerading router, d on its public side. */
export function natTopology(): { c: Netns; nat: Netns; d: Netns } {
  const c = createNetns("c"), nat = createNetns("nat"), d = createNetns("d");
  connect({ ns: c, iface: "lan", addrs: [`${C.outer}/24`] }, { ns: nat, iface: "lan", addrs: ["192.168.10.1/24"] });
  connect({ ns: nat, iface: "wan", addrs: [`${NAT_PUBLIC}/24`] }, { ns: d, iface: "wan", addrs: [`${D.outer}/24`] });
  c.ip(["route", "add", "default", "via", "192.168.10.1"]);
  makeNatRouter(nat, "wan");
  addSide(c, C);
  addSide(d, D);
  return { c, nat, d };
}
