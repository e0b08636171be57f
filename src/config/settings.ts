// strongSwan's settings syntax (strongswan.conf(5), also used by swanctl.conf), reimplemented from
// src/libstrongswan/settings/settings_lexer.l, settings_parser.y, settings_types.c and settings.c:
//
//   name { ... }            section; a repeated name extends the earlier section
//   name : a, b.c { ... }   section inheriting from the sections at absolute paths a and b.c
//   key = value             value runs to the end of the line, '#' or '}'; parts separated by blanks are
//                           joined with one space; "quoted strings" take \n \r \t \<newline> \X escapes
//                           and may span lines; `key =` with no value clears the key (hides inherited ones)
//   # comment
//   include pattern         glob(3) pattern relative to the including file; "quoted" or \-escaped blanks
//
// Names may hold any character except . , : { } = " # and blanks. A repeated key replaces the value but keeps
// its first place. Every key, section and reference records where it was written (file:line:column).
// Deviations, all towards reporting mistakes: a literal include path that cannot be read, an include without
// a pattern and include nesting deeper than MAX_INCLUDE_DEPTH are errors (strongSwan skips or loops), and
// files must be UTF-8. A syntax error stops parsing (as in strongSwan): it is the only issue reported.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";

export interface Position {
  file: string;
  line: number;   // 1-based
  column: number; // 1-based, in UTF-16 code units
}

/** One problem in a configuration; `line` is absent for problems with a whole file. */
export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

export const formatIssue = (i: ConfigIssue): string =>
  `${i.file}${i.line === undefined ? "" : `:${i.line}:${i.column}`}: ${i.message}`;

/** Every problem found in a configuration, one per line of the message as file:line:column: text. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export const issueAt = (pos: Position, message: string): ConfigIssue => ({ ...pos, message });

export interface SettingsKey {
  name: string;
  section: string;      // path of the section it is written in
  value: string | null; // null: `key =` without a value
  position: Position;   // of the last assignment
}

export interface SettingsReference {
  name: string;         // absolute dotted path
  position: Position;
}

export interface SettingsSection {
  name: string;
  path: string;         // dotted from the root ("" for the root)
  position: Position;   // of the first opening
  keys: Map<string, SettingsKey>;
  sections: Map<string, SettingsSection>;
  references: SettingsReference[];
}

/** File access for includes; replaceable for tests and in-memory configurations. */
export interface SettingsFs {
  /** The text of a file; throws an Error (with `code` like ENOENT) when it cannot be read. */
  read(path: string): string;
  /** The regular files matching a glob(3) pattern, sorted; a pattern without wildcards is returned as is. */
  glob(pattern: string): string[];
}

export interface ParseOptions {
  fs?: SettingsFs;
}

/** Included files may include others, up to this depth (strongSwan has no limit, so a cycle never ends). */
export const MAX_INCLUDE_DEPTH = 32;
/** And at most this many files in all: a file including itself twice would otherwise take 2^32 reads. */
export const MAX_INCLUDED_FILES = 1024;

/** Thrown inside the parser and turned into ConfigError at its edge; no Error, so no stack is captured. */
class SyntaxFailure {
  constructor(readonly issue: ConfigIssue) {}
}

// ------------------------------------------------------------------------------------------------ lexer

type TokenType = "name" | "string" | "newline" | "{" | "}" | "." | "," | ":" | "=" | "eof";
interface Token { type: TokenType; text: string; pos: Position }

const NAME_STOP = new Set([..."#{}:.,=\"\r\n\t "]);
const VALUE_STOP = new Set([..."#}\"\r\n\t "]);
const INCLUDE_STOP = new Set([..."\"\\#}\r\n\t "]);

class Source {
  i = 0;
  line = 1;
  column = 1;
  constructor(readonly text: string, readonly file: string, readonly depth: number) {}
  get pos(): Position { return { file: this.file, line: this.line, column: this.column }; }
  peek(k = 0): string | undefined { return this.text[this.i + k]; }
  advance(n = 1): string {
    const s = this.text.slice(this.i, this.i + n);
    for (const c of s) {
      if (c === "\n") { this.line++; this.column = 1; } else this.column += c.length;
    }
    this.i += s.length;
    return s;
  }
  /** Advances over characters not in `stop` and returns them. */
  run(stop: Set<string>): string {
    let j = this.i;
    while (j < this.text.length && !stop.has(this.text[j])) j++;
    return this.advance(j - this.i);
  }
  skipComment(): void {
    while (this.i < this.text.length && this.text[this.i] !== "\n") this.advance();
  }
}

