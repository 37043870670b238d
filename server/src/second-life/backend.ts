/**
 * What the Second Life API needs from the rest of the node, kept narrow. Every read returns
 * committed state only: a view or event the API hands out can never be rolled back.
 *
 * LocalSecondLifeBackend sends commands through the node's router (admission, execution here
 * or forwarding to the partition's owner) and serves reads of aggregates this node owns over
 * the AggregateRuntime (authorization, the committed Yjs document) and the LogStore
 * (committed entries).
 */
import * as Y from 'yjs';
import { aggregateKey, RingstateError } from '@ringstate/protocol';
import { readView, type AggregateRuntime, type PublicView } from '../aggregate/index.ts';
import type { LogStore } from '../log/index.ts';
import type { CommandRouter } from '../router/index.ts';
import type { CommittedEntry } from './wire.ts';

export interface AggregateRef {
  readonly type: string;
  readonly id: string;
}

export interface SecondLifeCommand {
  readonly aggregate: AggregateRef;
  readonly playerId: string;
  readonly commandId: string;
  readonly command: unknown;
}

export interface CommittedView {
  readonly seq: number;
  readonly view: PublicView;
}

export interface CommittedEntries {
  /** The aggregate's committed seq when read. */
  readonly headSeq: number;
  /** Entries with afterSeq < seq <= headSeq, at most `max`, in seq order. */
  readonly entries: readonly CommittedEntry[];
  /** The reader is more than `eventsBehindMax` seqs behind: no entries; read the state and go on from headSeq. */
  readonly behind: boolean;
}

export interface SecondLifeBackend {
  /** Runs a command; resolves once committed. Rejects with RingstateError. */
  execute(command: SecondLifeCommand): Promise<{ seq: number; duplicate: boolean }>;
  /** The committed view, after checking the player may read the aggregate. */
  read(aggregate: AggregateRef, playerId: string): Promise<CommittedView>;
  /** Committed entries after `afterSeq` (none when `max` is 0: that only checks access and reads the head). */
  eventsAfter(aggregate: AggregateRef, playerId: string, afterSeq: number, max: number): Promise<CommittedEntries>;
  /** Calls `listener(seq)` after each committed change of the aggregate (a hint: it may skip seqs). */
  watch(aggregate: AggregateRef, playerId: string, listener: (seq: number) => void): () => void;
}

interface Watched {
  readonly listeners: Set<(seq: number) => void>;
  readonly close: () => void;
}

export class LocalSecondLifeBackend implements SecondLifeBackend {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly runtime: AggregateRuntime,
    /** Commands go through the node's router: admitted, and forwarded to the owner when it is elsewhere. */
    private readonly router: Pick<CommandRouter, 'route'>,
    private readonly store: LogStore,
    /** Bounds one read: the store reads every entry after a seq, so a far-behind reader gets `behind` instead. */
    private readonly eventsBehindMax: number,
  ) {}

  execute(command: SecondLifeCommand): Promise<{ seq: number; duplicate: boolean }> {
    return this.router.route({
      aggregateType: command.aggregate.type,
      aggregateId: command.aggregate.id,
      playerId: command.playerId,
      commandId: command.commandId,
      command: command.command,
    });
  }

  async read(aggregate: AggregateRef, playerId: string): Promise<CommittedView> {
    const { seq, update } = this.committed(aggregate, playerId);
    const doc = new Y.Doc();
    try {
      Y.applyUpdate(doc, update);
      return { seq, view: readView(doc) };
    } finally {
      doc.destroy();
    }
  }

  async eventsAfter(aggregate: AggregateRef, playerId: string, afterSeq: number, max: number): Promise<CommittedEntries> {
    const { seq: headSeq } = this.committed(aggregate, playerId);
    if (afterSeq >= headSeq || max <= 0) return { headSeq, entries: [], behind: false };
    if (headSeq - afterSeq > this.eventsBehindMax) return { headSeq, entries: [], behind: true };
    const partition = this.runtime.partitionOf(aggregate.type, aggregate.id);
    const entries: CommittedEntry[] = [];
    // The store may hold entries past the committed head (a replica appends before the quorum
    // commits): stop at the head.
    for (const entry of this.store.aggregateEntries(partition, aggregateKey(aggregate.type, aggregate.id), afterSeq)) {
      if (entry.seq > headSeq || entries.length >= max) break;
      entries.push({ seq: entry.seq, playerId: entry.playerId, events: entry.events });
    }
    return { headSeq, entries, behind: false };
  }

  watch(aggregate: AggregateRef, playerId: string, listener: (seq: number) => void): () => void {
    const key = aggregateKey(aggregate.type, aggregate.id);
    let watched = this.watched.get(key);
    if (watched === undefined) {
      const listeners = new Set<(seq: number) => void>();
      // One runtime subscription per aggregate, however many objects watch it.
      // Notify on a later turn: the log tells subscribers before the runtime has recorded the
      // commit as its committed seq, and a reader woken now would still see the old head.
      const subscription = this.runtime.subscribe(aggregate.type, aggregate.id, playerId, undefined, {
        onUpdate: (seq) => {
          setImmediate(() => {
            for (const each of [...listeners]) each(seq);
          });
        },
      });
      watched = { listeners, close: subscription.close };
      this.watched.set(key, watched);
    }
    const entry = watched;
    entry.listeners.add(listener);
    return () => {
      entry.listeners.delete(listener);
      if (entry.listeners.size === 0 && this.watched.get(key) === entry) {
        this.watched.delete(key);
        entry.close();
      }
    };
  }

  /** The committed document and seq; the runtime checks read authorization and ownership. */
  private committed(aggregate: AggregateRef, playerId: string): { seq: number; update: Uint8Array } {
    const start = this.runtime.subscribe(aggregate.type, aggregate.id, playerId, undefined, { onUpdate: () => undefined });
    start.close();
    if (!Number.isSafeInteger(start.seq) || start.seq < 0) throw new RingstateError('INTERNAL', 'aggregate seq is not a count');
    return { seq: start.seq, update: start.update };
  }
}
