// A data-plane worker thread (started by workers.ts), one role per thread, over the shared WASM memory:
//   encap: TUN → readBatch straight into WASM memory → SPD lookup + ESP or AH, ONE call → sendmmsg to each
//          SA's peer: ESP-in-UDP on the UDP socket, AH on the raw socket of its family
//   decap: recvmmsg straight into WASM memory → ESP + inbound policy, ONE call → TUN
//   ah:    (only with AH SAs configured) recvmmsg on the raw AH sockets → AH + inbound policy, ONE call → TUN
// The loops are synchronous; a blocking wait polls the device and this worker's eventfd, which the main
// thread signals after posting on `port` (read here with receiveMessageOnPort, no event loop needed).
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { DataPlane } from "../dataplane/dataplane.js";
import type { PacketBatch } from "../dataplane/batch.js";
import { DROP_REASONS, type DropReason } from "../dataplane/layout.js";
import { byPolicy, policyOf } from "../dataplane/spd.js";
import { Tun } from "../io/tun.js";
import { UdpSocket } from "../io/udp.js";
import { RawAh } from "../io/raw.js";
import { Wakeup } from "../io/wakeup.js";
import type { SockAddr } from "../io/sockaddr.js";
import type { AhDecapStats, DecapStats, EncapStats, ToMain, ToWorker, WorkerInit } from "./workers.js";

const init = workerData as WorkerInit;
const dp = DataPlane.attach(init.handle, { backend: init.backend });
const L = dp.L;
const DROP_POLICY = DROP_REASONS.indexOf("policy");
const wake = Wakeup.adopt(init.wakeup);
const post = (m: ToMain, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);
const endpoint = (a: SockAddr) => ({ address: a.address, port: a.port });
const tun = Tun.adopt(dp, init.tun, { wakeup: wake });
const udp = UdpSocket.adopt(dp, init.udpFd, {
  wakeup: wake,
  // Only the decap worker receives: IKE behind the non-ESP marker goes to the main thread (a copy, moved).
  onControl: (message, from) => post({ type: "ike", message, from: endpoint(from) }, [message.buffer as ArrayBuffer]),
});
const raw = init.raw ? RawAh.adopt(dp, init.raw, { wakeup: wake }) : undefined;
let running = true;

/** Messages posted since the last look (the main thread signals the eventfd after posting). */
function drainMail(handle: (m: ToWorker) => void): void {
  if (!wake.signaled) return;
  wake.clear(); // before reading: a message posted meanwhile signals again
  for (let m = receiveMessageOnPort(init.port); m; m = receiveMessageOnPort(init.port)) {
    const msg = m.message as ToWorker;
    if (msg.type === "stop") running = false;
    else handle(msg);
  }
}

function encapLoop(): EncapStats {
  const s: EncapStats = {
    read: 0, encapsulated: 0, sent: 0, bypassed: 0, policyDropped: 0, dropped: 0,
    acquires: 0, trapQueued: 0, trapResent: 0, trapDropped: 0, ahSent: 0, tun: tun.stats, udp: udp.stats, raw: raw?.stats,
  };
  const batch = dp.batch(init.batch);
  const retry = dp.batch(init.trapQueue);
  // Packets of TRAP policies waiting for an SA, per policy id: reported once, bounded, dropped on timeout.
  const traps = new Map<number, { packets: Uint8Array[]; since: number }>();

  const trap = (id: number, packet: Uint8Array) => {
    let q = traps.get(id);
    if (!q) {
      q = { packets: [], since: Date.now() };
      traps.set(id, q);
      s.acquires++;
      post({ type: "acquire", policyId: id, packet: packet.slice() });
    }
    if (q.packets.length >= init.trapQueue) { s.trapDropped++; return; }
    q.packets.push(packet.slice());
    s.trapQueued++;
  };

  // One encap call for the whole batch; the statuses say what became of each packet.
  const encapsulate = (b: PacketBatch, resent: boolean) => {
    byPolicy(dp, b);
    b.encap();
    // ESP and the other statuses come first, AH outputs last (PacketBatch.ahStart).
    s.sent += udp.sendBatch(b, "sa", b.ahStart);
    if (raw && b.ahStart < b.count) s.ahSent += raw.sendBatch(b, b.ahStart); // without raw sockets: encapsulated, unsent
    for (let i = 0; i < b.count; i++) {
      const st = b.status(i);
      if (st === L.ST_OK) { s.encapsulated++; if (resent) s.trapResent++; }
      else if (st === L.ST_TRAP) trap(policyOf(dp, b, i), b.output(i));
      // The TUN route is the bypass: traffic meant to pass in the clear is not routed here, so a BYPASS
      // packet has nowhere to go but back into the device it came from. Counted, dropped.
      else if (st === L.ST_BYPASS) s.bypassed++;
      else if (st === DROP_POLICY) s.policyDropped++;
      else s.dropped++;
    }
  };

  const release = (id: number, resend: boolean) => {
    const q = traps.get(id);
    if (!q) return;
    traps.delete(id);
    if (!resend) { s.trapDropped += q.packets.length; return; }
    retry.clear();
    for (const p of q.packets) retry.push(p);
    encapsulate(retry, true);
  };

  while (running) {
    const n = tun.readBatch(batch, traps.size > 0 ? 250 : -1);
    drainMail((m) => {
      if (m.type === "sa-up") release(m.policyId, true);
      else if (m.type === "acquire-failed") release(m.policyId, false);
      else if (m.type === "stats") post({ type: "stats", id: m.id, stats: s });
    });
    if (n > 0) {
      s.read += n;
      encapsulate(batch, false);
    }
    if (traps.size > 0) {
      const now = Date.now();
      for (const [id, q] of traps) if (now - q.since > init.trapTimeoutMs) release(id, false);
    }
  }
  return s;
}

