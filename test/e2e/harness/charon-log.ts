// Reads IKE and ESP keys back from a charon file log written with `ike = 4`, `chd = 4`, `ike_name = yes`
// (strongSwan 5.9 keymat_v2.c dumps them as `<label> => N bytes @ 0x...` followed by hex lines), so tests can
// decode captures and compare keys with another implementation. Lines look like
//   `06[CHD] <tunnel|1> encryption initiator key => 20 bytes @ 0x7f...`
//   `06[CHD] <tunnel|1>    0: 37 D4 93 72 ...  7..r`
// and the IKE_SA context is `<N>` before a config is chosen (responder during IKE_SA_INIT).

interface Line { thread: string; ikeId?: number; msg: string }

const LINE = /^(?:\S+ )?(\d+)\[(\w+)\] (?:<(?:[^>]*\|)?(\d+)> )?(.*)$/;
const BLOB_HEAD = /^(.+?) => (\d+) bytes @ (?:0x[0-9a-f]+|\(nil\))$/;
const BLOB_ROW = /^\s*\d+: ((?:[0-9A-F]{2} ){1,16})/;

type Event =
  | { kind: "blob"; ikeId?: number; label: string; data: Buffer }
  | { kind: "msg"; ikeId?: number; msg: string };

/** The log as a sequence of messages and completed hex dumps, dumps reassembled per thread. */
function events(log: string): Event[] {
  const out: Event[] = [];
  const pending = new Map<string, { ikeId?: number; label: string; len: number; bytes: number[] }>();
  for (const raw of log.split("\n")) {
    const m = LINE.exec(raw);
    if (!m) continue;
    const line: Line = { thread: m[1], ikeId: m[3] === undefined ? undefined : Number(m[3]), msg: m[4] };
    const p = pending.get(line.thread);
    const row = p && BLOB_ROW.exec(line.msg);
    if (p && row) {
      for (const h of row[1].trim().split(" ")) if (p.bytes.length < p.len) p.bytes.push(parseInt(h, 16));
      if (p.bytes.length === p.len) {
        out.push({ kind: "blob", ikeId: p.ikeId, label: p.label, data: Buffer.from(p.bytes) });
        pending.delete(line.thread);
      }
      continue;
    }
    pending.delete(line.thread);
    const head = BLOB_HEAD.exec(line.msg);
    if (head) {
      const len = Number(head[2]);
      if (len === 0) out.push({ kind: "blob", ikeId: line.ikeId, label: head[1], data: Buffer.alloc(0) });
      else pending.set(line.thread, { ikeId: line.ikeId, label: head[1], len, bytes: [] });
    } else {
      out.push({ kind: "msg", ikeId: line.ikeId, msg: line.msg });
    }
  }
  return out;
}

export interface IkeKeys {
  /** Unique id of the IKE_SA these keys belong to (swanctl's uniqueid). */
  ikeId: number;
  skD: Buffer;
  skAi: Buffer;
  skAr: Buffer;
  skEi: Buffer;
  skEr: Buffer;
  skPi: Buffer;
  skPr: Buffer;
}

const SK = { "Sk_d secret": "skD", "Sk_ai secret": "skAi", "Sk_ar secret": "skAr", "Sk_ei secret": "skEi",
  "Sk_er secret": "skEr", "Sk_pi secret": "skPi", "Sk_pr secret": "skPr" } as const;

/**
 * IKE keys in the order they were derived. Sk_ai/Sk_ar are empty for AEAD proposals (charon does not log them). During an IKE rekey the
 * initiator logs the new SA's keys in the old SA's context and then `IKE_SA name[M] rekeyed`: that moves the
 * latest key set of that context to M (unless M already has its keys, as on the responder, which logs them in
 * the new SA's context).
 */
