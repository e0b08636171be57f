// Finding payloads and notifications in a decoded chain, typed by payload type.
import { NOTIFY_STATUS_MIN, PayloadType } from "./constants.js";
import type { KnownPayloadType, NotifyPayload, Payload, PayloadOfType } from "./payloads/index.js";

export function findPayload<T extends KnownPayloadType>(
  payloads: readonly Payload[],
  type: T,
): PayloadOfType<T> | undefined {
  return payloads.find((p): p is PayloadOfType<T> => p.type === type);
}

export function findPayloads<T extends KnownPayloadType>(payloads: readonly Payload[], type: T): PayloadOfType<T>[] {
  return payloads.filter((p): p is PayloadOfType<T> => p.type === type);
}

export function findNotifies(payloads: readonly Payload[], notifyType: number): NotifyPayload[] {
  return findPayloads(payloads, PayloadType.NOTIFY).filter((n) => n.notifyType === notifyType);
}

export function findNotify(payloads: readonly Payload[], notifyType: number): NotifyPayload | undefined {
  return findPayloads(payloads, PayloadType.NOTIFY).find((n) => n.notifyType === notifyType);
}

export function hasNotify(payloads: readonly Payload[], notifyType: number): boolean {
  return findNotify(payloads, notifyType) !== undefined;
}

/** The first error notification (type below 16384), which RFC 7296 §3.10.1 makes decisive for a response. */
export function findErrorNotify(payloads: readonly Payload[]): NotifyPayload | undefined {
  return findPayloads(payloads, PayloadType.NOTIFY).find((n) => n.notifyType < NOTIFY_STATUS_MIN);
}
