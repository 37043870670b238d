/**
 * The outbox courier: delivers what aggregates send to other aggregates (and their timers),
 * from the owner of the sending aggregate's partition, until each delivery is settled.
 *
 * Property S5 (../shared/DESIGN.md): a delivered command takes effect at most once and, unless
 * its target refuses it, at least once, across crashes and failovers of either side.
 *   - At least once: an item is pending from the committed entry that added it (on every
 *     replica: the stores fold entries' outbox changes as they apply them, log/outbox.ts) until
 *     an entry settles or cancels it. Only the partition's owner delivers; a new owner loads
 *     the pending items from its store when it starts serving (the serving rule guarantees it
 *     has applied everything committed before) and delivers them again.
 *   - At most once: the command id is `<sender type/id>:<item id>` under the reserved player
 *     DELIVERY_PLAYER, so the target's deduplication (S4) answers a repeat as a duplicate. A
 *     delivery to the sender itself settles the item in the same entry (runtime.ts).
 *   - Settling: once the target answers (applied, a duplicate, or a final refusal), the
 *     courier asks the runtime to settle the item: one entry on the sender that removes it and,
 *     for a refusal, runs its `onRejected` command. A retryable answer (UNAVAILABLE, NO_QUORUM,
 *     OVERLOADED, ...) is retried with capped exponential backoff and jitter, honouring the
 *     target's retry hint, for as long as it takes.
 *
 * Deliveries go through the node's router like any command (admission, forwarding to the
 * target's owner), so an overloaded target slows deliveries down instead of failing them.
 * The target's deduplication window (`dedupeRetentionMs`) must outlast the longest outage a
 * delivery may wait through, or a repeat after it could apply twice (docs/game-developers.md).
 */
import { Heap } from 'heap-js';
import { RingstateError } from '@ringstate/protocol';
import { DELIVERY_PLAYER, type CommandRequest, type CommandResult, type DeliveryOutcome, type SettleRequest } from '../aggregate/index.ts';
import { foldOutbox, touchesOutbox, type LogEntry, type LogStorage, type OutboxItem } from '../log/index.ts';
import type { PartitionLog } from '../partition/index.ts';

export interface CourierSettings {
  /** How often served partitions are checked for ownership changes and due timers. */
  readonly pollMs: number;
  /** First retry delay after a retryable answer; doubles per attempt up to `retryMaxMs`. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** Deliveries (and their settlements) in flight at once on this node. */
  readonly inFlightMax: number;
}

export const COURIER_DEFAULTS: CourierSettings = { pollMs: 50, retryMinMs: 100, retryMaxMs: 5_000, inFlightMax: 256 };

export interface CourierTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CourierHooks {
  /** A delivery ended: taken by its target (`delivered`) or refused for good (`refused`, with the code). */
  readonly onSettled?: (info: { sender: string; item: string; outcome: DeliveryOutcome }) => void;
  /** A retryable answer: the delivery is tried again later. */
  readonly onRetry?: (info: { sender: string; item: string; code: string }) => void;
}

export interface CourierDeps {
  readonly log: Pick<PartitionLog, 'ownership' | 'onCommitted' | 'onOwnershipLost'>;
  readonly store: Pick<LogStorage, 'pendingDeliveries'>;
  /** The node's router (admission, here or forwarded). */
  readonly route: (request: CommandRequest) => Promise<CommandResult>;
  /** The runtime's settle (aggregate/runtime.ts). */
  readonly settle: (request: SettleRequest) => Promise<void>;
  readonly partitionCount: number;
  readonly nowMs: () => number;
  readonly timers: CourierTimers;
  /** Jitter source in [0, 1). */
  readonly random: () => number;
  readonly settings?: Partial<CourierSettings>;
  readonly hooks?: CourierHooks;
}

/** Delivery progress of one pending item on this node (never stored: a new owner starts afresh). */
interface Attempts {
  count: number;
  notBeforeMs: number;
  inFlight: boolean;
}