export function parseIkeKeys(log: string): IkeKeys[] {
  const sets: (Partial<IkeKeys> & { ctx: number })[] = [];
  let current: (Partial<IkeKeys> & { ctx: number }) | undefined;
  for (const e of events(log)) {
    if (e.kind === "blob" && e.label in SK && e.ikeId !== undefined) {
      const field = SK[e.label as keyof typeof SK];
      if (field === "skD") {
        current = { ctx: e.ikeId, ikeId: e.ikeId };
        sets.push(current);
      }
      if (current && current.ctx === e.ikeId) current[field] = e.data;
      if (field === "skPr") current = undefined;
      continue;
    }
    const rekeyed = e.kind === "msg" && /^IKE_SA .*\[(\d+)\] rekeyed between /.exec(e.msg);
    if (rekeyed && e.ikeId !== undefined) {
      const to = Number(rekeyed[1]);
      const last = sets.filter((s) => s.ctx === e.ikeId).pop();
      if (last && !sets.some((s) => s.ikeId === to)) last.ikeId = to;
    }
  }
  const required = ["skD", "skEi", "skEr", "skPi", "skPr"] as const;
  return sets.filter((s) => required.every((f) => s[f] !== undefined))
    .map((s) => ({ ikeId: s.ikeId!, skD: s.skD!, skAi: s.skAi ?? Buffer.alloc(0), skAr: s.skAr ?? Buffer.alloc(0),
      skEi: s.skEi!, skEr: s.skEr!, skPi: s.skPi!, skPr: s.skPr! }));
}

export interface ChildKeys {
  ikeId: number;
  childName: string;
  /** Unique id of the CHILD_SA (swanctl's uniqueid). */
  childId: number;
  /** Whether this charon initiated the exchange that created the CHILD_SA (its keys are the "initiator" keys). */
  initiator: boolean;
  /** SPIs as 8 hex digits. */
  spiIn: string;
  spiOut: string;
  /** Encryption key (for AES-GCM: key followed by the 4-byte salt) and integrity key (empty for AEAD) per direction. */
  encrIn: Buffer;
  encrOut: Buffer;
  integIn: Buffer;
  integOut: Buffer;
}

/** ESP keys of every CHILD_SA established in the log, with their SPIs, in order of establishment. */
export function parseChildKeys(log: string): ChildKeys[] {
  const out: ChildKeys[] = [];
  const initiated = new Set<number>();
  const pending = new Map<number, Record<string, Buffer>>();
  for (const e of events(log)) {
    if (e.ikeId === undefined) continue;
    if (e.kind === "blob") {
      const m = /^(encryption|integrity) (initiator|responder) key$/.exec(e.label);
      if (!m) continue;
      if (m[1] === "encryption" && m[2] === "initiator") pending.set(e.ikeId, {});
      const p = pending.get(e.ikeId);
      if (p) p[`${m[1]}-${m[2]}`] = e.data;
      continue;
    }
    const est = /^establishing CHILD_SA .*\{(\d+)\}/.exec(e.msg);
    if (est) initiated.add(Number(est[1]));
    const done = /^(?:inbound )?CHILD_SA (.*)\{(\d+)\} established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o /.exec(e.msg);
    const p = pending.get(e.ikeId);
    if (done && p) {
      const childId = Number(done[2]);
      const initiator = initiated.has(childId);
      // The initiator's inbound SA carries what the responder sends, i.e. the responder keys (RFC 7296 §2.17).
      const [inRole, outRole] = initiator ? ["responder", "initiator"] : ["initiator", "responder"];
      const empty = Buffer.alloc(0);
      out.push({
        ikeId: e.ikeId, childName: done[1], childId, initiator, spiIn: done[3], spiOut: done[4],
        encrIn: p[`encryption-${inRole}`] ?? empty, encrOut: p[`encryption-${outRole}`] ?? empty,
        integIn: p[`integrity-${inRole}`] ?? empty, integOut: p[`integrity-${outRole}`] ?? empty,
      });
      pending.delete(e.ikeId);
    }
  }
  return out;
}
