/**
 * The outbox end to end on one node (LMDB store, single-node log, runtime, router, courier):
 * sends are delivered once and settled, refusals run the sender's compensation, timers fire
 * once no earlier than asked, cancels and replacements hold, and a restarted node (a new
 * owner) delivers what was still pending.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AggregateRegistry, AggregateRuntime, defineAggregate, reject, type CommandContext } from '../../../server/src/aggregate/index.ts';
import { LogStore } from '../../../server/src/log/index.ts';
import { Courier } from '../../../server/src/outbox/index.ts';
import { LocalPartitionLog } from '../../../server/src/partition/index.ts';
import { CommandRouter, InFlightCommands } from '../../../server/src/router/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

type AccountState = { balance: number; closed: boolean; ticks: number; log: string[] };
type AccountCommand =
  | { type: 'open'; balance: number }
  | { type: 'pay'; to: string; amount: number }
  | { type: 'credit'; amount: number }
  | { type: 'refund'; amount: number }
  | { type: 'close' }
  | { type: 'reopen' }
  | { type: 'tickIn'; ms: number; key: string }
  | { type: 'tick'; key: string }
  | { type: 'cancelTick'; key: string };
type AccountEvent =
  | { type: 'opened'; balance: number }
  | { type: 'debited'; amount: number; to: string }
  | { type: 'credited'; amount: number; from: string }
  | { type: 'refunded'; amount: number; code: string }
  | { type: 'closed' }
  | { type: 'reopened' }
  | { type: 'ticked'; key: string; atMs: number };

const account = defineAggregate<AccountState, AccountCommand, AccountEvent>({
  type: 'account',
  initialState: () => ({ balance: 0, closed: false, ticks: 0, log: [] }),
  commandSchema: z.discriminatedUnion('type', [
    z.object({ type: z.literal('open'), balance: z.number() }),
    z.object({ type: z.literal('pay'), to: z.string(), amount: z.number().positive() }),
    z.object({ type: z.literal('credit'), amount: z.number().positive() }),
    z.object({ type: z.literal('refund'), amount: z.number().positive() }),
    z.object({ type: z.literal('close') }),
    z.object({ type: z.literal('reopen') }),
    z.object({ type: z.literal('tickIn'), ms: z.number(), key: z.string() }),
    z.object({ type: z.literal('tick'), key: z.string() }),
    z.object({ type: z.literal('cancelTick'), key: z.string() }),
  ]),
  // Players may not credit or refund themselves; aggregates may (authorize judges players only).
  authorize: (request) => request.action === 'read' || (request.command.type !== 'credit' && request.command.type !== 'refund'),
  decide(state, command, context: CommandContext) {
    switch (command.type) {
      case 'open':
        return { type: 'opened', balance: command.balance };
      case 'pay':
        if (state.balance < command.amount) return reject('INSUFFICIENT_FUNDS');
        return {
          events: [{ type: 'debited', amount: command.amount, to: command.to }],
          send: [{ to: { type: 'account', id: command.to }, command: { type: 'credit', amount: command.amount }, onRejected: { type: 'refund', amount: command.amount } }],
        };
      case 'credit':
        if (context.sender?.type !== 'account') return reject('NOT_FROM_AN_ACCOUNT');
        if (state.closed) return reject('ACCOUNT_CLOSED');
        return { type: 'credited', amount: command.amount, from: context.sender.id };
      case 'refund':
        return { type: 'refunded', amount: command.amount, code: context.rejection?.reason ?? context.rejection?.code ?? '?' };
      case 'close':
        return { type: 'closed' };
      case 'reopen':
        return { type: 'reopened' };
      case 'tickIn':
        return { schedule: [{ key: command.key, afterMs: command.ms, command: { type: 'tick', key: command.key } }] };
      case 'tick':
        return { type: 'ticked', key: command.key, atMs: context.nowMs };
      case 'cancelTick':
        return { cancel: [command.key] };
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'opened':
        return { ...state, balance: event.balance };
      case 'debited':
        return { ...state, balance: state.balance - event.amount };
      case 'credited':
        return { ...state, balance: state.balance + event.amount };
      case 'refunded':
        return { ...state, balance: state.balance + event.amount, log: [...state.log, `refund:${event.code}`] };
      case 'closed':
        return { ...state, closed: true };
      case 'reopened':
        return { ...state, closed: false };
      case 'ticked':
        return { ...state, ticks: state.ticks + 1, log: [...state.log, `tick:${event.key}@${event.atMs}`] };
    }
  },
});

let dir: ReturnType<typeof tempDir>;

interface Node {
  store: LogStore;
  runtime: AggregateRuntime;
  courier: Courier;
  stop(): Promise<void>;
}

async function startNode(): Promise<Node> {
  const store = LogStore.open({ path: dir.path, durability: 'os' });
  const log = new LocalPartitionLog(store);
  await log.start();
  const runtime = new AggregateRuntime({
    registry: new AggregateRegistry([account]),
    store,
    log,
    nowMs: Date.now,
    settings: { partitionCount: 8, snapshotEveryEvents: 5, aggregateIdleMs: 60_000, activeAggregatesMax: 1000, commandQueueMax: 100, docResidentMs: 60_000 },
  });
  const router = new CommandRouter({ runtime, admission: new InFlightCommands(1000, () => performance.now()) });
  const courier = new Courier({
    log,
    store,
    route: (request) => router.route(request),
    settle: (request) => runtime.settle(request),
    partitionCount: 8,
    nowMs: Date.now,
    timers: { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) },
    random: Math.random,
    settings: { pollMs: 10, retryMinMs: 10, retryMaxMs: 100 },
  });
  courier.start();
  return {
    store,
    runtime,
    courier,
    async stop() {
      courier.stop();
      await log.stop();
      await store.close();
    },
  };
}

let counter = 0;
const run = (node: Node, id: string, command: AccountCommand) =>
  node.runtime.execute({ aggregateType: 'account', aggregateId: id, playerId: id, commandId: `c${(counter += 1)}`, command });

function stateOf(node: Node, id: string): AccountState {
  let state = account.initialState(id);
  for (const entry of node.store.aggregateEntries(node.runtime.partitionOf('account', id), `account/${id}`, 0)) {
    for (const event of entry.events) state = account.evolve(state, event as AccountEvent);
  }
  return state;
}

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeEach(() => {
  dir = tempDir('outbox');
});
afterEach(() => dir.remove());

describe('outbox courier on one node', () => {
  it('delivers a send once, settles it, and conserves the total', async () => {
    const node = await startNode();
    try {
      await run(node, 'ann', { type: 'open', balance: 100 });
      await run(node, 'bob', { type: 'open', balance: 0 });
      for (let i = 0; i < 10; i += 1) await run(node, 'ann', { type: 'pay', to: 'bob', amount: 7 });
      await until(() => stateOf(node, 'bob').balance === 70 && node.store.outboxOf(node.runtime.partitionOf('account', 'ann'), 'account/ann').length === 0);
      expect(stateOf(node, 'ann').balance).toBe(30);
      expect(node.courier.pendingCount).toBe(0);
      // Each credit came from ann, once, under the reserved delivery player.
      const credits = node.store.aggregateEntries(node.runtime.partitionOf('account', 'bob'), 'account/bob', 0).filter((entry) => entry.events.some((event) => (event as AccountEvent).type === 'credited'));
      expect(credits).toHaveLength(10);
      expect(new Set(credits.map((entry) => entry.commandId)).size).toBe(10);
      expect(credits.every((entry) => entry.playerId === '#aggregate' && entry.commandId.startsWith('account/ann:'))).toBe(true);
    } finally {
      await node.stop();
    }
  });

  it('runs the compensation once when the target refuses, with its reason', async () => {
    const node = await startNode();
    try {
      await run(node, 'ann', { type: 'open', balance: 50 });
      await run(node, 'cid', { type: 'close' });
      await run(node, 'ann', { type: 'pay', to: 'cid', amount: 20 });
      await until(() => stateOf(node, 'ann').log.length === 1 && node.courier.pendingCount === 0);
      expect(stateOf(node, 'ann')).toMatchObject({ balance: 50, log: ['refund:ACCOUNT_CLOSED'] });
      expect(stateOf(node, 'cid').balance).toBe(0);
    } finally {
      await node.stop();
    }
  });

  it('refuses a player who tries to credit directly (authorize), but not the aggregate', async () => {
    const node = await startNode();
    try {
      await expect(run(node, 'eve', { type: 'credit', amount: 1_000 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      // A player cannot claim the delivery identity either: it is not a valid player id, and
      // a command without `sender` is judged by authorize like any other.
      await expect(node.runtime.execute({ aggregateType: 'account', aggregateId: 'eve', playerId: '#aggregate', commandId: 'account/ann:9.0', command: { type: 'credit', amount: 5 } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      await node.stop();
    }
  });

  it('fires a timer once, no earlier than asked; a cancelled or replaced timer does not fire', async () => {
    const node = await startNode();
    try {
      await run(node, 'tim', { type: 'open', balance: 0 });
      const setAt = Date.now();
      await run(node, 'tim', { type: 'tickIn', ms: 80, key: 'a' });
      await run(node, 'tim', { type: 'tickIn', ms: 60, key: 'b' });
      await run(node, 'tim', { type: 'tickIn', ms: 60, key: 'c' });
      await run(node, 'tim', { type: 'cancelTick', key: 'b' });
      await run(node, 'tim', { type: 'tickIn', ms: 120, key: 'c' }); // replaces c
      await until(() => stateOf(node, 'tim').ticks === 2 && node.courier.pendingCount === 0);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const { log } = stateOf(node, 'tim');
      expect(log.map((line) => line.split('@')[0])).toEqual(['tick:a', 'tick:c']);
      const firedA = Number(log[0]?.split('@')[1]);
      const firedC = Number(log[1]?.split('@')[1]);
      expect(firedA - setAt).toBeGreaterThanOrEqual(80);
      expect(firedC - setAt).toBeGreaterThanOrEqual(120);
    } finally {
      await node.stop();
    }
  });

  it('a restarted node delivers what was pending when it stopped, once', async () => {
    let node = await startNode();
    await run(node, 'ann', { type: 'open', balance: 100 });
    await run(node, 'bob', { type: 'open', balance: 0 });
    node.courier.stop(); // the "owner" dies before delivering
    await run(node, 'ann', { type: 'pay', to: 'bob', amount: 40 });
    await run(node, 'tim', { type: 'tickIn', ms: 1, key: 'x' });
    await node.stop();
    node = await startNode();
    try {
      await until(() => stateOf(node, 'bob').balance === 40 && stateOf(node, 'tim').ticks === 1 && node.courier.pendingCount === 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stateOf(node, 'bob').balance).toBe(40);
      expect(stateOf(node, 'tim').ticks).toBe(1);
      expect(stateOf(node, 'ann').balance).toBe(60);
    } finally {
      await node.stop();
    }
  });

  it('records a delivery refused for good: a late copy of it gets the same refusal after the state changed', async () => {
    const node = await startNode();
    try {
      node.courier.stop();
      await run(node, 'cid', { type: 'close' });
      const delivery = { aggregateType: 'account', aggregateId: 'cid', playerId: '#aggregate', commandId: 'account/ann:3.0', command: { type: 'credit', amount: 5 }, sender: { type: 'account', id: 'ann', item: '3.0', playerId: 'ann' } };
      await expect(node.runtime.execute(delivery)).rejects.toMatchObject({ code: 'REJECTED', reason: 'ACCOUNT_CLOSED' });
      const seqAfterRefusal = node.store.aggregateSeq('account/cid');
      // The account reopens, so the credit decided again would be accepted...
      await run(node, 'cid', { type: 'reopen' });
      // ...yet the same delivery, arriving late, is answered as before and changes nothing.
      await expect(node.runtime.execute(delivery)).rejects.toMatchObject({ code: 'REJECTED', reason: 'ACCOUNT_CLOSED' });
      expect(node.store.aggregateSeq('account/cid')).toBe(seqAfterRefusal + 1);
      expect(stateOf(node, 'cid').balance).toBe(0);
      // Also while the first attempt is still committing.
      const again = { ...delivery, commandId: 'account/ann:4.0', sender: { ...delivery.sender, item: '4.0' } };
      await run(node, 'cid', { type: 'close' });
      const [first, second] = await Promise.allSettled([node.runtime.execute(again), node.runtime.execute(again)]);
      expect(first).toMatchObject({ status: 'rejected', reason: { code: 'REJECTED' } });
      expect(second).toMatchObject({ status: 'rejected', reason: { code: 'REJECTED' } });
    } finally {
      await node.stop();
    }
  });

  it('refuses a decision that sends to an unknown aggregate type (HANDLER_ERROR, nothing committed)', async () => {
    const bad = defineAggregate<Record<string, never>, { type: 'go' }, { type: 'went' }>({
      type: 'bad',
      initialState: () => ({}),
      commandSchema: z.object({ type: z.literal('go') }),
      authorize: () => true,
      decide: () => ({ events: [{ type: 'went' }], send: [{ to: { type: 'nope', id: 'x' }, command: { type: 'hi' } }] }),
      evolve: (state) => state,
    });
    const store = LogStore.open({ path: dir.path, durability: 'os' });
    try {
      const log = new LocalPartitionLog(store);
      await log.start();
      const runtime = new AggregateRuntime({
        registry: new AggregateRegistry([bad]),
        store,
        log,
        nowMs: Date.now,
        settings: { partitionCount: 8, snapshotEveryEvents: 5, aggregateIdleMs: 60_000, activeAggregatesMax: 1000, commandQueueMax: 100, docResidentMs: 60_000 },
      });
      await expect(runtime.execute({ aggregateType: 'bad', aggregateId: 'b', playerId: 'b', commandId: 'c1', command: { type: 'go' } })).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
      expect(store.aggregateSeq('bad/b')).toBe(0);
      await log.stop();
    } finally {
      await store.close();
    }
  });
});