/** The pending items of one partition this node serves, as its applied entries left them. */
interface ServedPartition {
  /** sender aggregate key -> item id -> item. */
  readonly items: Map<string, Map<string, OutboxItem>>;
  readonly attempts: Map<string, Attempts>;
  /**
   * When each item is next looked at, earliest first, so a poll costs the due items, not all
   * of them (a game may hold a timer per player). An item has one live entry, the time in
   * `queued`; entries superseded since (re-queued, settled, cancelled) are skipped when popped.
   */
  readonly due: Heap<Due>;
  readonly queued: Map<string, number>;
}

interface Due {
  readonly atMs: number;
  readonly sender: string;
  readonly id: string;
}

export class Courier {
  private readonly settings: CourierSettings;
  private readonly served = new Map<number, ServedPartition>();
  private inFlight = 0;
  private timer: unknown;
  private kicked = false;
  private stopped = false;

  constructor(private readonly deps: CourierDeps) {
    this.settings = { ...COURIER_DEFAULTS, ...deps.settings };
    deps.log.onCommitted((entry) => this.committed(entry));
    deps.log.onOwnershipLost((partition) => this.served.delete(partition));
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.settings.pollMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.served.clear();
  }

  /** Items pending in the partitions this node serves (a gauge). */
  get pendingCount(): number {
    let count = 0;
    for (const partition of this.served.values()) for (const items of partition.items.values()) count += items.size;
    return count;
  }

  /** Checks ownership, then starts every delivery that is due. */
  poll(): void {
    if (this.stopped) return;
    const nowMs = this.deps.nowMs();
    for (let partition = 0; partition < this.deps.partitionCount; partition += 1) {
      const serving = this.deps.log.ownership(partition).serving;
      let served = this.served.get(partition);
      if (!serving) {
        if (served !== undefined) this.served.delete(partition);
        continue;
      }
      if (served === undefined) {
        served = this.load(partition);
        this.served.set(partition, served);
      }
      const next = served.due.peek();
      if (next !== undefined && next.atMs <= nowMs) this.deliverDue(partition, served, nowMs);
    }
  }

  /** Every applied entry on this node: its outbox change moves the served partition's items. */
  private committed(entry: LogEntry): void {
    if (!touchesOutbox(entry.outbox)) return;
    const served = this.served.get(entry.partition);
    if (served === undefined) return; // loaded from the store (which has this entry) when served
    let items = served.items.get(entry.aggregate);
    if (items === undefined) {
      items = new Map();
      served.items.set(entry.aggregate, items);
    }
    foldOutbox(items, entry.outbox);
    for (const id of entry.outbox.settle ?? []) {
      served.attempts.delete(attemptKey(entry.aggregate, id));
      served.queued.delete(attemptKey(entry.aggregate, id));
    }
    if (items.size === 0) served.items.delete(entry.aggregate);
    const added = entry.outbox.add ?? [];
    for (const item of added) queue(served, entry.aggregate, item.id, item.dueMs ?? 0);
    if (added.length > 0) this.kick();
  }

  private load(partition: number): ServedPartition {
    const served: ServedPartition = { items: new Map(), attempts: new Map(), due: new Heap<Due>((a, b) => a.atMs - b.atMs), queued: new Map() };
    for (const { aggregate, item } of this.deps.store.pendingDeliveries(partition)) {
      let byId = served.items.get(aggregate);
      if (byId === undefined) {
        byId = new Map();
        served.items.set(aggregate, byId);
      }
      byId.set(item.id, item);
      queue(served, aggregate, item.id, item.dueMs ?? 0);
    }
    return served;
  }

  private deliverDue(partition: number, served: ServedPartition, nowMs: number): void {
    for (let next = served.due.peek(); next !== undefined && next.atMs <= nowMs; next = served.due.peek()) {
      // At the limit the due entries stay queued for the next poll.
      if (this.inFlight >= this.settings.inFlightMax) return;
      served.due.pop();
      const key = attemptKey(next.sender, next.id);
      if (served.queued.get(key) !== next.atMs) continue; // superseded
      served.queued.delete(key);
      const item = served.items.get(next.sender)?.get(next.id);
      if (item === undefined) {
        served.attempts.delete(key);
        continue;
      }
      let attempts = served.attempts.get(key);
      if (attempts === undefined) {
        attempts = { count: 0, notBeforeMs: 0, inFlight: false };
        served.attempts.set(key, attempts);
      }
      // An item in flight is queued again when its attempt ends.
      if (!attempts.inFlight) this.deliver(partition, next.sender, item, attempts);
    }
  }

