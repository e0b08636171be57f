// The default backend: the data plane's own bitsliced AES-GCM, run inside the batch call.
import type { CryptoBackend, CipherJob } from "./backend.js";
import type { RawExports } from "../dataplane/wasm.js";

export class WasmBackend implements CryptoBackend {
  readonly name = "wasm" as const;
  readonly wasmBelow = 0xffffffff;
  constructor(private readonly ex: RawExports) {}
  seal(j: CipherJob): void {
    this.ex.gcmSeal(j.gcmCtx, j.nonceOff, j.aadOff, j.aadLen, j.dataOff, j.dataLen, j.dataOff + j.dataLen, j.icvLen);
  }
  open(j: CipherJob): boolean {
    return this.ex.gcmOpen(j.gcmCtx, j.nonceOff, j.aadOff, j.aadLen, j.dataOff, j.dataLen, j.dataOff + j.dataLen, j.icvLen) !== 0;
  }
}
