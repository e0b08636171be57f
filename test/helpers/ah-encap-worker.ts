// Worker for the AH threading test: attaches to the data plane and AH-encapsulates `count` packets of
// varying sizes on one SA, posting back copies of the AH packets.
import { parentPort, workerData } from "node:worker_threads";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { ipv4Packet } from "./packets.js";

const { handle, sa, count } = workerData as { handle: { memory: WebAssembly.Memory; module: WebAssembly.Module }; sa: number; count: number };
const dp = DataPlane.attach(handle);
const b = dp.batch(64);
const out: Uint8Array[] = [];
for (let done = 0; done < count; done += 64) {
  b.clear();
  for (let i = 0; i < 64 && done + i < count; i++) b.push(ipv4Packet({ payloadLen: (done + i) % 700 }), sa);
  if (b.ahEncap() !== b.count) throw new Error("AH encapsulation failed in a worker");
  for (let i = 0; i < b.count; i++) out.push(Uint8Array.from(b.output(i)));
}
parentPort!.postMessage(out);
