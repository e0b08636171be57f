// Worker for the SPD concurrency tests: encapsulates batches of one flow through the SPD (SA_BY_POLICY)
// until told to stop, tallying every packet's status and SA. shared[0]: stop flag, shared[1]: batches done.
import { parentPort, workerData } from "node:worker_threads";
import { DataPlane, type DataPlaneHandle } from "../../src/dataplane/dataplane.js";
import { byPolicy } from "../../src/dataplane/spd.js";
import { ipv4Packet } from "./packets.js";

const { handle, shared } = workerData as { handle: DataPlaneHandle; shared: Int32Array };
const dp = DataPlane.attach(handle);
const batch = dp.batch(64);
const pkt = ipv4Packet({ src: "10.1.0.1", dst: "10.2.0.1", payloadLen: 64 });
const statuses: Record<number, number> = {};
const sas: Record<number, number> = {};
while (Atomics.load(shared, 0) === 0) {
  batch.clear();
  for (let i = 0; i < 64; i++) batch.push(pkt);
  byPolicy(dp, batch);
  batch.encap();
  for (let i = 0; i < batch.count; i++) {
    const st = batch.status(i);
    statuses[st] = (statuses[st] ?? 0) + 1;
    if (st === dp.L.ST_OK) sas[batch.sa(i)] = (sas[batch.sa(i)] ?? 0) + 1;
  }
  Atomics.add(shared, 1, 1);
}
parentPort!.postMessage({ statuses, sas });
