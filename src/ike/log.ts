// Logging with strongSwan's subsystems and levels (0 = basic … 4 = raw), to any sink. Key material is
// never logged here: the key log (keylog.ts) is the only place keys are written, and only when asked.
export type Subsystem = "ike" | "chd" | "net" | "cfg" | "enc";
export type LogSink = (line: string) => void;

export class Logger {
  constructor(private readonly sink: LogSink = (l) => process.stderr.write(l + "\n"),
              private readonly levels: Partial<Record<Subsystem, number>> = {}, private readonly defaultLevel = 1) {}

  enabled(sub: Subsystem, level: number): boolean { return level <= (this.levels[sub] ?? this.defaultLevel); }

  log(sub: Subsystem, level: number, msg: string, sa?: { name: string; uniqueId: number }): void {
    if (!this.enabled(sub, level)) return;
    const tag = sa ? `<${sa.name}|${sa.uniqueId}> ` : "";
    for (const line of msg.split("\n")) this.sink(`${new Date().toISOString()} [${sub.toUpperCase()}] ${tag}${line}`);
  }
}

export const silentLogger = new Logger(() => undefined, {}, -1);
