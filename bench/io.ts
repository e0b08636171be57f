// Packet I/O throughput probe (needs root): `node dist/bench/io.js [--seconds 2] [--sizes 64,1400]`.
// Two network namespaces joined by a veth pair; a worker thread generates traffic while the main thread
// measures, each phase for --seconds:
//   udp        worker: sendBatch (sendmmsg, 64 per batch) in A → main: recvBatch (recvmmsg) in B
//   tun-read   worker: sendBatch in A to an address routed into the TUN → main: readBatch from the TUN, through
//              io_uring (the default) and through readv() alone; with the reading thread's CPU time per packet
//   tun-write  main: write() of prebuilt IPv4/UDP packets into the TUN (to a socket that is never read)
// Sizes are ESP datagram sizes (UDP payload); TUN packets carry that plus 28 bytes of IPv4/UDP headers.
// Last, three ways of passing koffi a pointer into the shared WASM memory (read() calls/s, scavenges).
import { isMainThread, parentPort, workerData, Worker } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { PerformanceObserver, constants as perf } from "node:perf_hooks";
import { DataPlane, type DataPlaneHandle } from "../src/dataplane/dataplane.js";
import { UdpSocket } from "../src/io/udp.js";
import { Tun } from "../src/io/tun.js";
import { SockAddr } from "../src/io/sockaddr.js";
import { withNetns } from "../src/io/netns.js";
import { Wakeup, type WakeupHandle } from "../src/io/wakeup.js";
import { sys, C, memoryAddress } from "../src/io/libc.js";
import { ipv4Packet } from "../test/helpers/packets.js";
import { Topology, ADDR } from "../test/e2e/io-topology.js";

const BATCH = 64;
const ESP_OVERHEAD = 36; // SPI, sequence, IV (8 each), pad length, next header, ICV (16); inner padded to 4

interface Job { handle: DataPlaneHandle; ns: string; sa: number; size: number; to?: { address: string; port: number }; stop: WakeupHandle }

/** Worker: encapsulate one batch of packets whose ESP datagrams are `size` bytes, then send it until told to stop. */
function sender(job: Job): void {
  const dp = DataPlane.attach(job.handle);
  const sock = withNetns(job.ns, () => UdpSocket.open(dp, { port: 0, sendBuffer: 4 << 20 }));
  const batch = dp.batch(BATCH);
  const inner = job.size - ESP_OVERHEAD;
  for (let i = 0; i < BATCH; i++) batch.push(ipv4Packet({ payloadLen: inner - 28 }), job.sa);
  if (batch.encap() !== BATCH || batch.outLength(0) !== job.size) throw new Error(`encap gave ${batch.outLength(0)} bytes, wanted ${job.size}`);
  const to = job.to ? new SockAddr(job.to.address, job.to.port) : "sa";
  let sent = 0;
  const stop = Wakeup.adopt(job.stop);
  const start = performance.now();
  while (!stop.signaled) sent += sock.sendBatch(batch, to);
  const seconds = (performance.now() - start) / 1000;
  sock.close();
  parentPort!.postMessage(sent / seconds);
}

/** Run `measure` while a worker sends; returns its result and the worker's send rate (packets/s). */
async function withSender<T>(job: Omit<Job, "stop">, measure: () => T): Promise<{ sendRate: number; result: T }> {
  const stop = Wakeup.create();
  const w = new Worker(new URL(import.meta.url), { workerData: { ...job, stop: stop.handle } });
  const sentP = once(w, "message");
  await new Promise((r) => setTimeout(r, 200)); // let it start
  const result = measure();
  stop.signal();
  const [sendRate] = await sentP as [number];
  await w.terminate();
  stop.close();
  return { sendRate, result };
}

/** CPU seconds (user + system) this process's main thread has used: its /proc stat, in clock ticks. */
function mainThreadCpu(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (USER_HZ = 100 on Linux)
}

