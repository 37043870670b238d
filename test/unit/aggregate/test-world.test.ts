/**
 * The test world (server/src/aggregate/test-world.ts): sends, compensations, deduplication and
 * timers between aggregates without a server, with the node's rules (runtime.ts, courier.ts).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate, reject, testWorld, type CommandContext } from '../../../server/src/aggregate/index.ts';
import { wallet, WALLET_START } from '../../../server/example-game/index.ts';

type OvenCommand =
  | { type: 'bake'; key: string; ms: number }
  | { type: 'bake-at'; key: string; atMs: number }
  | { type: 'stop'; key: string }
  | { type: 'ding'; key: string }
  | { type: 'ring'; bell: string }
  | { type: 'bell-missing' }
  | { type: 'nag'; bell: string };
type OvenEvent = { type: 'dinged'; key: string; atMs: number; by: string } | { type: 'bell-was-missing'; code: string; reason: string };

/** An oven that sets timers for itself (bake, stop) and for a bell (ring). */
const oven = defineAggregate<{ log: string[] }, OvenCommand, OvenEvent>({
  type: 'oven',
  initialState: () => ({ log: [] }),
  authorize: () => true,
  commandSchema: z.discriminatedUnion('type', [
    z.object({ type: z.literal('bake'), key: z.string(), ms: z.number() }),
    z.object({ type: z.literal('bake-at'), key: z.string(), atMs: z.number() }),
    z.object({ type: z.literal('stop'), key: z.string() }),
    z.object({ type: z.literal('ding'), key: z.string() }),
    z.object({ type: z.literal('ring'), bell: z.string() }),
    z.object({ type: z.literal('bell-missing') }),
    z.object({ type: z.literal('nag'), bell: z.string() }),
  ]),
  decide(state, command, context: CommandContext) {
    switch (command.type) {
      case 'bake':
        return { schedule: [{ key: command.key, afterMs: command.ms, command: { type: 'ding', key: command.key } }] };
      case 'bake-at':
        return { schedule: [{ key: command.key, atMs: command.atMs, command: { type: 'ding', key: command.key } }] };
      case 'stop':
        return { cancel: [command.key] };
      case 'ding':
        if (context.sender?.type !== 'oven') return reject('NOT_A_TIMER');
        return { type: 'dinged', key: command.key, atMs: context.nowMs, by: context.playerId };
      case 'ring':
        return { schedule: [{ key: 'ring', afterMs: 10, to: { type: 'bell', id: command.bell }, command: { type: 'ring' }, onRejected: { type: 'bell-missing' } }] };
      case 'bell-missing':
        if (context.rejection === undefined) return reject('NOT_A_COMPENSATION');
        return { type: 'bell-was-missing', code: context.rejection.code, reason: context.rejection.reason ?? '' };
      case 'nag':
        // A compensation this oven will refuse: `ding` from a timer to a bell comes back refused.
        return { send: [{ to: { type: 'bell', id: command.bell }, command: { type: 'ring' }, onRejected: { type: 'ding', key: 'never' } }] };
    }
  },
  evolve: (state, event) => ({ log: [...state.log, event.type === 'dinged' ? `${event.key}@${event.atMs}` : `missing:${event.code}:${event.reason}`] }),
});

const bell = defineAggregate<{ rings: number; installed: boolean }, { type: 'install' } | { type: 'ring' }, { type: 'installed' } | { type: 'rang' }>({
  type: 'bell',
  initialState: () => ({ rings: 0, installed: false }),
  commandSchema: z.discriminatedUnion('type', [z.object({ type: z.literal('install') }), z.object({ type: z.literal('ring') })]),
  authorize: () => true,
  decide: (state, command) => (command.type === 'install' ? { type: 'installed' } : state.installed ? { type: 'rang' } : reject('NOT_INSTALLED', 'no bell here')),
  evolve: (state, event) => (event.type === 'installed' ? { ...state, installed: true } : { ...state, rings: state.rings + 1 }),
});