  private deliver(partition: number, sender: string, item: OutboxItem, attempts: Attempts): void {
    attempts.inFlight = true;
    attempts.count += 1;
    this.inFlight += 1;
    const slash = sender.indexOf('/');
    const senderType = sender.slice(0, slash);
    const senderId = sender.slice(slash + 1);
    const request: CommandRequest = {
      aggregateType: item.to.type,
      aggregateId: item.to.id,
      playerId: DELIVERY_PLAYER,
      commandId: `${sender}:${item.id}`,
      command: item.command,
      sender: { type: senderType, id: senderId, item: item.id, playerId: item.playerId },
    };
    const retry = (error: unknown): void => {
      const code = error instanceof RingstateError ? error.code : 'INTERNAL';
      this.deps.hooks?.onRetry?.({ sender, item: item.id, code });
      const backoffMs = Math.min(this.settings.retryMaxMs, this.settings.retryMinMs * 2 ** Math.min(attempts.count - 1, 16));
      const hintMs = error instanceof RingstateError && error.retryAfterMs !== undefined ? error.retryAfterMs : 0;
      attempts.notBeforeMs = this.deps.nowMs() + Math.max(hintMs, backoffMs * (0.5 + this.deps.random()));
      this.requeue(partition, sender, item.id, attempts.notBeforeMs);
    };
    // Through a promise first: a route or settle that throws synchronously is retried like one that rejects.
    Promise.resolve()
      .then(() => this.deps.route(request))
      .then(
        (): DeliveryOutcome => ({ kind: 'delivered' }),
        (error: unknown): DeliveryOutcome | undefined => {
          // UNKNOWN_AGGREGATE_TYPE is final for a player but not here: the sender's node knows the
          // type (the runtime checked it), so the target's node runs an older build mid-deploy.
          if (error instanceof RingstateError && !error.retryable && error.code !== 'UNKNOWN_AGGREGATE_TYPE') {
            return { kind: 'refused', rejection: { code: error.code, message: error.message, ...(error.reason === undefined ? {} : { reason: error.reason }) } };
          }
          retry(error);
          return undefined;
        },
      )
      .then(async (outcome) => {
        if (outcome === undefined) return;
        await this.deps.settle({ aggregateType: senderType, aggregateId: senderId, item: item.id, outcome });
        this.deps.hooks?.onSettled?.({ sender, item: item.id, outcome });
        // The settling entry removes the item when it applies here; should it not (ownership
        // moved meanwhile), a later poll delivers again, which the target answers as a duplicate.
        attempts.notBeforeMs = this.deps.nowMs() + this.settings.retryMaxMs;
        this.requeue(partition, sender, item.id, attempts.notBeforeMs);
      })
      .catch(retry)
      .finally(() => {
        attempts.inFlight = false;
        this.inFlight -= 1;
      });
  }

  /** Looks at the item again at `atMs`, if this node still serves its partition and it is still pending. */
  private requeue(partition: number, sender: string, id: string, atMs: number): void {
    const served = this.served.get(partition);
    if (served?.items.get(sender)?.has(id) === true) queue(served, sender, id, atMs);
  }

  /** New items: deliver them on the next turn rather than at the next poll. */
  private kick(): void {
    if (this.kicked || this.stopped) return;
    this.kicked = true;
    this.deps.timers.setTimeout(() => {
      this.kicked = false;
      this.poll();
    }, 0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      this.poll();
      this.schedule(this.settings.pollMs);
    }, delayMs);
  }
}

function queue(served: ServedPartition, sender: string, id: string, atMs: number): void {
  served.queued.set(attemptKey(sender, id), atMs);
  served.due.push({ atMs, sender, id });
}

function attemptKey(sender: string, item: string): string {
  return `${sender}\u0000${item}`;
}
