// The daemon side of the control socket: one JSON command per connection line, answered with log
// lines and a result. Malformed input gets an error answer, never a crash.
import { createServer, createConnection, type Server, type Socket } from "node:net";
import { unlinkSync, existsSync, chmodSync } from "node:fs";
import { LineReader, parseCommand, type Command } from "./protocol.js";

export type Handler = (cmd: Command, log: (line: string) => void) => Promise<unknown>;

export class ControlServer {
  private server?: Server;
  private readonly clients = new Set<Socket>();
  constructor(readonly path: string, private readonly handler: Handler) {}

  async listen(): Promise<void> {
    // A stale socket from a crashed daemon is removed; a live one makes listen fail with EADDRINUSE.
    if (existsSync(this.path)) {
      const live = await new Promise<boolean>((resolve) => {
        const probe = createConnection(this.path);
        probe.on("connect", () => { probe.destroy(); resolve(true); });
        probe.on("error", () => resolve(false));
      });
      if (live) throw new Error(`another daemon is listening on ${this.path}`);
      unlinkSync(this.path);
    }
    this.server = createServer((c) => this.serve(c));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600); // control is root's business
  }

  private serve(c: Socket): void {
    this.clients.add(c);
    c.setEncoding("utf8");
    const send = (v: unknown) => { if (!c.destroyed) c.write(JSON.stringify(v) + "\n"); };
    let busy = false;
    const reader = new LineReader((v) => {
      if (busy) return send({ ok: false, error: "one command per connection at a time" });
      const cmd = parseCommand(v);
      if (typeof cmd === "string") return send({ ok: false, error: cmd });
      busy = true;
      this.handler(cmd, (line) => send({ log: line }))
        .then((result) => send({ ok: true, result: result ?? null }), (e: Error) => send({ ok: false, error: e.message }))
        .finally(() => { busy = false; });
    }, (msg) => send({ ok: false, error: msg }));
    c.on("data", (d: string) => reader.push(d));
    c.on("error", () => undefined);
    c.on("close", () => this.clients.delete(c));
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    try { unlinkSync(this.path); } catch { /* already gone */ }
  }
}
