import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { SERVER_ORIGIN } from '../../../client-sdk/src/index.ts';
import type { ChangeEvent, RingstateError } from '../../../client-sdk/src/index.ts';
import { MessageType } from '@ringstate/protocol';
import { harness } from './helpers/harness.ts';
import { settle } from './helpers/manual-clock.ts';

describe('client-sdk subscriptions', () => {
  it('subscriptions - the first SNAPSHOT carries the full document; UPDATEs follow in seq order', async () => {
    const { client, server } = harness();
    server.commit('player', 'p1', (view) => view.set('name', 'Alice'));
    await client.connect();

    const subscription = client.subscribe('player', 'p1');
    const changes: ChangeEvent[] = [];
    subscription.on('change', (change) => changes.push(change));
    expect(subscription.snapshot()).toBeUndefined();
    expect(subscription.ready).toBe(false);
    await subscription.whenReady();

    expect(server.subs).toEqual([{ key: 'player/p1', sv: undefined }]);
    expect(subscription.snapshot()).toEqual({ name: 'Alice' });
    expect(subscription.seq).toBe(1);

    server.commit('player', 'p1', (view) => view.set('x', 3));
    server.commit('player', 'p1', (view) => view.set('y', 4));
    await settle();

    expect(subscription.snapshot()).toEqual({ name: 'Alice', x: 3, y: 4 });
    expect(subscription.seq).toBe(3);
    expect(changes).toEqual([
      { seq: 1, source: 'snapshot' },
      { seq: 2, source: 'update' },
      { seq: 3, source: 'update' },
    ]);
    client.close();
  });

  it('subscriptions - the Y.Doc holds the view map and server changes carry SERVER_ORIGIN', async () => {
    const { client, server } = harness();
    await client.connect();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    const origins: unknown[] = [];
    subscription.doc.on('update', (_update: Uint8Array, origin: unknown) => origins.push(origin));
    server.commit('player', 'p1', (view) => view.set('hp', 10));
    await settle();
    expect(subscription.doc.getMap('view').get('hp')).toBe(10);
    expect(origins).toEqual([SERVER_ORIGIN]);
    client.close();
  });

  it('subscriptions - snapshot() returns the same object until the document changes', async () => {
    const { client, server } = harness();
    server.commit('player', 'p1', (view) => view.set('a', 1));
    await client.connect();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    const first = subscription.snapshot();
    expect(subscription.snapshot()).toBe(first);
    server.commit('player', 'p1', (view) => view.set('a', 2));
    await settle();
    expect(subscription.snapshot()).not.toBe(first);
    expect(subscription.snapshot()).toEqual({ a: 2 });
    client.close();
  });

  it('subscriptions - after a reconnect it resubscribes with its state vector and receives only what it missed', async () => {
    const { client, server, clock } = harness();
    await client.connect();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    server.commit('player', 'p1', (view) => view.set('a', 1));
    await settle();

    server.dropAll();
    await settle();
    // Changes committed while the client was away.
    server.commit('player', 'p1', (view) => view.set('b', 2));
    server.commit('player', 'p1', (view) => view.set('c', 3));
    await clock.advance(1_000);

    expect(client.state).toBe('online');
    const resub = server.subs[1];
    expect(resub?.key).toBe('player/p1');
    expect(resub?.sv).toBeInstanceOf(Uint8Array);
    const clientStateVector = Y.decodeStateVector(resub?.sv ?? new Uint8Array());
    const serverDoc = server.aggregate('player', 'p1').doc;
    // The state vector describes exactly what the client had before the drop.
    expect([...clientStateVector.values()]).toEqual([1]);
    expect([...Y.decodeStateVector(Y.encodeStateVector(serverDoc)).values()]).toEqual([3]);

    expect(subscription.snapshot()).toEqual({ a: 1, b: 2, c: 3 });
    expect(subscription.seq).toBe(3);
    client.close();
  });

  it('subscriptions - the catch-up SNAPSHOT after a resubscribe is smaller than the full document', async () => {
    const { client, server, clock } = harness();
    await client.connect();
    for (let n = 0; n < 50; n += 1) server.commit('room', 'r1', (view) => view.set(`key${n}`, 'x'.repeat(20)));
    const subscription = client.subscribe('room', 'r1');
    await subscription.whenReady();
    const sizes: number[] = [];
    const original = server.handle.bind(server);
    server.handle = (connection, message) => {
      if (message.t === MessageType.SUB) {
        sizes.push(Y.encodeStateAsUpdate(server.aggregate('room', 'r1').doc, message.sv).byteLength);
      }
      original(connection, message);
    };
    server.dropAll();
    await settle();
    server.commit('room', 'r1', (view) => view.set('late', 1));
    await clock.advance(1_000);
    const fullBytes = Y.encodeStateAsUpdate(server.aggregate('room', 'r1').doc).byteLength;
    expect(sizes).toHaveLength(1);
    expect(sizes[0]).toBeLessThan(fullBytes / 10);
    expect(subscription.snapshot()?.['late']).toBe(1);
    client.close();
  });

  it('subscriptions - subscribing before connect() subscribes once online', async () => {
    const { client, server } = harness();
    server.commit('player', 'p1', (view) => view.set('a', 1));
    const subscription = client.subscribe('player', 'p1');
    await client.connect();
    await subscription.whenReady();
    expect(subscription.snapshot()).toEqual({ a: 1 });
    expect(server.subs).toHaveLength(1);
    client.close();
  });

  it('subscriptions - two subscriptions to one aggregate share a replica; the last unsubscribe sends UNSUB', async () => {
    const { client, server } = harness();
    await client.connect();
    const first = client.subscribe('player', 'p1');
    const second = client.subscribe('player', 'p1');
    await first.whenReady();
    expect(second.doc).toBe(first.doc);
    expect(server.subs).toHaveLength(1);
    let secondChanges = 0;
    second.on('change', () => (secondChanges += 1));

    first.unsubscribe();
    await settle();
    expect(server.received.some((message) => message.t === MessageType.UNSUB)).toBe(false);
    server.commit('player', 'p1', (view) => view.set('a', 1));
    await settle();
    expect(secondChanges).toBe(1);

    second.unsubscribe();
    second.unsubscribe();
    await settle();
    expect(server.received.filter((message) => message.t === MessageType.UNSUB)).toEqual([
      { t: MessageType.UNSUB, a: 'player', i: 'p1' },
    ]);
    client.close();
  });

  it('subscriptions - UNSUBBED with a final code ends the subscription with that error', async () => {
    const { client, server } = harness();
    await client.connect();
    server.handle = (connection, message) => {
      if (message.t === MessageType.SUB) {
        connection.send({ t: MessageType.UNSUBBED, a: message.a, i: message.i, code: 'FORBIDDEN', msg: 'not a member' });
      }
    };
    const subscription = client.subscribe('guild', 'g1');
    const ends: RingstateError[] = [];
    subscription.on('end', ({ error }) => ends.push(error));
    const ready = expect(subscription.whenReady()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await settle();

    await ready;
    expect(ends.map((error) => error.code)).toEqual(['FORBIDDEN']);
    expect(subscription.endError?.code).toBe('FORBIDDEN');
    // A new subscribe starts a fresh replica.
    const again = client.subscribe('guild', 'g1');
    expect(again.doc).not.toBe(subscription.doc);
    client.close();
  });

  it('subscriptions - UNSUBBED with a retryable code resubscribes after a backoff', async () => {
    const { client, server, clock } = harness();
    await client.connect();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    [...server.connections][0]?.send({ t: MessageType.UNSUBBED, a: 'player', i: 'p1', code: 'UNAVAILABLE', msg: 'moving' });
    await settle();
    expect(server.subs).toHaveLength(1);
    server.commit('player', 'p1', (view) => view.set('after', true));
    await clock.advance(1_000);
    expect(server.subs).toHaveLength(2);
    expect(subscription.endError).toBeUndefined();
    expect(subscription.snapshot()).toEqual({ after: true });
    client.close();
  });

  it('subscriptions - duplicate UPDATEs (seq already applied) are skipped', async () => {
    const { client, server } = harness();
    await client.connect();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    const aggregate = server.aggregate('player', 'p1');
    const before = Y.encodeStateVector(aggregate.doc);
    server.commit('player', 'p1', (view) => view.set('a', 1));
    const update = Y.encodeStateAsUpdate(aggregate.doc, before);
    await settle();
    let changes = 0;
    subscription.on('change', () => (changes += 1));
    [...server.connections][0]?.send({ t: MessageType.UPDATE, a: 'player', i: 'p1', seq: 1, u: update });
    await settle();
    expect(changes).toBe(0);
    expect(subscription.seq).toBe(1);
    client.close();
  });

  it('subscriptions - a corrupt update ends the subscription with INTERNAL instead of crashing', async () => {
    const { client, server } = harness();
    await client.connect();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    const ended = new Promise<RingstateError>((resolve) => subscription.on('end', ({ error }) => resolve(error)));
    [...server.connections][0]?.send({ t: MessageType.UPDATE, a: 'player', i: 'p1', seq: 5, u: new Uint8Array([255, 255, 255, 255, 1]) });
    expect((await ended).code).toBe('INTERNAL');
    expect(client.state).toBe('online');
    client.close();
  });

  it('subscriptions - close() ends every subscription', async () => {
    const { client } = harness();
    const subscription = client.subscribe('player', 'p1');
    const ready = subscription.whenReady();
    client.close();
    await expect(ready).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(() => client.subscribe('player', 'p1')).toThrow();
  });

  it('subscriptions - the schema types commands and views', async () => {
    interface GameSchema {
      player: {
        command: { type: 'move'; x: number; y: number } | { type: 'rename'; name: string };
        view: { name: string; x: number; y: number };
      };
    }
    const { client, server } = harness<GameSchema>();
    server.commit('player', 'p1', (view) => {
      view.set('name', 'Alice');
      view.set('x', 0);
      view.set('y', 0);
    });
    await client.connect();
    await client.send('player', 'p1', { type: 'move', x: 1, y: 2 });
    // @ts-expect-error: 'jump' is not a player command.
    void client.send('player', 'p1', { type: 'jump' }).catch(() => {});
    // @ts-expect-error: 'guild' is not in the schema.
    expect(() => client.subscribe('guild', 'g1')).not.toThrow();
    const subscription = client.subscribe('player', 'p1');
    await subscription.whenReady();
    const view = subscription.snapshot();
    const name: string | undefined = view?.name;
    expect(name).toBe('Alice');
    client.close();
  });
});
