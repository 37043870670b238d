/**
 * The outbox fold: how an entry's `outbox` change moves an aggregate's pending deliveries.
 * One function, used by every store when it applies an entry and by the runtime when it
 * decides one, so the owner's view and every replica's records agree by construction.
 */
import type { OutboxChange, OutboxItem } from './types.ts';

/** Applies `change` to `pending` (item id -> item) in place: cancel, settle, then add. */
export function foldOutbox(pending: Map<string, OutboxItem>, change: OutboxChange | undefined): void {
  if (change === undefined) return;
  if (change.cancel !== undefined && change.cancel.length > 0) removeKeys(pending, change.cancel);
  for (const id of change.settle ?? []) pending.delete(id);
  for (const item of change.add ?? []) {
    if (item.key !== undefined) removeKeys(pending, [item.key]);
    pending.set(item.id, item);
  }
}

function removeKeys(pending: Map<string, OutboxItem>, keys: readonly string[]): void {
  for (const [id, item] of pending) {
    if (item.key !== undefined && keys.includes(item.key)) pending.delete(id);
  }
}

/** Whether an entry changes the outbox at all (most do not: the stores skip the fold then). */
export function touchesOutbox(change: OutboxChange | undefined): change is OutboxChange {
  return change !== undefined && ((change.add?.length ?? 0) > 0 || (change.cancel?.length ?? 0) > 0 || (change.settle?.length ?? 0) > 0);
}
