// Byte helpers shared by the IKE crypto modules.

/** Concatenate into one plain Uint8Array (never aliasing node's Buffer pool). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
