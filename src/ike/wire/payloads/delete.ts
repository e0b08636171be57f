// Delete payload (RFC 7296 §3.11): an IKE SA delete carries no SPI; AH/ESP deletes carry 4-byte SPIs.
import { PayloadType, ProtocolId } from "../constants.js";
import { ensure, Reader, Writer } from "../bytes.js";
import { WireError } from "../errors.js";

export interface DeletePayload {
  type: typeof PayloadType.DELETE;
  protocol: number;
  /** AH/ESP SPIs as unsigned 32-bit integers; empty for IKE. */
  spis: number[];
}

const CHILD_SPI_SIZE = 4;

function spiSizeFor(protocol: number): number | undefined {
  if (protocol === ProtocolId.IKE) return 0;
  if (protocol === ProtocolId.AH || protocol === ProtocolId.ESP) return CHILD_SPI_SIZE;
  return undefined;
}

export function decodeDelete(r: Reader): DeletePayload {
  const protocol = r.u8("protocol ID");
  const spiSize = r.u8("SPI size");
  const count = r.u16("number of SPIs");
  const expected = spiSizeFor(protocol);
  if (expected === undefined) throw new WireError("BAD_PROTOCOL", `delete for protocol ${protocol}`);
  if (spiSize !== expected) throw new WireError("BAD_SPI_SIZE", `delete SPI size ${spiSize} for protocol ${protocol}`);
  if (protocol === ProtocolId.IKE && count !== 0) throw new WireError("BAD_COUNT", `IKE delete with ${count} SPIs`);
  if (r.remaining !== count * spiSize) {
    throw new WireError("BAD_COUNT", `${count} SPIs of ${spiSize} bytes in ${r.remaining} bytes`);
  }
  const spis: number[] = [];
  for (let i = 0; i < count; i++) spis.push(r.u32("SPI"));
  return { type: PayloadType.DELETE, protocol, spis };
}

export function encodeDelete(p: DeletePayload): Buffer {
  const spiSize = spiSizeFor(p.protocol);
  ensure(spiSize !== undefined, `delete for protocol ${p.protocol}`);
  ensure(spiSize > 0 || p.spis.length === 0, "IKE delete with SPIs");
  const w = new Writer().u8(p.protocol, "protocol ID").u8(spiSize, "SPI size").u16(p.spis.length, "number of SPIs");
  for (const spi of p.spis) w.u32(spi, "SPI");
  return w.toBuffer();
}
