/**
 * S5 at the end of a run: what aggregates sent each other, and their timers, read back from the
 * one committed log of every partition (the checker verifies that every replica applied that
 * same log, S3, and that no replica's store still holds a pending item).
 *
 * The outbox of every sending aggregate is replayed entry by entry with the production fold's
 * rules (log/outbox.ts: cancel by key, settle by id, then add, an added timer replacing the
 * pending one of its key), remembering why each item left. A delivery is an entry under the
 * player DELIVERY_PLAYER whose command id is `<sender type/id>:<item id>`; a settlement is the
 * sender's entry `settle:<item id>`. For every item ever committed:
 *   - at most once: at most one delivery entry, on the item's target;
 *   - exactly once or compensated once: an item that was settled was delivered exactly once
 *     (applied, or refused and recorded by the target) and settled by exactly one entry, which
 *     ran the item's onRejected command if and only if the target refused; a delivery to the
 *     sender itself settles the item in its own entry;
 *   - nothing pending once the run quiesced (the simulation heals every fault, so every
 *     partition's quorum comes back; no item may wait for a partition that never returns);
 *   - timers: delivered no earlier than their due time (the entry's timestamp is the owner's
 *     clock when it decided; every node reads the one virtual clock, the simulator injects no
 *     skew); a timer to the sender itself is delivered only while it is pending, so never
 *     after its cancel or replacement committed;
 *   - no delivery of an item that was never committed.
 */
import { DELIVERY_PLAYER } from '../aggregate/index.ts';
import type { OutboxChange, OutboxItem, RecordedRefusal } from '../log/index.ts';

/** A committed command entry as the checker keeps it. */
export interface AppliedEntry {
  readonly position: number;
  readonly epoch: number;
  readonly aggregate: string;
  readonly seq: number;
  readonly commandId: string;
  readonly playerId: string;
  readonly timestampMs: number;
  readonly events: readonly unknown[];
  readonly outbox?: OutboxChange;
  readonly refusal?: RecordedRefusal;
  /** The node that decided the entry's events, when they say (S2); null for entries without events. */
  readonly proposer: string | null;
  /** Tells two entries at one position apart (S3). */
  readonly signature: string;
}

export interface WorkflowStats {
  /** Outbox items committed (sends and timers). */
  readonly items: number;
  /** Deliveries applied on their target (refusals included). */
  readonly delivered: number;
  /** Of those, refused by the target and compensated on the sender. */
  readonly compensated: number;
  /** Timers delivered. */
  readonly timersFired: number;
  /** Items cancelled or replaced before their delivery. */
  readonly cancelled: number;
}

const SETTLE_PREFIX = 'settle:';

interface Delivery {
  readonly target: string;
  readonly partition: number;
  readonly entry: AppliedEntry;
}

interface ItemRecord {
  readonly sender: string;
  readonly item: OutboxItem;
  readonly partition: number;
  readonly addedAt: number;
  removed: { readonly how: 'settle' | 'cancel' | 'replace'; readonly position: number } | null;
}

