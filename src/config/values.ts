// Value syntax of swanctl.conf as charon's vici plugin parses it (src/libcharon/plugins/vici/vici_config.c):
// numbers are strtoul(…, 0) (decimal, 0x hex, leading-0 octal), times take s/m/h/d, volumes k/m/g (powers
// of 1024), lists are comma separated (swanctl's enumerator_create_token(value, ",", " ")), secrets are text,
// 0x hex or 0s base64 (swanctl load_creds.c). Stricter than strongSwan where it would read garbage as 0:
// an empty number, a sign, trailing text or an out-of-range value is an error.

/** The value is malformed; the message says what was expected. */
export class ValueError extends Error {}

/** The value is valid strongSwan syntax, but asks for something wasm-ipsec does not implement. */
export class UnsupportedError extends Error {}

/** strtoul(text, &end, 0) without its leniency: the number and the text after it, or undefined. */
function strtoul(text: string): { n: bigint; rest: string } | undefined {
  const m = /^0[xX]([0-9a-fA-F]+)/.exec(text) ?? /^0([0-7]*)/.exec(text) ?? /^[1-9][0-9]*/.exec(text);
  if (!m) return undefined;
  const n = m[0][0] !== "0" ? BigInt(m[0]) : m[0].length === 1 ? 0n : BigInt(m[0][1] === "x" || m[0][1] === "X" ? m[0] : `0o${m[1]}`);
  return { n, rest: text.slice(m[0].length) };
}

/** An unsigned integer up to `max`, or undefined. */
export function parseUint(text: string, max = 0xffff_ffff): number | undefined {
  const r = strtoul(text);
  return r && r.rest === "" && r.n <= BigInt(max) ? Number(r.n) : undefined;
}

const BOOLS = new Map(Object.entries({ yes: true, true: true, enabled: true, 1: true, no: false, false: false, disabled: false, 0: false }));

export function parseBool(text: string): boolean | undefined {
  return BOOLS.get(text.toLowerCase());
}

const TIME_UNITS = new Map(Object.entries({ "": 1, s: 1, m: 60, h: 3600, d: 86400 }));
const SIZE_UNITS = new Map(Object.entries({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }));

function scaled(text: string, units: Map<string, number>, max: number): number | undefined {
  const r = strtoul(text);
  const factor = r && units.get(r.rest.replace(/^ +/, "").toLowerCase());
  if (!r || factor === undefined) return undefined;
  const v = r.n * BigInt(factor);
  return v <= BigInt(max) ? Number(v) : undefined;
}

/** Seconds, from 90, 90s, 30m, 4h, 2d (a blank may separate number and unit). */
export function parseDuration(text: string): number | undefined {
  return scaled(text, TIME_UNITS, 0xffff_ffff);
}

/** Bytes, from 500000, 500k, 500M, 2g (binary multiples). */
export function parseBytes(text: string): number | undefined {
  return scaled(text, SIZE_UNITS, Number.MAX_SAFE_INTEGER);
}

/** A packet count (no units). */
export function parseCount(text: string): number | undefined {
  return parseUint(text, Number.MAX_SAFE_INTEGER);
}

/**
 * The items of a comma-separated list: blanks around items are trimmed, empty items skipped, and an item
 * opening with ' or " runs to the matching quote (enumerator.c enumerate_token_enum).
 */
export function listItems(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === " " || text[i] === ",")) i++;
    if (i >= text.length) break;
    const q = text[i];
    if ((q === "\"" || q === "'") && text.indexOf(q, i + 1) > 0) {
      const end = text.indexOf(q, i + 1);
      out.push(text.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    const comma = text.indexOf(",", i);
    const end = comma < 0 ? text.length : comma;
    out.push(text.slice(i, end).replace(/ +$/, ""));
    i = end + 1;
  }
  return out;
}

/** A shared secret: text as UTF-8, or 0x hex (':' separators allowed, odd length padded at the front), or 0s base64. */
export function parseSecret(text: string): Uint8Array {
  const prefix = text.slice(0, 2).toLowerCase();
  let bytes: Uint8Array;
  if (prefix === "0x") {
    let hex = text.slice(2).replaceAll(":", "");
    if (!/^[0-9a-fA-F]+$/.test(hex)) throw new ValueError("expected hex digits after 0x");
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Uint8Array.from(Buffer.from(hex, "hex"));
  } else if (prefix === "0s") {
    const b64 = text.slice(2);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new ValueError("expected base64 after 0s (A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters)");
    }
    bytes = Uint8Array.from(Buffer.from(b64, "base64"));
  } else {
    bytes = new TextEncoder().encode(text);
  }
  if (bytes.length === 0) throw new ValueError("the secret is empty");
  return bytes;
}

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase(); b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to a misspelt word (at most 2 edits, and fewer than half its length), if any. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined, bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD && d <= 2 && d * 2 < Math.max(word.length, c.length)) { best = c; bestD = d; }
  }
  return best;
}

export const didYouMean = (word: string, candidates: Iterable<string>): string => {
  const s = suggest(word, candidates);
  return s ? ` (did you mean '${s}'?)` : "";
};
