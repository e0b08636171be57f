// Our IKE engine as a process in a test namespace (./ike-peer.ts), seen from the test: JSON commands with
// replies over stdin, engine events collected from stdout to wait on, its key log and its own log.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { forgetProcessGroup, makeRunDir, OWNER_ENV, registerProcessGroup, waitUntil, type Netns } from "../harness/index.js";
import type { IkeInfo, PeerConfigJson } from "./ike-peer.js";

export type PeerEvent = { event: string; [k: string]: unknown };

export interface ListReply {
  sas: IkeInfo[];
  sadb: number;
  socket: Record<"received" | "ike" | "esp" | "keepalives" | "keepalivesSent" | "unattached" | "sent" | "sendErrors", number>;
  engine: { received: number; sent: number; dropped: Record<string, number> };
}

export interface KeyLogIke { spiI: string; spiR: string; skEi: string; skEr: string; encr: string; skAi: string; skAr: string; integ: string }

/** Spawned like Netns.spawn (own process group, owner mark, registered for cleanup) but with stdin/stdout pipes. */
export class Peer {
  readonly events: PeerEvent[] = [];
  private readonly replies = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited = false;
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly proc: ChildProcess, readonly dir: string, private readonly diagnostics: () => string) {
    this.exit = new Promise((resolve) => proc.once("exit", (code, signal) => {
      this.exited = true;
      forgetProcessGroup(proc.pid!);
      for (const r of this.replies.values()) r.reject(new Error(`ike-peer exited (${code ?? signal})\n${this.logTail()}`));
      this.replies.clear();
      resolve({ code, signal });
    }));
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as Record<string, unknown>;
      if ("reply" in m) {
        const r = this.replies.get(m.reply as number);
        this.replies.delete(m.reply as number);
        if (m.ok) r?.resolve(m);
        else r?.reject(new Error(`ike-peer: ${String(m.error)}`));
      } else this.events.push(m as PeerEvent);
    });
  }

  get keylogPath(): string { return join(this.dir, "keys.txt"); }
  get logPath(): string { return join(this.dir, "ike-peer.log"); }

  /** `diagnostics` adds context (e.g. charon's log tail) to errors while waiting. */
  static async start(ns: Netns, config: Omit<PeerConfigJson, "keylog">, diagnostics: () => string = () => ""): Promise<Peer> {
    const dir = makeRunDir("ike-peer");
    const cfgPath = join(dir, "config.json");
    writeFileSync(cfgPath, JSON.stringify({ ...config, keylog: join(dir, "keys.txt") }));
    const script = new URL("./ike-peer.js", import.meta.url).pathname;
    const fd = openSync(join(dir, "ike-peer.log"), "a");
    let proc: ChildProcess;
    try {
      proc = spawn("ip", ["netns", "exec", ns.name, process.execPath, script, cfgPath], {
        detached: true, stdio: ["pipe", "pipe", fd], env: { ...process.env, [OWNER_ENV]: String(process.pid) },
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) throw new Error("cannot spawn ike-peer");
    registerProcessGroup(proc.pid);
    const peer = new Peer(proc, dir, diagnostics);
    await peer.waitEvent("ike-peer ready", (e) => (e.event === "ready" ? true : undefined), 0, 15_000);
    return peer;
  }

  async cmd(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(`ike-peer has exited\n${this.logTail()}`);
    const id = this.nextId++;
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => this.replies.set(id, { resolve, reject }));
    this.proc.stdin!.write(JSON.stringify({ id, cmd, ...args }) + "\n");
    return reply;
  }

  async list(): Promise<ListReply> { return (await this.cmd("list")) as unknown as ListReply; }

  /** Index of the next event: waitEvent(..., since) looks only at later ones. */
  mark(): number { return this.events.length; }

  waitEvent<T>(what: string, pick: (e: PeerEvent) => T | undefined, since: number, timeoutMs = 10_000): Promise<T> {
    return waitUntil(`${what} (ike-peer)`, timeoutMs, () => {
      for (const e of this.events.slice(since)) {
        const v = pick(e);
        if (v !== undefined) return v;
      }
      if (this.exited) throw new Error(`ike-peer exited while waiting for ${what}\n${this.logTail()}`);
      return undefined;
    }, 20).catch((e: Error) => { throw new Error(`${e.message}\n${this.logTail()}\n${this.diagnostics()}`); });
  }

  /** The ikev2_decryption_table records of our key log. */
  ikeKeyLog(): KeyLogIke[] {
    if (!existsSync(this.keylogPath)) return [];
    const lines = readFileSync(this.keylogPath, "utf8").split("\n");
    return lines.flatMap((l, i) => {
      if (lines[i - 1] !== "# ikev2_decryption_table") return [];
      const [spiI, spiR, skEi, skEr, encr, skAi, skAr, integ] = l.split(",");
      return [{ spiI, spiR, skEi, skEr, encr, skAi, skAr, integ }];
    });
  }

  log(): string { return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : ""; }

  logTail(lines = 25): string {
    return `--- ike-peer log (${this.logPath}):\n${this.log().trimEnd().split("\n").slice(-lines).join("\n")}`;
  }

  /** Closes stdin: the peer must exit by itself (that is what keeps it from outliving a crashed test run). */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.proc.stdin!.end();
    const killer = setTimeout(() => { try { process.kill(-this.proc.pid!, "SIGKILL"); } catch { /* gone */ } }, 5000);
    const status = await this.exit;
    clearTimeout(killer);
    assert.deepEqual(status, { code: 0, signal: null }, `ike-peer did not exit on stdin EOF\n${this.logTail()}`);
  }
}
