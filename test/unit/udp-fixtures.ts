// Shared by the UDP offload tests (udp-gso, udp-gro): a batch that looks processed, so sendBatch() sends it.
import type { DataPlane } from "../../src/dataplane/dataplane.js";
import type { PacketBatch } from "../../src/dataplane/batch.js";

/** A processed batch whose outputs are `packets` (status OK except those in `drop`). */
export function outputs(dp: DataPlane, packets: Uint8Array[], drop: number[] = []): PacketBatch {
  const L = dp.L;
  const b = dp.batch(packets.length);
  const u8 = dp.views.refresh().u8, u32 = dp.views.u32;
  packets.forEach((p, i) => {
    u8.set(p, b.slotOffset(i));
    const d = (b.descOff + i * L.DESC_SIZE) >> 2;
    u32[d + (L.D_STATUS >> 2)] = drop.includes(i) ? L.ST_NEED_CRYPTO : L.ST_OK;
    u32[d + (L.D_OUT_OFF >> 2)] = b.slotOffset(i);
    u32[d + (L.D_OUT_LEN >> 2)] = p.length;
  });
  b.count = packets.length;
  return b;
}