class Lexer {
  private readonly sources: Source[];
  private state: "initial" | "ref" | "val" = "initial";
  private included = 0;
  private lastEnd: Position; // where the main file ended, for "unexpected end of file"

  constructor(text: string, file: string, private readonly fs: SettingsFs) {
    this.sources = [new Source(text, file, 0)];
    this.lastEnd = { file, line: 1, column: 1 };
  }

  next(): Token {
    for (;;) {
      const src = this.sources[this.sources.length - 1];
      if (!src) return { type: "eof", text: "", pos: this.lastEnd };
      const token = this.state === "val" ? this.value(src) : this.state === "ref" ? this.reference(src) : this.initial(src);
      if (token) return token;
    }
  }

  private fail(pos: Position, message: string): never { throw new SyntaxFailure(issueAt(pos, message)); }

  /** INITIAL: names, punctuation, comments, include. Returns undefined when it switched input. */
  private initial(src: Source): Token | undefined {
    for (;;) {
      const c = src.peek();
      if (c === undefined) {
        this.lastEnd = src.pos;
        this.sources.pop();
        return undefined;
      }
      if (c === " " || c === "\t" || c === "\r" || c === "\n") { src.advance(); continue; }
      if (c === "#") { src.skipComment(); continue; }
      const pos = src.pos;
      switch (c) {
        case "{": case "}": case ".": case ",":
          src.advance();
          return { type: c, text: c, pos };
        case ":":
          src.advance();
          this.state = "ref";
          return { type: ":", text: c, pos };
        case "=":
          src.advance();
          this.state = "val";
          return { type: "=", text: c, pos };
        case "\"":
          this.fail(pos, "unexpected '\"': quoted strings are only allowed in values");
      }
      const blanks = this.includeBlanks(src);
      if (blanks > 0) {
        src.advance(7 + blanks);
        this.include(src, pos);
        return undefined;
      }
      return { type: "name", text: src.run(NAME_STOP), pos };
    }
  }

  /**
   * How many blanks after "include" flex's rule `"include"[\t ]+/[^=]` consumes here (0: not an include).
   * The trailing context needs one more character that is not '=', so "include = x" is a key named include.
   */
  private includeBlanks(src: Source): number {
    if (!src.text.startsWith("include", src.i)) return 0;
    let n = 0;
    while (src.peek(7 + n) === " " || src.peek(7 + n) === "\t") n++;
    if (n === 0) return 0;
    const after = src.peek(7 + n);
    if (after !== undefined && after !== "=") return n;
    return n >= 2 ? n - 1 : 0;
  }

  /** After ':': comma-separated references (names joined by dots); anything else returns to INITIAL. */
  private reference(src: Source): Token | undefined {
    for (;;) {
      const c = src.peek();
      if (c === undefined) return { type: "eof", text: "", pos: src.pos }; // flex has no EOF rule here
      if (c === " " || c === "\t" || c === "\r" || c === "\n") { src.advance(); continue; }
      if (c === "#") { src.skipComment(); continue; }
      const pos = src.pos;
      if (c === ",") { src.advance(); return { type: ",", text: c, pos }; }
      if (NAME_STOP.has(c)) { this.state = "initial"; return undefined; }
      let text = src.run(NAME_STOP);
      while (src.peek() === "." && src.peek(1) !== undefined && !NAME_STOP.has(src.peek(1)!)) {
        text += src.advance() + src.run(NAME_STOP);
      }
      return { type: "name", text, pos };
    }
  }

