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

/**
 * The payload as proposed within `entryBytesMax`, or undefined when it cannot fit. An
 * aggregate snapshot riding along is only a shortcut for activation (replaying the events
 * gives the same state), so an entry too large with it goes without it (`snapshotDropped`): an
 * aggregate whose state outgrew the entry limit keeps working instead of failing every
 * snapshotting command (simulator seed 49520).
 */
export function fitPayload(payload: CommandPayload, entryBytesMax: number): { readonly payload: CommandPayload; readonly snapshotDropped: boolean } | undefined {
  if (encodedSize(payload) <= entryBytesMax) return { payload, snapshotDropped: false };
  if (payload.snapshot === undefined) return undefined;
  const { snapshot: _dropped, ...rest } = payload;
  return encodedSize(rest) <= entryBytesMax ? { payload: rest, snapshotDropped: true } : undefined;
}