describe('test world - sends between aggregates', () => {
  it('test world - a send is delivered once under #aggregate with context.sender, and settled', () => {
    const world = testWorld([wallet]);
    expect(world.command(wallet, 'ann', { type: 'give', to: 'bob', amount: 30 })).toMatchObject({ kind: 'accepted', duplicate: false });
    expect(world.state(wallet, 'ann').gold).toBe(WALLET_START - 30);
    expect(world.state(wallet, 'bob').gold).toBe(WALLET_START + 30);
    expect(world.events(wallet, 'bob')).toEqual([{ type: 'received', from: 'ann', amount: 30 }]);
    expect(world.entries(wallet, 'bob')[0]).toMatchObject({ playerId: '#aggregate', commandId: 'wallet/ann:1.0' });
    // The settling entry on ann, and nothing left to deliver.
    expect(world.entries(wallet, 'ann').map((entry) => entry.commandId)).toEqual(['player-command-1', 'settle:1.0']);
    expect(world.pending()).toEqual([]);
  });

  it('test world - authorize judges players only: a player may not send what aggregates send', () => {
    const world = testWorld([wallet]);
    expect(world.command(wallet, 'eve', { type: 'receive', amount: 500 })).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    expect(() => world.command(wallet, 'eve', { type: 'receive', amount: 500 }, { playerId: '#aggregate' })).toThrow(TypeError);
    expect(world.state(wallet, 'eve').gold).toBe(WALLET_START);
  });

  it('test world - a refused send runs the compensation once, with context.rejection', () => {
    const world = testWorld([wallet]);
    world.command(wallet, 'cid', { type: 'close' });
    world.command(wallet, 'ann', { type: 'give', to: 'cid', amount: 40 });
    expect(world.events(wallet, 'ann')).toEqual([
      { type: 'given', to: 'cid', amount: 40 },
      { type: 'refunded', amount: 40 },
    ]);
    expect(world.state(wallet, 'ann').gold).toBe(WALLET_START);
    expect(world.state(wallet, 'cid').gold).toBe(WALLET_START);
    // The target recorded its refusal; the compensation ran in the settling entry.
    expect(world.entries(wallet, 'cid').at(-1)).toMatchObject({ events: [], refusal: { code: 'REJECTED', reason: 'WALLET_CLOSED' } });
    expect(world.entries(wallet, 'ann').at(-1)).toMatchObject({ commandId: 'settle:1.0', events: [{ type: 'refunded', amount: 40 }], outbox: { settle: ['1.0'] } });
    expect(world.deliveries).toHaveLength(1);
  });

  it('test world - a refusal is recorded: a late copy of the delivery gets it again, the compensation still runs once', () => {
    const world = testWorld([wallet], { autoDeliver: false });
    world.command(wallet, 'cid', { type: 'close' });
    world.command(wallet, 'ann', { type: 'give', to: 'cid', amount: 40 });
    const [item] = world.pending(wallet, 'ann');
    if (item === undefined) throw new Error('nothing pending');
    // The refusal is lost on its way back; meanwhile the target changes its mind.
    expect(world.deliver(item.from, item.item.id, { settle: false }).outcome).toMatchObject({ kind: 'refused', rejection: { reason: 'WALLET_CLOSED' } });
    const again = world.deliverDue();
    expect(again.map((delivery) => delivery.outcome)).toMatchObject([{ kind: 'refused', rejection: { reason: 'WALLET_CLOSED' } }]);
    expect(world.events(wallet, 'ann').filter((event) => event.type === 'refunded')).toHaveLength(1);
    expect(world.state(wallet, 'ann').gold + world.state(wallet, 'cid').gold).toBe(2 * WALLET_START);
  });

  it('test world - delivering twice is deduplicated by the target', () => {
    const world = testWorld([wallet], { autoDeliver: false });
    world.command(wallet, 'ann', { type: 'give', to: 'bob', amount: 5 });
    expect(world.state(wallet, 'bob').gold).toBe(WALLET_START);
    const [pending] = world.pending(wallet, 'ann');
    if (pending === undefined) throw new Error('nothing pending');
    // The first answer is lost: the courier delivers the same item again.
    expect(world.deliver(pending.from, pending.item.id, { settle: false }).outcome).toEqual({ kind: 'delivered', duplicate: false });
    expect(world.deliver(pending.from, pending.item.id).outcome).toEqual({ kind: 'delivered', duplicate: true });
    expect(world.events(wallet, 'bob')).toEqual([{ type: 'received', from: 'ann', amount: 5 }]);
    expect(world.pending()).toEqual([]);
    expect(() => world.deliver(pending.from, pending.item.id)).toThrow(/no pending item/);
  });

  it('test world - a player retry under the same command id is answered as a duplicate, a reused id is refused', () => {
    const world = testWorld([wallet]);
    const first = world.command(wallet, 'ann', { type: 'give', to: 'bob', amount: 5 }, { commandId: 'c1' });
    expect(world.command(wallet, 'ann', { type: 'give', to: 'bob', amount: 5 }, { commandId: 'c1' })).toEqual({ kind: 'accepted', seq: (first as { seq: number }).seq, duplicate: true, events: [] });
    expect(world.command(wallet, 'ann', { type: 'give', to: 'bob', amount: 6 }, { commandId: 'c1' })).toMatchObject({ kind: 'refused', code: 'COMMAND_ID_REUSED' });
    expect(world.state(wallet, 'bob').gold).toBe(WALLET_START + 5);
  });

  it('test world - a compensation its own aggregate refuses is dropped, logged, and the item settled', () => {
    const world = testWorld([oven, bell]);
    world.command(oven, 'o', { type: 'nag', bell: 'b' }, { playerId: 'ann' });
    expect(world.state(oven, 'o').log).toEqual([]);
    expect(world.pending()).toEqual([]);
    expect(world.handlerErrors).toEqual([expect.objectContaining({ aggregate: 'oven/o', commandId: 'rejected:1.0', message: expect.stringContaining('NOT_A_TIMER') })]);
  });
});

