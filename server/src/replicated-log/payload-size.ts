import type { CommandPayload } from './replica-storage.ts';

/**
 * Approximate encoded size of a command payload, for the core's byte limits. Counting the
 * binary parts and a fixed overhead is enough: exactness is not needed, only a bound that
 * grows with the payload, and encoding every command twice would cost real CPU.
 */
export function encodedSize(payload: CommandPayload): number {
  // The core asks again for every append that carries the entry (one per replica and retry).
  const known = sizes.get(payload);
  if (known !== undefined) return known;
  let bytes = 128 + payload.update.byteLength + payload.aggregate.length + payload.commandId.length + payload.playerId.length;
  if (payload.snapshot !== undefined) bytes += payload.snapshot.doc.byteLength + 256;
  bytes += JSON.stringify(payload.events).length;
  sizes.set(payload, bytes);
  return bytes;
}

const sizes = new WeakMap<CommandPayload, number>();
