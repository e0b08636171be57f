// A small strict flag parser: unknown flags and bad values are errors that name the flag.
export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = "UsageError"; }
}

export type FlagSpec = Record<string, { type: "string" | "int" | "bool"; choices?: readonly string[]; min?: number; max?: number }>;

export function parseFlags(argv: string[], spec: FlagSpec): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const [name, inline] = arg.slice(2).split("=", 2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name} (see --help)`);
    if (s.type === "bool") {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (s.type === "int") {
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} expects a whole number, got ${JSON.stringify(value)}`);
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
        throw new UsageError(`--${name} must be between ${s.min} and ${s.max}, got ${n}`);
      }
      out[name] = n;
    } else {
      if (s.choices && !s.choices.includes(value)) throw new UsageError(`--${name} must be one of ${s.choices.join(", ")}, got ${JSON.stringify(value)}`);
      out[name] = value;
    }
  }
  return out;
}