  /** After '=': value parts up to the end of the line, '#' or '}' (which stay for INITIAL). */
  private value(src: Source): Token {
    for (;;) {
      const c = src.peek();
      const pos = src.pos;
      if (c === undefined || c === "\n" || c === "#" || c === "}") {
        this.state = "initial";
        return { type: "newline", text: "", pos };
      }
      if (c === " " || c === "\t" || c === "\r") { src.advance(); continue; }
      if (c === "\"") {
        src.advance();
        return { type: "string", text: this.quoted(src, pos), pos };
      }
      return { type: "name", text: src.run(VALUE_STOP), pos };
    }
  }

  /** The body of a quoted string, the opening quote consumed; strings cannot continue into another file. */
  private quoted(src: Source, start: Position): string {
    let out = "";
    for (;;) {
      const c = src.peek();
      if (c === undefined) this.fail(start, "unterminated string (missing closing '\"')");
      if (c === "\"") { src.advance(); return out; }
      if (c === "\r") { src.advance(); continue; }
      if (c !== "\\") {
        let j = src.i;
        while (j < src.text.length && src.text[j] !== "\\" && src.text[j] !== "\r" && src.text[j] !== "\"") j++;
        out += src.advance(j - src.i);
        continue;
      }
      const e = src.peek(1);
      if (e === undefined) this.fail(start, "unterminated string (missing closing '\"')");
      if (e === "\n") { src.advance(2); continue; }
      if (e === "\r" && src.peek(2) === "\n") { src.advance(3); continue; }
      src.advance(2);
      out += e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e;
    }
  }

  /** `include` seen (and its blanks consumed): read the pattern and put the matching files on the stack. */
  private include(src: Source, at: Position): void {
    let pattern = "";
    for (;;) {
      const c = src.peek();
      if (c === "\r") { src.advance(); continue; }
      if (c === "\"") {
        const start = src.pos;
        src.advance();
        pattern += this.quoted(src, start);
        break; // a quoted pattern ends the include statement (flex pops back to INITIAL)
      }
      if (c === "\\") {
        const e = src.peek(1);
        if (e === "\"" || e === "#" || e === "}" || e === " ") { pattern += e; src.advance(2); } else pattern += src.advance();
        continue;
      }
      if (c === undefined || INCLUDE_STOP.has(c)) {
        if (c === "\t" || c === " ") src.advance();
        break;
      }
      pattern += src.run(INCLUDE_STOP);
    }
    if (pattern === "") this.fail(at, "include without a file pattern");
    if (src.depth >= MAX_INCLUDE_DEPTH) {
      this.fail(at, `includes nested deeper than ${MAX_INCLUDE_DEPTH} levels (does a file include itself?)`);
    }
    const full = isAbsolute(pattern) ? pattern : join(dirname(src.file), pattern);
    let files: string[];
    try {
      files = this.fs.glob(full);
    } catch (e) {
      this.fail(at, `cannot expand include pattern '${full}': ${describeFsError(e)}`);
    }
    this.included += files.length;
    if (this.included > MAX_INCLUDED_FILES) {
      this.fail(at, `more than ${MAX_INCLUDED_FILES} files included (does a file include itself?)`);
    }
    const loaded = files.map((file) => {
      try {
        return new Source(this.fs.read(file), file, src.depth + 1);
      } catch (e) {
        this.fail(at, `cannot read included file '${file}': ${describeFsError(e)}`);
      }
    });
    // The first file is read first (with its own includes), then the next, then the rest of this one.
    for (const s of loaded.reverse()) this.sources.push(s);
  }
}

const FS_ERRORS: Record<string, string> = {
  ENOENT: "no such file or directory", EACCES: "permission denied", EISDIR: "is a directory",
  ENOTDIR: "a path component is not a directory", ELOOP: "too many symbolic links",
};

function describeFsError(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && Object.hasOwn(FS_ERRORS, code)) return FS_ERRORS[code];
  return e instanceof Error ? e.message : String(e);
}

// ----------------------------------------------------------------------------------------------- parser

function newSection(name: string, parent: SettingsSection | undefined, position: Position): SettingsSection {
  const path = parent && parent.path !== "" ? `${parent.path}.${name}` : name;
  return { name, path, position, keys: new Map(), sections: new Map(), references: [] };
}

const describeToken = (t: Token): string =>
  t.type === "eof" ? "end of file" : t.type === "newline" ? "end of line" : t.type === "name" ? `'${t.text}'` : `'${t.type}'`;

