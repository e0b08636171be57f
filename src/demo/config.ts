// The demo's embedded default: two gateways in net-to-net tunnel mode, PSK-authenticated IKEv2
// (aes128-sha256-x25519) and ESP AES-GCM-128 (aes128gcm16), in swanctl.conf syntax, so the same file
// works with `wasm-ipsec daemon --config` and, but for the wasm-ipsec section, strongSwan's swanctl.
// Documentation addresses only (RFC 5737, RFC 4193 ULA):
//
//   host A ── lan ── gateway A ══ wan: ESP-in-UDP ══ gateway B ── lan ── host B
//   198.51.100.10  .1/25    192.0.2.1/24     192.0.2.2/24    203.0.113.1/25  203.0.113.10
//   fd00:a::10     ::1/64   fd00:1::1/64     fd00:1::2/64    fd00:b::1/64    fd00:b::10
import type { BackendName } from "../crypto/backend.js";

export interface Side {
  name: "A" | "B";
  id: string;
  wan4: string; wan6: string;
  lan4: string; lan6: string;         // the protected subnets (traffic selectors)
  gwLan4: string; gwLan6: string;     // the gateway's address on its LAN (the hosts' default route)
  host4: string; host6: string;       // the host behind it
}

export const SIDES: { a: Side; b: Side } = {
  a: {
    name: "A", id: "gateway-a.example", wan4: "192.0.2.1", wan6: "fd00:1::1",
    lan4: "198.51.100.0/25", lan6: "fd00:a::/64", gwLan4: "198.51.100.1", gwLan6: "fd00:a::1",
    host4: "198.51.100.10", host6: "fd00:a::10",
  },
  b: {
    name: "B", id: "gateway-b.example", wan4: "192.0.2.2", wan6: "fd00:1::2",
    lan4: "203.0.113.0/25", lan6: "fd00:b::/64", gwLan4: "203.0.113.1", gwLan6: "fd00:b::1",
    host4: "203.0.113.10", host6: "fd00:b::10",
  },
};

export const CONNECTION = "demo";
export const CHILD = "net";

const TEMPLATE = `# wasm-ipsec demo: gateway {NAME}, from the embedded default (src/demo/config.ts)
connections {
   {CONN} {
      version = 2
      local_addrs = {WAN}
      remote_addrs = {PEER_WAN}
      proposals = aes128-sha256-x25519
      mobike = no
      local {
         auth = psk
         id = {ID}
      }
      remote {
         auth = psk
         id = {PEER_ID}
      }
      children {
         {CHILD} {
            local_ts = {LAN4}, {LAN6}
            remote_ts = {PEER_LAN4}, {PEER_LAN6}
            esp_proposals = aes128gcm16
            mode = tunnel
         }
      }
   }
}

secrets {
   ike-{CONN} {
      id-a = {ID_A}
      id-b = {ID_B}
      secret = {PSK}
   }
}

wasm-ipsec {
   crypto_backend = {BACKEND}
   tun {
      name = wipsec%d
      mtu = 1400
   }
}
`;

/** Gateway `self`'s swanctl.conf; `psk` is written as 0x hex. */
export function swanctlConf(self: Side, peer: Side, psk: Uint8Array, backend: BackendName): string {
  const v: Record<string, string> = {
    NAME: self.name, CONN: CONNECTION, CHILD, WAN: self.wan4, PEER_WAN: peer.wan4, ID: self.id, PEER_ID: peer.id,
    LAN4: self.lan4, LAN6: self.lan6, PEER_LAN4: peer.lan4, PEER_LAN6: peer.lan6,
    ID_A: SIDES.a.id, ID_B: SIDES.b.id, PSK: `0x${Buffer.from(psk).toString("hex")}`, BACKEND: backend,
  };
  return TEMPLATE.replace(/\{([A-Z_0-9]+)\}/g, (_m, k: string) => {
    if (!(k in v)) throw new Error(`demo template: no value for {${k}}`);
    return v[k];
  });
}
