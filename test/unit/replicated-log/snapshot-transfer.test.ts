import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { SNAPSHOT_PROTOCOL, serveSnapshotRanges, SnapshotFetcher } from '../../../server/src/replicated-log/snapshot-transfer.ts';
import type { PeerNetwork, RequestHandler } from '../../../server/src/peer/index.ts';
import { LogStore, type StoredEntry } from '../../../server/src/log/index.ts';
import type { SnapshotRequest } from '../../../server/src/replication/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const quiet = pino({ level: 'silent' });

function command(partition: number, position: number, epoch = 1): StoredEntry {
  return { partition, position, epoch, aggregate: `player/p${position % 3}`, seq: Math.floor((position - 1) / 3) + 1, commandId: `c${position}`, playerId: `p${position % 3}`, events: [{ type: 'appended', value: `v${position}` }], eventVersion: 1, update: new Uint8Array([position % 256]), timestampMs: 1 };
}

/** Two nodes: `source` serves ranges from its store; `replica` fetches through `peers`. */
async function pair(committedTo: number) {
  const dir = tempDir('ringstate-snapshot-');
  const store = LogStore.open({ path: dir.path, durability: 'os' });
  const entries = Array.from({ length: 30 }, (_, n) => command(0, n + 1, n < 20 ? 1 : 2));
  await store.writeReplicaBatch({ partitions: [{ partition: 0, entries, hardState: { epoch: 2, vote: null, commit: 0, amnesia: 0 }, applied: entries }] });
  const handlers = new Map<string, RequestHandler>();
  const requests: unknown[] = [];
  const peers = {
    handle: (protocol: string, handler: RequestHandler) => handlers.set(protocol, handler),
    request: async (_to: string, protocol: string, payload: unknown) => {
      requests.push(payload);
      return structuredClone(await (handlers.get(protocol) as RequestHandler)(payload, 'replica'));
    },
  } as unknown as PeerNetwork;
  serveSnapshotRanges(peers, store, 4, () => committedTo);
  return { store, peers, requests, handlers, cleanup: async () => { await store.close(); dir.remove(); } };
}

const snapshotMessage = (position: number, epoch: number): SnapshotRequest => ({ type: 'snapshot', partition: 0, epoch: 2, snapshot: { position, epoch, membership: { voters: ['a'], learners: [] }, data: new Uint8Array(0) } });

describe('snapshot transfer', () => {
  it('snapshot transfer - serves committed entries only, and refuses malformed ranges', async () => {
    const { handlers, cleanup } = await pair(25);
    const serve = handlers.get(SNAPSHOT_PROTOCOL) as RequestHandler;
    const answer = (await serve({ p: 0, from: 5, to: 30 }, 'x')) as { entries: StoredEntry[] };
    expect(answer.entries.map((entry) => entry.position)).toEqual(Array.from({ length: 21 }, (_, n) => n + 5));
    for (const bad of [null, {}, { p: 9, from: 1, to: 2 }, { p: 0, from: 0, to: 2 }, { p: 0, from: 3, to: 2 }, { p: 0, from: 1.5, to: 2 }, { p: '0', from: 1, to: 2 }]) {
      expect(await serve(bad, 'x')).toMatchObject({ error: expect.any(String) });
    }
    expect(await serve({ p: 0, from: 26, to: 30 }, 'x')).toMatchObject({ error: expect.stringContaining('not committed') });
    await cleanup();
  });

  it('snapshot transfer - a snapshot beyond the commit is held back, fetched from commit + 1, staged, then released', async () => {
    const { peers, requests, cleanup } = await pair(30);
    const released: SnapshotRequest[] = [];
    const fetcher = new SnapshotFetcher(peers, quiet, (_from, message) => released.push(message));
    const message = snapshotMessage(30, 2);
    // Needs nothing: the snapshot is at or below the commit (the core only acknowledges).
    expect(fetcher.admit('source', snapshotMessage(10, 1), { commit: 10 }, 10)).toBe(true);
    // Needs the entries: held back while they are fetched; a retry meanwhile starts nothing new.
    expect(fetcher.admit('source', message, { commit: 12 }, 12)).toBe(false);
    expect(fetcher.admit('source', message, { commit: 12 }, 12)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(released).toEqual([message]);
    expect((requests[0] as { from: number }).from).toBe(13);
    expect(requests).toHaveLength(1);
    expect(fetcher.admit('source', message, { commit: 12 }, 12)).toBe(true);
    expect(fetcher.take(0, 30, 1)).toBeUndefined();
    const staged = fetcher.take(0, 30, 2);
    expect(staged?.from).toBe(13);
    expect(staged?.entries.map((entry) => entry.position)).toEqual(Array.from({ length: 18 }, (_, n) => n + 13));
    expect(fetcher.take(0, 30, 2)).toBeUndefined();
    await cleanup();
  });

  it('snapshot transfer - committed entries the store does not hold yet are fetched too (simulator seed 75429)', async () => {
    const { peers, requests, cleanup } = await pair(30);
    const fetcher = new SnapshotFetcher(peers, quiet, () => undefined);
    // The core knows 12 committed, but 11 and 12 are only in its memory: the install drops
    // them, so the stage must start where the store ends, or the store would be left with a gap.
    expect(fetcher.admit('source', snapshotMessage(30, 2), { commit: 12 }, 10)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((requests[0] as { from: number }).from).toBe(11);
    expect(fetcher.take(0, 30, 2)?.from).toBe(11);
    await cleanup();
  });

  it('snapshot transfer - a fetch whose last entry has another epoch is dropped, and nothing is released', async () => {
    const { peers, cleanup } = await pair(30);
    const released: SnapshotRequest[] = [];
    const fetcher = new SnapshotFetcher(peers, quiet, (_from, message) => released.push(message));
    expect(fetcher.admit('source', snapshotMessage(30, 7), { commit: 0 }, 0)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(released).toEqual([]);
    expect(fetcher.take(0, 30, 7)).toBeUndefined();
    await cleanup();
  });

  it('snapshot transfer - a newer snapshot fetched meanwhile does not take away the stage an install is using', async () => {
    const { peers, cleanup } = await pair(30);
    const fetcher = new SnapshotFetcher(peers, quiet, () => undefined);
    const older = snapshotMessage(20, 1);
    const newer = snapshotMessage(30, 2);
    expect(fetcher.admit('source', older, { commit: 0 }, 0)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The core is installing 20 (released), and the owner, having compacted again, sends 30.
    expect(fetcher.admit('source', newer, { commit: 0 }, 0)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fetcher.take(0, 20, 1)?.entries).toHaveLength(20);
    expect(fetcher.take(0, 30, 2)?.entries).toHaveLength(30);
    expect(fetcher.take(0, 30, 2)).toBeUndefined();
    await cleanup();
  });

  it('snapshot transfer - the store keeps where the replication log starts, and the entries before it', async () => {
    const { store, cleanup } = await pair(30);
    expect(store.replicaSnapshot(0)).toBeUndefined();
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [], applied: [], snapshot: { position: 20, epoch: 1, membership: { voters: ['a'], learners: [] } } }] });
    expect(store.replicaSnapshot(0)).toEqual({ position: 20, epoch: 1, membership: { voters: ['a'], learners: [] } });
    expect(store.storedEntries(0, 1, 31)).toHaveLength(30);
    expect(store.verify()).toMatchObject({ entries: 30 });
    await cleanup();
  });
});