/** `logs`: each partition's committed command entries in log order. Returns what the workflows did. */
export function checkWorkflows(logs: ReadonlyMap<number, readonly AppliedEntry[]>, fail: (message: string) => void): WorkflowStats {
  const items = new Map<string, ItemRecord>();
  const deliveries = new Map<string, Delivery[]>();
  const settlements = new Map<string, AppliedEntry[]>();
  for (const [partition, entries] of logs) {
    /** sender -> item id -> pending item, as the stores fold them. */
    const pending = new Map<string, Map<string, OutboxItem>>();
    for (const entry of entries) {
      let outbox = pending.get(entry.aggregate);
      if (outbox === undefined) {
        outbox = new Map();
        pending.set(entry.aggregate, outbox);
      }
      if (entry.playerId === DELIVERY_PLAYER) {
        if (entry.commandId.startsWith(SETTLE_PREFIX)) {
          push(settlements, `${entry.aggregate}:${entry.commandId.slice(SETTLE_PREFIX.length)}`, entry);
        } else {
          push(deliveries, entry.commandId, { target: entry.aggregate, partition, entry });
          const { sender, item } = splitDelivery(entry.commandId);
          if (sender === entry.aggregate && !outbox.has(item)) {
            const record = items.get(entry.commandId);
            const why = record?.removed === null || record === undefined ? 'never committed' : `${record.removed.how} at position ${record.removed.position}`;
            fail(`partition ${partition} position ${entry.position}: ${entry.aggregate} applied its own timer ${item}, which was not pending (${why})`);
          }
        }
      }
      fold(partition, entry, outbox, items);
    }
  }

  let delivered = 0;
  let compensated = 0;
  let timersFired = 0;
  let cancelled = 0;
  for (const [key, record] of items) {
    const { item, sender } = record;
    const target = `${item.to.type}/${item.to.id}`;
    const applied = deliveries.get(key) ?? [];
    const settles = settlements.get(key) ?? [];
    const where = `outbox item ${key} (to ${target}${item.dueMs === undefined ? '' : `, timer due ${item.dueMs.toFixed(1)}`}, committed at ${record.partition}/${record.addedAt})`;
    if (applied.length > 1) fail(`${where} applied ${applied.length} times: ${applied.map((delivery) => `${delivery.partition}/${delivery.entry.position}`).join(', ')}`);
    const first = applied[0];
    if (first !== undefined) {
      delivered += 1;
      if (item.dueMs !== undefined) timersFired += 1;
      if (first.target !== target) fail(`${where} applied on ${first.target}`);
      if (item.dueMs !== undefined && first.entry.timestampMs < item.dueMs) fail(`${where} fired early, at ${first.entry.timestampMs.toFixed(1)}`);
    }
    if (settles.length > 1) fail(`${where} settled ${settles.length} times`);
    if (record.removed === null) {
      fail(`${where} still pending after the run quiesced`);
      continue;
    }
    if (record.removed.how !== 'settle') {
      cancelled += first === undefined ? 1 : 0;
      continue;
    }
    const toSelf = target === sender;
    const settle = settles[0];
    if (toSelf && first !== undefined) {
      // Settled by the delivery itself.
      if (settle !== undefined) fail(`${where} delivered to its sender and settled again at ${settle.position}`);
      if (!(first.entry.outbox?.settle ?? []).includes(item.id)) fail(`${where} delivered to its sender by an entry that does not settle it`);
      continue;
    }
    if (settle === undefined) {
      fail(`${where} left the outbox without a delivery settling it`);
      continue;
    }
    if (first === undefined && !toSelf) {
      // A refusal the target does not record (not REJECTED, HANDLER_ERROR or INVALID_COMMAND)
      // leaves no entry there; the simulated accounts refuse only with REJECTED.
      fail(`${where} settled at ${settle.position} but never applied on its target`);
      continue;
    }
    const refused = first === undefined || first.entry.refusal !== undefined;
    const compensation = settle.events.length > 0;
    if (refused && item.onRejected !== undefined && !compensation) fail(`${where} refused (${first?.entry.refusal?.reason ?? '?'}) but its settlement at ${settle.position} ran no compensation`);
    if (!refused && compensation) fail(`${where} delivered, yet its settlement at ${settle.position} compensated`);
    if (refused && compensation) compensated += 1;
  }
  for (const [key, applied] of deliveries) {
    if (!items.has(key)) fail(`delivery ${key} applied at ${applied.map((delivery) => `${delivery.partition}/${delivery.entry.position}`).join(', ')}, but no such outbox item was committed`);
  }
  return { items: items.size, delivered, compensated, timersFired, cancelled };
}

/** The production fold (log/outbox.ts), remembering why each item left. */
function fold(partition: number, entry: AppliedEntry, outbox: Map<string, OutboxItem>, items: Map<string, ItemRecord>): void {
  const change = entry.outbox;
  if (change === undefined) return;
  const remove = (id: string, how: 'settle' | 'cancel' | 'replace'): void => {
    outbox.delete(id);
    const record = items.get(`${entry.aggregate}:${id}`);
    if (record !== undefined && record.removed === null) record.removed = { how, position: entry.position };
  };
  const removeKeys = (keys: readonly string[], how: 'cancel' | 'replace'): void => {
    for (const [id, item] of outbox) if (item.key !== undefined && keys.includes(item.key)) remove(id, how);
  };
  if (change.cancel !== undefined && change.cancel.length > 0) removeKeys(change.cancel, 'cancel');
  for (const id of change.settle ?? []) remove(id, 'settle');
  for (const item of change.add ?? []) {
    if (item.key !== undefined) removeKeys([item.key], 'replace');
    const key = `${entry.aggregate}:${item.id}`;
    if (items.has(key)) throw new Error(`outbox item ${key} added twice (again at ${partition}/${entry.position})`);
    items.set(key, { sender: entry.aggregate, item, partition, addedAt: entry.position, removed: null });
    outbox.set(item.id, item);
  }
}

/** `<type>/<id>:<item>` -> sender `<type>/<id>` and item id (aggregate keys hold no ':'). */
function splitDelivery(commandId: string): { sender: string; item: string } {
  const colon = commandId.lastIndexOf(':');
  return { sender: commandId.slice(0, colon), item: commandId.slice(colon + 1) };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