function decapLoop(): DecapStats {
  const s: DecapStats = {
    received: 0, decapsulated: 0, dropped: 0, written: 0, natMappings: 0, tun: tun.stats, udp: udp.stats,
  };
  const batch = dp.batch(init.batch);
  // Last sender reported per UDP-encapsulated SA whose peer's NAT mapping moved (reported once per move).
  const moved = new Map<number, string>();

  const checkSender = (i: number) => {
    const sa = batch.sa(i);
    if ((dp.views.u32[(dp.saAddress(sa) + L.SA_FLAGS) >> 2] & L.SAF_UDP_ENCAP) === 0) return;
    if (udp.senderMatches(batch, i, sa)) { if (moved.size > 0) moved.delete(sa); return; }
    const from = udp.sender(batch, i);
    if (moved.get(sa) === from.toString()) return;
    moved.set(sa, from.toString());
    s.natMappings++;
    post({ type: "nat-mapping", sa, from: endpoint(from) });
  };

  while (running) {
    const n = udp.recvBatch(batch, -1);
    drainMail((m) => { if (m.type === "stats") post({ type: "stats", id: m.id, stats: s }); });
    if (n === 0) continue;
    s.received += n;
    batch.decap();
    let lastSource = -1, lastSa = -1; // one check per SA and received message (a GRO message holds many)
    for (let i = 0; i < n; i++) {
      // Authenticated packets only: an unverified source address proves nothing (RFC 7296 §2.23).
      if (batch.status(i) !== L.ST_OK) { s.dropped++; continue; }
      s.decapsulated++;
      const source = udp.sourceOf(batch, i), sa = batch.sa(i);
      if (source === lastSource && sa === lastSa) continue;
      lastSource = source;
      lastSa = sa;
      checkSender(i);
    }
    s.written += tun.writeBatch(batch);
  }
  return s;
}

function ahDecapLoop(): AhDecapStats {
  const byReason = new Array<number>(DROP_REASONS.length).fill(0);
  const s: AhDecapStats = { received: 0, decapsulated: 0, dropped: 0, drops: {}, written: 0, tun: tun.stats, raw: raw!.stats };
  const batch = dp.batch(init.batch);
  const snapshot = () => {
    s.drops = Object.fromEntries(DROP_REASONS.slice(1).map((r, i) => [r, byReason[i + 1]]).filter(([, v]) => v !== 0)) as
      Partial<Record<DropReason, number>>;
    return s;
  };
  while (running) {
    const n = raw!.recvBatch(batch, -1);
    drainMail((m) => { if (m.type === "stats") post({ type: "stats", id: m.id, stats: snapshot() }); });
    if (n === 0) continue;
    s.received += n;
    batch.ahDecap();
    for (let i = 0; i < n; i++) {
      const st = batch.status(i);
      if (st === L.ST_OK) s.decapsulated++;
      else { s.dropped++; byReason[st]++; } // AH decapsulation returns drop reasons only
    }
    s.written += tun.writeBatch(batch);
  }
  return snapshot();
}

post({ type: "ready" });
const stats = init.role === "encap" ? encapLoop() : init.role === "decap" ? decapLoop() : ahDecapLoop();
tun.close(); // adopted: frees this thread's rings, the descriptors stay with the main thread
udp.close();
raw?.close();
post({ type: "stopped", stats });
init.port.close();
