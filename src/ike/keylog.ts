// The key log: IKE and ESP keys in the formats Wireshark/tshark read (ikev2_decryption_table and
// esp_sa UAT lines), written only when the user asks (--keylog FILE). Nothing else logs keys.
import { appendFileSync } from "node:fs";
import type { IkeSa } from "./ike-sa.js";
import type { ChildSa } from "./child-sa.js";
import { parseAddress } from "../dataplane/selectors.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const IKE_ENCR: Record<string, string> = {
  "ENCR_AES_CBC-128": "AES-CBC-128 [RFC3602]", "ENCR_AES_CBC-192": "AES-CBC-192 [RFC3602]", "ENCR_AES_CBC-256": "AES-CBC-256 [RFC3602]",
};
const IKE_INTEG: Record<number, string> = { 12: "HMAC_SHA2_256_128 [RFC4868]", 13: "HMAC_SHA2_384_192 [RFC4868]", 14: "HMAC_SHA2_512_256 [RFC4868]" };

export class KeyLog {
  constructor(readonly path: string) {}

  /** `<SPIi>,<SPIr>,<SK_ei>,<SK_er>,"<encr>",<SK_ai>,<SK_ar>,"<integ>"` for uat:ikev2_decryption_table. */
  ikeLine(sa: IkeSa): string {
    const k = sa.keys!, a = sa.algs!;
    const spi = (v: bigint) => v.toString(16).padStart(16, "0");
    let encr: string, integ: string;
    if (a.encr.kind === "aead") {
      encr = `AES-GCM-${a.encr.keyBits} with ${a.encr.icvLength} octet ICV [RFC5282]`;
      integ = "NONE [RFC4306]";
    } else {
      encr = IKE_ENCR[`ENCR_AES_CBC-${a.encr.keyBits}`];
      integ = IKE_INTEG[a.integ!.id];
    }
    return `${spi(sa.spiI)},${spi(sa.spiR)},${hex(k.skEi)},${hex(k.skEr)},"${encr}",${hex(k.skAi)},${hex(k.skAr)},"${integ}"`;
  }

  /** Two esp_sa lines (one per direction) for uat:esp_sa; none for AH, which Wireshark reads without keys. */
  espLines(sa: IkeSa, child: ChildSa): string[] {
    const s = child.spec;
    if (s.protocol === "ah") return [];
    const fam = parseAddress(sa.local.address).version === 4 ? "IPv4" : "IPv6";
    const alg = `"AES-GCM with ${s.encr.icvLength} octet ICV [RFC4106]"`;
    const line = (src: string, dst: string, spi: number, key: Uint8Array) =>
      `"${fam}","${src}","${dst}","0x${(spi >>> 0).toString(16).padStart(8, "0")}",${alg},"0x${hex(key)}","NULL",""`;
    return [
      line(sa.local.address, sa.remote.address, s.spiOut, s.keysOut.encryptionKey),
      line(sa.remote.address, sa.local.address, s.spiIn, s.keysIn.encryptionKey),
    ];
  }

  ike(sa: IkeSa): void { appendFileSync(this.path, `# ikev2_decryption_table\n${this.ikeLine(sa)}\n`, { mode: 0o600 }); }
  child(sa: IkeSa, child: ChildSa): void {
    if (child.spec.protocol === "ah") return;
    appendFileSync(this.path, `# esp_sa\n${this.espLines(sa, child).join("\n")}\n`, { mode: 0o600 });
  }
}
