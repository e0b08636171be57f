// Throughput through the tunnel (needs root): `node dist/bench/tunnel-static.js [--seconds 5] [--backend wasm]`.
// Two static gateways (src/gateway/static.ts, one encap and one decap worker each) between host namespaces
// (test/e2e/gateway-topology.ts); iperf3 from host A to host B across them measures
//   TCP    Mbit/s of one stream
//   UDP    inner IPv4 packets of 64 bytes (36 bytes of payload) sent unthrottled: packets/s the gateways
//          carried (decapsulated at B) and packets/s iperf3's receiver got
// plus, for scale, both over the bare WAN link between the gateway namespaces (kernel only).
// Everything shares the machine's cores: iperf3 at both ends, the kernel, four worker threads (and whatever
// else runs: the load average is printed).
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { BACKEND_NAMES, type BackendName } from "../src/crypto/backend.js";
import { cleanup, installProcessHooks, makeRunDir, type Netns } from "../test/e2e/harness/index.js";
import { createTopology, GatewayProcess, NET, staticConfigs } from "../test/e2e/gateway-topology.js";

interface TcpReport { end: { sum_received: { bits_per_second: number } } }
interface UdpReport { end: { sum: { packets: number; lost_packets: number; seconds: number } } }

async function iperf<T>(client: Netns, server: Netns, address: string, dir: string, args: string[]): Promise<T> {
  const srv = server.spawn(["iperf3", "-s", "-1", "-B", address], { logFile: `${dir}/iperf3-server.log` });
  try {
    await new Promise((r) => setTimeout(r, 300)); // let it listen
    const r = await client.execAsync(["iperf3", "-c", address, "-J", ...args], { timeoutMs: 120_000 });
    return JSON.parse(r.stdout) as T;
  } finally {
    await srv.stop("SIGTERM", 2000);
  }
}

/** TCP Mbit/s, then UDP: offered and received packets/s, and what `carried()` counted meanwhile, per second. */
async function measure(client: Netns, server: Netns, address: string, dir: string, seconds: number, carried?: () => Promise<number>) {
  const t = String(seconds);
  const tcp = await iperf<TcpReport>(client, server, address, dir, ["-t", t]);
  const before = await carried?.();
  const udp = await iperf<UdpReport>(client, server, address, dir, ["-u", "-b", "0", "-l", "36", "-t", t]);
  const after = await carried?.();
  const u = udp.end.sum;
  return {
    mbits: tcp.end.sum_received.bits_per_second / 1e6,
    offered: u.packets / u.seconds,
    received: (u.packets - u.lost_packets) / u.seconds,
    carried: before === undefined || after === undefined ? undefined : (after - before) / u.seconds,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, backend: { type: "string", default: "wasm" } } });
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 1) throw new Error("--seconds must be ≥ 1");
  const backend = values.backend as BackendName;
  if (!BACKEND_NAMES.includes(backend)) throw new Error(`--backend must be one of ${BACKEND_NAMES.join(", ")}`);
  installProcessHooks();
  try {
    const topo = createTopology();
    const dir = makeRunDir("bench-tunnel");
    const conf = staticConfigs(dir);
    conf.a.backend = conf.b.backend = backend;
    const [gwA, gwB] = await Promise.all([
      GatewayProcess.start(topo.gwA, conf.a, dir, "gwa"),
      GatewayProcess.start(topo.gwB, conf.b, dir, "gwb"),
    ]);
    console.log(`tunnel-static: ${seconds} s per run, crypto backend ${backend}, TUN MTU 1400, ESP-in-UDP over veth, ` +
      `load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs`);
    const bare = await measure(topo.gwA, topo.gwB, NET.wanB4, dir, seconds);
    const tun = await measure(topo.hostA, topo.hostB, NET.hostB4, dir, seconds, async () => (await gwB.stats()).workers.decap.decapsulated);
    const k = (pps: number) => `${(pps / 1000).toFixed(0).padStart(5)}k`;
    const row = (name: string, m: typeof bare) => console.log(`${name.padEnd(20)} TCP ${m.mbits.toFixed(0).padStart(6)} Mbit/s   ` +
      `UDP 64 B: offered ${k(m.offered)} pps${m.carried === undefined ? "" : `, carried ${k(m.carried)} pps`}, received ${k(m.received)} pps`);
    row("bare veth (kernel)", bare);
    row("through the tunnel", tun);
    const [a, b] = await Promise.all([gwA.stop(), gwB.stop()]);
    const drops = { ...a.stats.globalDrops, ...b.stats.globalDrops };
    console.log(`gateway A encap: ${a.stats.workers.encap.encapsulated} packets; gateway B decap: ${b.stats.workers.decap.decapsulated}; global drops ${JSON.stringify(drops)}`);
  } finally {
    cleanup();
  }
}

await main();