function parse(lexer: Lexer, file: string): SettingsSection {
  const root = newSection("", undefined, { file, line: 1, column: 1 });
  const stack = [root];
  const fail = (pos: Position, message: string): never => { throw new SyntaxFailure(issueAt(pos, message)); };
  for (;;) {
    const t = lexer.next();
    const top = stack[stack.length - 1];
    if (t.type === "eof") {
      if (stack.length > 1) fail(top.position, `section '${top.name}' is not closed (missing '}')`);
      return root;
    }
    if (t.type === "}") {
      if (stack.length === 1) fail(t.pos, "unexpected '}': no section is open");
      stack.pop();
      continue;
    }
    if (t.type !== "name") fail(t.pos, `unexpected ${describeToken(t)} (expected a key or section name)`);
    const after = lexer.next();
    if (after.type === "=") {
      const parts: string[] = [];
      for (let p = lexer.next(); p.type !== "newline"; p = lexer.next()) parts.push(p.text);
      top.keys.set(t.text, { name: t.text, section: top.path, value: parts.length ? parts.join(" ") : null, position: t.pos });
      continue;
    }
    const refs: SettingsReference[] = [];
    if (after.type === ":") {
      for (;;) {
        const r = lexer.next();
        if (r.type !== "name") fail(r.pos, `unexpected ${describeToken(r)} (expected the name of a section to reference)`);
        refs.push({ name: r.text, position: r.pos });
        const n = lexer.next();
        if (n.type === "{") break;
        if (n.type !== ",") fail(n.pos, `unexpected ${describeToken(n)} after reference '${r.text}' (expected ',' or '{')`);
      }
    } else if (after.type !== "{") {
      const hint = after.type === "." ? "; names cannot contain '.', nest sections instead" : "";
      fail(after.pos, `unexpected ${describeToken(after)} after '${t.text}' (expected '=', '{' or ':'${hint})`);
    }
    let section = top.sections.get(t.text);
    if (!section) {
      section = newSection(t.text, top, t.pos);
      top.sections.set(t.text, section);
    }
    for (const r of refs) if (!section.references.some((x) => x.name === r.name)) section.references.push(r);
    stack.push(section);
  }
}

/** Parses settings text; `file` names it in positions and anchors relative includes. Throws ConfigError. */
export function parseSettings(text: string, file = "<string>", opts: ParseOptions = {}): SettingsSection {
  try {
    return parse(new Lexer(text, file, opts.fs ?? nodeFs), file);
  } catch (e) {
    if (e instanceof SyntaxFailure) throw new ConfigError([e.issue]);
    throw e;
  }
}

/** Reads and parses a settings file (and what it includes). Throws ConfigError. */
export function loadSettings(path: string, opts: ParseOptions = {}): SettingsSection {
  const fs = opts.fs ?? nodeFs;
  let text: string;
  try {
    text = fs.read(path);
  } catch (e) {
    throw new ConfigError([{ file: path, message: `cannot read: ${describeFsError(e)}` }]);
  }
  return parseSettings(text, path, { fs });
}

// ------------------------------------------------------------------------------------ resolved views

/**
 * A section as strongSwan's settings_t sees it (settings.c find_sections): the sections at `path` followed
 * by everything they reference, and sections of that name below the references of the parent sections.
 */
export class SettingsView {
  constructor(readonly root: SettingsSection, readonly path: readonly string[], readonly sections: readonly SettingsSection[]) {}

  /** Keys in order, own before inherited; a key assigned without a value hides inherited ones and is skipped. */
  keys(): SettingsKey[] {
    const seen = new Set<string>(), out: SettingsKey[] = [];
    for (const s of this.sections) {
      for (const k of s.keys.values()) {
        if (seen.has(k.name)) continue;
        seen.add(k.name);
        if (k.value !== null) out.push(k);
      }
    }
    return out;
  }

  get(name: string): SettingsKey | undefined {
    for (const s of this.sections) {
      const k = s.keys.get(name);
      if (k) return k.value === null ? undefined : k;
    }
    return undefined;
  }

