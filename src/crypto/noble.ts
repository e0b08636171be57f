// @noble/ciphers backend (pure JavaScript, audited). noble's gcm() has a fixed 16-byte tag; truncated
// ICVs (RFC 4106 allows 8 and 12) are the leading bytes of the full tag, so seal truncates and open
// recomputes the full tag over the ciphertext before anything is released.
import { gcm, ctr } from "@noble/ciphers/aes.js";
import type { CryptoBackend, CipherJob } from "./backend.js";

export class NobleBackend implements CryptoBackend {
  readonly name = "noble" as const;
  readonly wasmBelow = 0;

  seal(j: CipherJob): void {
    const m = j.mem;
    // noble rejects views of shared memory for some operations: work on private copies.
    const out = gcm(m.slice(j.keyOff, j.keyOff + j.keyLen), m.slice(j.nonceOff, j.nonceOff + 12),
      m.slice(j.aadOff, j.aadOff + j.aadLen)).encrypt(m.slice(j.dataOff, j.dataOff + j.dataLen));
    m.set(out.subarray(0, j.dataLen + j.icvLen), j.dataOff);
  }

  open(j: CipherJob): boolean {
    const m = j.mem;
    const key = m.slice(j.keyOff, j.keyOff + j.keyLen);
    const nonce = m.slice(j.nonceOff, j.nonceOff + 12);
    const aad = m.slice(j.aadOff, j.aadOff + j.aadLen);
    const ctAndTag = m.slice(j.dataOff, j.dataOff + j.dataLen + j.icvLen);
    let pt: Uint8Array;
    if (j.icvLen === 16) {
      try { pt = gcm(key, nonce, aad).decrypt(ctAndTag); } catch { return false; }
    } else {
      // Decrypt to a private buffer, re-seal to obtain the full tag, compare the truncated prefix.
      const iv = new Uint8Array(16);
      iv.set(nonce);
      iv[15] = 2; // J0 + 1: the first counter block of the payload
      pt = ctr(key, iv).encrypt(ctAndTag.subarray(0, j.dataLen));
      const full = gcm(key, nonce, aad).encrypt(pt);
      let diff = 0;
      for (let i = 0; i < j.icvLen; i++) diff |= full[j.dataLen + i] ^ ctAndTag[j.dataLen + i];
      if (diff !== 0) return false;
    }
    m.set(pt, j.dataOff);
    return true;
  }
}