function pps(n: number, seconds: number): string { return `${(n / seconds / 1000).toFixed(0).padStart(6)}k pps`; }

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "2" }, sizes: { type: "string", default: "64,1400" } } });
  const seconds = Number(values.seconds);
  const sizes = values.sizes.split(",").map(Number);
  for (const s of sizes) if (!Number.isInteger(s) || s < 64 || s > 1400 || (s - ESP_OVERHEAD) % 4 !== 0) {
    throw new Error(`size ${s}: 64..1400 with (size - ${ESP_OVERHEAD}) a multiple of 4 (ESP padding)`);
  }
  const topo = Topology.create();
  const dp = DataPlane.create({ maxSAs: 4 });
  const key = new Uint8Array(16).fill(1), salt = new Uint8Array(4).fill(2);
  const sa = dp.sadb.install({ spi: 0x1234, direction: "out", mode: "tunnel", key, salt, remote: { address: ADDR.b4, port: 4500 } });
  const rxSock = withNetns(topo.b, () => UdpSocket.open(dp, { port: 4500, receiveBuffer: 8 << 20 }));
  const tun = Tun.open(dp, { netns: topo.a, mtu: 1500, addresses: [`${ADDR.tun4}/32`], routes: [ADDR.tunNet4] });
  const plain = Tun.adopt(dp, tun.handle, { uring: false });
  const sink = withNetns(topo.a, () => UdpSocket.open(dp, { address: ADDR.tun4, port: 9 }));
  const batch = dp.batch(BATCH);
  // Scavenges (young-generation GCs: what per-packet allocation would cause) on the measuring thread;
  // entries arrive once the synchronous loop yields.
  let gcs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MINOR) gcs++;
  }).observe({ entryTypes: ["gc"] });
  let gcAtStart = 0;
  const gcsInLoop = async () => { await new Promise((r) => setTimeout(r, 10)); return `${gcs - gcAtStart} scavenges`; };
  const timed = (step: () => number) => {
    gcAtStart = gcs;
    let n = 0;
    const end = performance.now() + seconds * 1000;
    // The clock only every 256 steps: performance.now() returns a boxed double (an allocation).
    for (let k = 1; (k & 255) !== 0 || performance.now() < end; k++) n += step();
    return n;
  };
  console.log(`packet I/O, ${seconds} s per phase, batches of ${BATCH}, ${ADDR.a4} → ${ADDR.b4} over veth`);
  try {
    for (const size of sizes) {
      const udp = await withSender({ handle: dp.handle, ns: topo.a, sa, size }, () => timed(() => rxSock.recvBatch(batch, 100)));
      console.log(`udp        ${String(size).padStart(4)} B  send ${pps(udp.sendRate, 1)}   recv ${pps(udp.result, seconds)}   ${await gcsInLoop()}`);

      for (const [how, reader] of [["io_uring", tun], ["readv", plain]] as const) {
        let cpu = 0;
        const read = await withSender({ handle: dp.handle, ns: topo.a, sa, size, to: { address: ADDR.remote4, port: 9 } }, () => {
          const c0 = mainThreadCpu();
          const n = timed(() => reader.readBatch(batch, 100));
          cpu = mainThreadCpu() - c0;
          return n;
        });
        console.log(`tun-read   ${String(size + 28).padStart(4)} B  send ${pps(read.sendRate, 1)}   read ${pps(read.result, seconds)}  ` +
          `${(cpu / Math.max(1, read.result) * 1e9).toFixed(0).padStart(5)} ns CPU/packet (${how})   ${await gcsInLoop()}`);
      }

      batch.clear();
      for (let i = 0; i < BATCH; i++) batch.push(ipv4Packet({ src: ADDR.remote4, dst: ADDR.tun4, dport: 9, payloadLen: size }));
      const len = size + 28;
      const written = timed(() => { let n = 0; for (let i = 0; i < BATCH; i++) if (tun.write(batch.slotOffset(i), len)) n++; return n; });
      console.log(`tun-write  ${String(len).padStart(4)} B  write ${pps(written, seconds)}   ${await gcsInLoop()}, ${tun.stats.sendErrors} errors`);
    }
    // How to hand koffi an address inside the shared memory: read() 64 bytes of /dev/zero into each of 64 slots.
    const zero = sys.open("/dev/zero", C.O_RDONLY | C.O_CLOEXEC) as number;
    const base = memoryAddress(dp.memory);
    const slot = (i: number) => batch.slotOffset(i);
    const cached = Array.from({ length: BATCH }, (_, i) => BigInt(base + slot(i)));
    const ways: [string, (i: number) => unknown][] = [
      ["BigInt computed once per slot", (i) => cached[i]],
      ["Number base + offset (boxed)", (i) => base + slot(i)],
      ["typed-array subarray view", (i) => dp.views.u8.subarray(slot(i), slot(i) + 64)],
    ];
    for (const [name, arg] of ways) {
      const calls = timed(() => { for (let i = 0; i < BATCH; i++) sys.read(zero, arg(i), 64); return BATCH; });
      console.log(`pointer    ${name.padEnd(30)} ${(calls / seconds / 1e6).toFixed(2)}M read()/s   ${await gcsInLoop()}`);
    }
    sys.close(zero);
  } finally {
    rxSock.close();
    sink.close();
    plain.close();
    tun.close();
    topo.destroy();
  }
}

if (isMainThread) {
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(130)); // runs the namespaces' exit hook
  await main();
}
else sender(workerData as Job);
