// The crypto backend interface: AES-GCM (RFC 4106) applied in place to an ESP payload that the data
// plane framed in WASM memory. Every backend sees the same job, so packets are byte-identical whichever
// one runs, and a packet sealed by one opens with any other. The backends are ESP-only: AH (HMAC-SHA2,
// AES-GMAC) is computed entirely inside the data plane's batch call.

export type BackendName = "wasm" | "node" | "noble" | "auto";
export const BACKEND_NAMES: readonly BackendName[] = ["wasm", "node", "noble", "auto"];

/** One AES-GCM operation; all offsets are into `mem` (the shared WASM memory). Reused, never allocated per packet. */
export interface CipherJob {
  mem: Uint8Array;
  gcmCtx: number;   // the SA's expanded key (WASM backend)
  keyOff: number;   // the SA's raw AES key (JavaScript backends)
  keyLen: number;
  nonceOff: number; // 12 bytes: salt ‖ IV
  aadOff: number;
  aadLen: number;
  dataOff: number;  // payload, encrypted/decrypted in place; the ICV follows it
  dataLen: number;
  icvLen: number;   // 8, 12 or 16
}

export interface CryptoBackend {
  readonly name: BackendName;
  /** ESP payloads shorter than this are sealed/opened by the WASM cipher inside the batch call itself;
   *  the rest are handed to seal()/open(). */
  readonly wasmBelow: number;
  /** Encrypt job.data in place and write the ICV after it. */
  seal(job: CipherJob): void;
  /** Verify the ICV (constant time), then decrypt in place. On failure the data is left untouched. */
  open(job: CipherJob): boolean;
}

/** Payload size from which node:crypto beats the WASM cipher on these machines (bench/esp.ts measures it). */
export const DEFAULT_AUTO_THRESHOLD = 2856;
