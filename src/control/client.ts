// The CLI side of the control socket: send one command, stream log lines, return the result.
import { createConnection } from "node:net";
import { LineReader, type Command } from "./protocol.js";

export class ControlError extends Error {
  constructor(message: string) { super(message); this.name = "ControlError"; }
}

export function callDaemon(socket: string, command: Command, onLog: (line: string) => void = () => undefined,
                           timeoutMs = 120_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    const timer = setTimeout(() => { c.destroy(); reject(new ControlError(`no answer from the daemon within ${timeoutMs / 1000} s`)); }, timeoutMs);
    let done = false;
    const finish = (f: () => void) => { if (!done) { done = true; clearTimeout(timer); c.end(); f(); } };
    const reader = new LineReader((v) => {
      const m = v as { log?: string; ok?: boolean; result?: unknown; error?: string };
      if (typeof m.log === "string") return onLog(m.log);
      if (m.ok === true) finish(() => resolve(m.result));
      else finish(() => reject(new ControlError(m.error ?? "daemon reported an error")));
    }, (msg) => finish(() => reject(new ControlError(`bad answer from the daemon: ${msg}`))));
    c.setEncoding("utf8");
    c.on("data", (d: string) => reader.push(d));
    c.on("error", (e: NodeJS.ErrnoException) => finish(() => reject(new ControlError(
      e.code === "ENOENT" || e.code === "ECONNREFUSED"
        ? `cannot reach the daemon at ${socket} (${e.code}): is 'wasm-ipsec daemon' running? (--socket PATH to use another socket)`
        : `control socket ${socket}: ${e.message}`))));
    c.on("close", () => finish(() => reject(new ControlError("the daemon closed the connection without an answer"))));
    c.write(JSON.stringify(command) + "\n");
  });
}
