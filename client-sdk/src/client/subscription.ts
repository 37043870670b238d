/**
 * Subscriptions: a live replica of one aggregate's public Yjs document.
 *
 * The client keeps one Replica per aggregate, however many times it is subscribed, and hands
 * out one Subscription per `subscribe` call; the replica is dropped (and UNSUB sent) when the
 * last Subscription unsubscribes. This lets independent parts of an app (or React's double
 * mounting) subscribe and unsubscribe without stepping on each other.
 *
 * The replica's `seq` and Y.Doc only move forward: SNAPSHOT and UPDATE frames carry Yjs
 * updates, which are idempotent and commutative, and frames whose seq the replica already has
 * are skipped. After a reconnect the client resubscribes with `Y.encodeStateVector(doc)`, so
 * the server sends only what the replica lacks.
 */
import * as Y from 'yjs';
import { MessageType, RingstateError } from '@ringstate/protocol';
import type { SnapshotMessage, SubMessage, UpdateMessage } from '@ringstate/protocol';
import { Emitter } from '../util/emitter.ts';
import type { Listener, Unlisten } from '../util/emitter.ts';
import type { TimerHandle } from '../util/clock.ts';

/** The Yjs transaction origin of changes that came from the server. */
export const SERVER_ORIGIN = 'ringstate-server';

/** The name of the Y.Map holding the aggregate's public view. */
export const VIEW_MAP_NAME = 'view';

export interface ChangeEvent {
  /** The aggregate's sequence number the replica has now reached. */
  readonly seq: number;
  /** `snapshot` for the answer to a (re)subscription, `update` for a committed change. */
  readonly source: 'snapshot' | 'update';
}

export interface EndEvent {
  /** Why the server ended the subscription (e.g. FORBIDDEN), or why the client did. */
  readonly error: RingstateError;
}

export interface SubscriptionEvents {
  change: ChangeEvent;
  end: EndEvent;
}

export class Replica {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly doc = new Y.Doc();
  readonly events: Emitter<SubscriptionEvents>;
  seq = 0;
  hasSnapshot = false;
  endError: RingstateError | undefined;
  handleCount = 0;
  /** Resubscriptions after retryable UNSUBBED since the last snapshot. */
  retries = 0;
  retryTimer: TimerHandle | undefined;
  #view: unknown;
  #viewIsCurrent = false;

  constructor(aggregateType: string, aggregateId: string, onListenerError: (error: unknown) => void) {
    this.aggregateType = aggregateType;
    this.aggregateId = aggregateId;
    this.events = new Emitter<SubscriptionEvents>(onListenerError);
    // Any change to the document, even one the app made locally, invalidates the cached view.
    this.doc.on('update', () => {
      this.#viewIsCurrent = false;
    });
  }

  /** SUB for this replica: with a state vector once it holds server state. */
  subMessage(): SubMessage {
    const message: SubMessage = { t: MessageType.SUB, a: this.aggregateType, i: this.aggregateId };
    return this.hasSnapshot ? { ...message, sv: Y.encodeStateVector(this.doc) } : message;
  }

  applySnapshot(message: SnapshotMessage): void {
    Y.applyUpdate(this.doc, message.u, SERVER_ORIGIN);
    this.hasSnapshot = true;
    this.retries = 0;
    this.seq = Math.max(this.seq, message.seq);
    this.events.emit('change', { seq: this.seq, source: 'snapshot' });
  }

  /** Applies an UPDATE; false when the replica already had it. */
  applyUpdate(message: UpdateMessage): boolean {
    if (message.seq <= this.seq) return false;
    Y.applyUpdate(this.doc, message.u, SERVER_ORIGIN);
    this.seq = message.seq;
    this.events.emit('change', { seq: this.seq, source: 'update' });
    return true;
  }

  /** The view as a plain object, cached until the document changes. */
  view(): unknown {
    if (!this.#viewIsCurrent) {
      this.#view = this.doc.getMap(VIEW_MAP_NAME).toJSON();
      this.#viewIsCurrent = true;
    }
    return this.#view;
  }

  end(error: RingstateError): void {
    if (this.endError !== undefined) return;
    this.endError = error;
    this.events.emit('end', { error });
    this.events.removeAllListeners();
  }
}

interface ReadyWaiter {
  resolve(): void;
  reject(error: RingstateError): void;
}

/** One app-side handle on a replica; see the module comment. */
export class Subscription<View = Record<string, unknown>> {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly #replica: Replica;
  readonly #release: (replica: Replica) => void;
  readonly #events: Emitter<SubscriptionEvents>;
  readonly #replicaUnlisteners: Unlisten[];
  #readyWaiters: ReadyWaiter[] = [];
  #active = true;

  constructor(replica: Replica, release: (replica: Replica) => void, onListenerError: (error: unknown) => void) {
    this.aggregateType = replica.aggregateType;
    this.aggregateId = replica.aggregateId;
    this.#replica = replica;
    this.#release = release;
    this.#events = new Emitter<SubscriptionEvents>(onListenerError);
    this.#replicaUnlisteners = [
      replica.events.on('change', (event) => this.#onChange(event)),
      replica.events.on('end', (event) => this.#onEnd(event)),
    ];
  }

  /** The replica's Y.Doc; the view is `doc.getMap('view')`. Treat it as read-only. */
  get doc(): Y.Doc {
    return this.#replica.doc;
  }

  /** The aggregate's sequence number the replica has reached; 0 before the first snapshot. */
  get seq(): number {
    return this.#replica.seq;
  }

  /** True once the first snapshot has arrived. */
  get ready(): boolean {
    return this.#replica.hasSnapshot;
  }

  /** Set when the subscription has ended (by the server, or by the client closing). */
  get endError(): RingstateError | undefined {
    return this.#replica.endError;
  }

  /** The view as a plain object, or undefined before the first snapshot. */
  snapshot(): View | undefined {
    return this.#replica.hasSnapshot ? (this.#replica.view() as View) : undefined;
  }

  on<K extends keyof SubscriptionEvents>(event: K, listener: Listener<SubscriptionEvents[K]>): Unlisten {
    return this.#events.on(event, listener);
  }

  off<K extends keyof SubscriptionEvents>(event: K, listener: Listener<SubscriptionEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /** Resolves at the first snapshot; rejects if the subscription ends first. */
  whenReady(): Promise<void> {
    if (this.#replica.hasSnapshot) return Promise.resolve();
    const endError = this.#replica.endError;
    if (endError !== undefined) return Promise.reject(endError);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Stops this handle's events; the last handle of an aggregate also ends the server stream. */
  unsubscribe(): void {
    if (!this.#active) return;
    this.#active = false;
    for (const unlisten of this.#replicaUnlisteners) unlisten();
    this.#events.removeAllListeners();
    this.#settleReadyWaiters(new RingstateError('DISCONNECTED', 'unsubscribed before the first snapshot'));
    this.#release(this.#replica);
  }

  #onChange(event: ChangeEvent): void {
    this.#settleReadyWaiters(undefined);
    this.#events.emit('change', event);
  }

  #onEnd(event: EndEvent): void {
    this.#active = false;
    this.#settleReadyWaiters(event.error);
    this.#events.emit('end', event);
    this.#events.removeAllListeners();
  }

  #settleReadyWaiters(error: RingstateError | undefined): void {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }
}
