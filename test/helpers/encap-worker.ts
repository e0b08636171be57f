// Worker for the shared-memory test: attaches to the data plane and encapsulates `count` packets on one SA.
import { parentPort, workerData } from "node:worker_threads";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { ipv4Packet } from "./packets.js";

const { handle, sa, count } = workerData as { handle: { memory: WebAssembly.Memory; module: WebAssembly.Module }; sa: number; count: number };
const dp = DataPlane.attach(handle);
const b = dp.batch(64);
const pkt = ipv4Packet({ payloadLen: 100 });
const seqs: number[] = [];
for (let done = 0; done < count; done += 64) {
  b.clear();
  for (let i = 0; i < 64 && done + i < count; i++) b.push(pkt, sa);
  b.encap();
  for (let i = 0; i < b.count; i++) {
    if (b.status(i) !== 0) throw new Error(`status ${b.status(i)}`);
    const o = b.output(i);
    seqs.push(((o[4] << 24) | (o[5] << 16) | (o[6] << 8) | o[7]) >>> 0);
  }
}
parentPort!.postMessage(seqs);