describe('test world - timers', () => {
  it('test world - timers fire in due order, each at its due time and never earlier, as the player who set them', () => {
    const world = testWorld([oven], { nowMs: 1_000 });
    world.command(oven, 'o', { type: 'bake', key: 'bread', ms: 300 }, { playerId: 'ann' });
    world.command(oven, 'o', { type: 'bake', key: 'cake', ms: 100 }, { playerId: 'bob' });
    world.command(oven, 'o', { type: 'bake-at', key: 'pie', atMs: 1_200 }, { playerId: 'ann' });
    expect(world.advance(99)).toEqual([]);
    expect(world.nowMs).toBe(1_099);
    world.advance(1);
    expect(world.state(oven, 'o').log).toEqual(['cake@1100']);
    world.advance(1_000);
    expect(world.state(oven, 'o').log).toEqual(['cake@1100', 'pie@1200', 'bread@1300']);
    expect(world.events(oven, 'o').map((event) => (event.type === 'dinged' ? event.by : ''))).toEqual(['bob', 'ann', 'ann']);
    expect(world.nowMs).toBe(2_100);
    expect(world.pending()).toEqual([]);
  });

  it('test world - a cancelled timer does not fire', () => {
    const world = testWorld([oven]);
    world.command(oven, 'o', { type: 'bake', key: 'bread', ms: 100 });
    world.command(oven, 'o', { type: 'stop', key: 'bread' });
    world.command(oven, 'o', { type: 'stop', key: 'nothing-by-this-name' });
    world.advance(10_000);
    expect(world.state(oven, 'o').log).toEqual([]);
    expect(world.deliveries).toEqual([]);
  });

  it('test world - a replaced timer fires once, at the new time', () => {
    const world = testWorld([oven]);
    world.command(oven, 'o', { type: 'bake', key: 'bread', ms: 100 });
    world.advance(50);
    world.command(oven, 'o', { type: 'bake', key: 'bread', ms: 100 });
    world.advance(99);
    expect(world.state(oven, 'o').log).toEqual([]);
    world.advance(10_000);
    expect(world.state(oven, 'o').log).toEqual(['bread@150']);
  });

  it('test world - a timer to itself settles in its own entry: fired once even when its answer is lost', () => {
    const world = testWorld([oven], { autoDeliver: false });
    world.command(oven, 'o', { type: 'bake', key: 'bread', ms: 0 });
    const [timer] = world.pending(oven, 'o');
    if (timer === undefined) throw new Error('nothing pending');
    world.deliver(timer.from, timer.item.id, { settle: false });
    // Delivered and settled in its own entry: nothing left pending, and it fired once.
    expect(world.pending()).toEqual([]);
    expect(world.state(oven, 'o').log).toEqual(['bread@0']);
  });

  it('test world - a timer is never delivered before it is due, even by hand', () => {
    const world = testWorld([oven], { autoDeliver: false });
    world.command(oven, 'o', { type: 'bake', key: 'bread', ms: 10 });
    const [timer] = world.pending(oven, 'o');
    if (timer === undefined) throw new Error('nothing pending');
    expect(() => world.deliver(timer.from, timer.item.id)).toThrow(/never fires early/);
  });

  it('test world - a timer for another aggregate that refuses it runs the compensation on the sender', () => {
    const world = testWorld([oven, bell]);
    world.command(oven, 'o', { type: 'ring', bell: 'b' });
    world.advance(10);
    expect(world.state(oven, 'o').log).toEqual(['missing:REJECTED:NOT_INSTALLED']);
    world.command(bell, 'b', { type: 'install' });
    world.command(oven, 'o', { type: 'ring', bell: 'b' });
    world.advance(10);
    expect(world.state(bell, 'b').rings).toBe(1);
  });
});

describe('test world - checks', () => {
  it('test world - a decision that sends to an unregistered type is refused with HANDLER_ERROR, nothing committed', () => {
    const world = testWorld([oven]);
    expect(world.command(oven, 'o', { type: 'ring', bell: 'b' })).toMatchObject({ kind: 'refused', code: 'HANDLER_ERROR' });
    expect(world.entries(oven, 'o')).toEqual([]);
    expect(world.handlerErrors).toHaveLength(1);
  });

  it('test world - a saga that never settles is reported instead of looping', () => {
    const pinger = defineAggregate<null, { type: 'ping' }, { type: 'pinged' }>({
      type: 'pinger',
      initialState: () => null,
      commandSchema: z.object({ type: z.literal('ping') }),
      decide: (_state, _command, { aggregateId }) => ({ events: [{ type: 'pinged' }], send: [{ to: { type: 'pinger', id: aggregateId === 'a' ? 'b' : 'a' }, command: { type: 'ping' } }] }),
      evolve: (state) => state,
    });
    const world = testWorld([pinger], { deliveriesMax: 50 });
    expect(() => world.command(pinger, 'a', { type: 'ping' })).toThrow(/did not settle after 50/);
  });
});