  /** Names of the subsections, own before inherited. */
  sectionNames(): string[] {
    return [...new Set(this.sections.flatMap((s) => [...s.sections.keys()]))];
  }

  child(name: string): SettingsView { return view(this.root, [...this.path, name]); }

  /** Where this section is written: its first own section, else the root. */
  get position(): Position { return (this.sections[0] ?? this.root).position; }
}

/** Bounds on reference resolution: chains and cycles are legal, but lookups must stay small and shallow. */
const MAX_REFERENCE_STEPS = 100_000;
const MAX_REFERENCE_DEPTH = 200;

export function view(root: SettingsSection, path: readonly string[]): SettingsView {
  let steps = 0;
  function find(section: SettingsSection, segs: readonly string[], ignoreRefs: boolean, out: SettingsSection[], depth: number): void {
    if (++steps > MAX_REFERENCE_STEPS || depth > MAX_REFERENCE_DEPTH) {
      throw new ConfigError([issueAt(section.position, "section references are nested too deeply to resolve")]);
    }
    const resolve = (ref: SettingsReference, into: SettingsSection[]) => find(root, ref.name.split("."), false, into, depth + 1);
    const [name, ...rest] = segs;
    const found = section.sections.get(name);
    if (found) {
      if (rest.length) find(found, rest, false, out, depth + 1);
      else if (!out.includes(found)) {
        out.push(found);
        for (const ref of found.references) resolve(ref, out);
      }
    }
    if (!ignoreRefs) {
      for (const ref of section.references) {
        const referenced: SettingsSection[] = [];
        resolve(ref, referenced);
        for (const r of referenced) find(r, segs, true, out, depth + 1);
      }
    }
  }
  const out: SettingsSection[] = [];
  if (path.length === 0) out.push(root);
  else find(root, path, false, out, 0);
  return new SettingsView(root, path, out);
}

// ------------------------------------------------------------------------------------------ node fs

/** UTF-8 text of a file; an invalid byte sequence is reported with its line. */
function readUtf8(path: string): string {
  const bytes = readFileSync(path);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, bad).filter((b) => b === 0x0a).length + 1;
    throw new Error(`line ${line}: not valid UTF-8 text (byte 0x${bytes[bad].toString(16).padStart(2, "0")})`);
  }
}

function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const x = b[i];
    const n = x < 0x80 ? 0 : x >= 0xc2 && x < 0xe0 ? 1 : x >= 0xe0 && x < 0xf0 ? 2 : x >= 0xf0 && x < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return b.length - 1; // overlong or surrogate forms: TextDecoder knows better; point at the end
}

const MAGIC = /(^|[^\\])[*?[]/;

/** glob(3) for one path segment: * ? [..] [!..], backslash escapes; a leading dot must be matched literally. */
function segmentRegExp(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === "\\" && i + 1 < seg.length) re += escapeRe(seg[++i]);
    else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[" && seg.indexOf("]", i + 2) > 0) {
      const end = seg.indexOf("]", i + 2);
      let body = seg.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, "s");
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
const unescapeGlob = (s: string) => s.replace(/\\(.)/gs, "$1");

function nodeGlob(pattern: string): string[] {
  if (!MAGIC.test(pattern)) return [unescapeGlob(pattern)];
  const absolute = pattern.startsWith("/");
  let bases = [absolute ? "/" : ""];
  const segs = pattern.split("/").filter((s) => s !== "");
  segs.forEach((seg, idx) => {
    const last = idx === segs.length - 1;
    const next: string[] = [];
    for (const base of bases) {
      if (!MAGIC.test(seg)) { next.push(join(base, unescapeGlob(seg))); continue; }
      let entries: string[];
      try { entries = readdirSync(base === "" ? "." : base); } catch { continue; }
      const re = segmentRegExp(seg);
      for (const e of entries) {
        if (e.startsWith(".") && !seg.startsWith(".")) continue;
        if (re.test(e)) next.push(join(base, e));
      }
    }
    bases = next.filter((p) => {
      try { return last ? statSync(p).isFile() : statSync(p).isDirectory(); } catch { return false; }
    });
  });
  return bases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export const nodeFs: SettingsFs = { read: readUtf8, glob: nodeGlob };
