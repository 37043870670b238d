/**
 * The example game's sagas run in the test world (server/src/aggregate/test-world.ts): the trade
 * between two players, the arena's timed round, and the wallet's gold transfer. Where deliveries
 * may arrive in any order on a cluster, the test replays many seeded orders and prints the
 * failing seed.
 */
import { describe, expect, it } from 'vitest';
import { testWorld, type TestWorld } from '../../../server/src/aggregate/index.ts';
import { arena, player, trade, wallet, WALLET_START, type Item } from '../../../server/example-game/index.ts';

const gem: Item = { id: 'gem', kind: 'gem' };
const key: Item = { id: 'key', kind: 'key' };
const coin: Item = { id: 'coin', kind: 'coin' };
const SEEDS = Array.from({ length: 200 }, (_, n) => n + 1);

/** ann holds the gem, bob the key, cid the coin. */
function market(order: 'fifo' | { seed: number } = 'fifo'): TestWorld {
  const world = testWorld([player, trade], { order, autoDeliver: false });
  for (const [owner, item] of [['ann', gem], ['bob', key], ['cid', coin]] as const) {
    expect(world.command(player, owner, { type: 'pick-up', item })).toMatchObject({ kind: 'accepted' });
  }
  return world;
}

function propose(world: TestWorld, id: string, by: string, withPlayer: string, give: Item, get: Item): void {
  expect(world.command(trade, id, { type: 'propose', with: withPlayer, give: give.id, get: get.id }, { playerId: by })).toMatchObject({ kind: 'accepted' });
  expect(world.command(trade, id, { type: 'accept' }, { playerId: withPlayer })).toMatchObject({ kind: 'accepted' });
}

function inventories(world: TestWorld): Record<string, string[]> {
  return Object.fromEntries(['ann', 'bob', 'cid'].map((owner) => [owner, world.state(player, owner).inventory.map((item) => item.id).sort()]));
}

/** Every item in exactly one inventory, nothing reserved, nothing left to deliver. */
function assertSettled(world: TestWorld, label: string): void {
  const held = Object.values(inventories(world)).flat().sort();
  expect(held, `${label}: each item in exactly one inventory`).toEqual(['coin', 'gem', 'key']);
  for (const owner of ['ann', 'bob', 'cid']) expect(world.state(player, owner).reserved, `${label}: ${owner} still reserves`).toEqual({});
  expect(world.pending(), `${label}: deliveries left`).toEqual([]);
  expect(world.handlerErrors, label).toEqual([]);
}

describe('example game - trade saga', () => {
  it('trade - both items are reserved, then both swap: each ends in the other inventory', () => {
    const world = market();
    propose(world, 't1', 'ann', 'bob', gem, key);
    world.deliverDue();
    expect(world.state(trade, 't1')).toMatchObject({ phase: 'done', reserved: { ann: gem, bob: key } });
    expect(inventories(world)).toEqual({ ann: ['key'], bob: ['gem'], cid: ['coin'] });
    expect(world.events(player, 'ann').slice(1)).toEqual([
      { type: 'reserved', itemId: 'gem', trade: 't1' },
      { type: 'swapped', give: 'gem', get: key, trade: 't1' },
    ]);
    assertSettled(world, 'fifo');
  });

  it('trade - one side lacks the item: the trade fails and the other side is released, in any delivery order', () => {
    for (const seed of SEEDS) {
      const world = market({ seed });
      propose(world, 't1', 'ann', 'bob', gem, coin); // bob holds no coin
      world.deliverDue();
      expect(world.state(trade, 't1'), `seed ${seed}`).toMatchObject({ phase: 'failed', reason: 'ITEM_NOT_HELD' });
      expect(inventories(world), `seed ${seed}`).toEqual({ ann: ['gem'], bob: ['key'], cid: ['coin'] });
      assertSettled(world, `seed ${seed}`);
    }
  });

  it('trade - a reservation that arrives after the trade failed is released', () => {
    const world = market();
    propose(world, 't1', 'ann', 'bob', gem, coin);
    const reserves = world.pending(trade, 't1');
    const toBob = reserves.find((pending) => pending.item.to.id === 'bob');
    const toAnn = reserves.find((pending) => pending.item.to.id === 'ann');
    if (toBob === undefined || toAnn === undefined) throw new Error('both reserves should be pending');
    world.deliver(toBob.from, toBob.item.id); // refused: the trade fails with nothing reserved yet
    expect(world.state(trade, 't1').phase).toBe('failed');
    world.deliver(toAnn.from, toAnn.item.id); // ann reserves the gem only now...
    expect(world.state(player, 'ann').reserved).toEqual({ gem: 't1' });
    world.deliverDue(); // ...tells the trade, which answers with a release
    expect(world.events(player, 'ann').map((event) => event.type)).toEqual(['picked-up', 'reserved', 'released']);
    assertSettled(world, 'late reservation');
  });

  it('trade - concurrent trades for the same item: exactly one completes, the other releases, in any delivery order', () => {
    const done = new Set<string>();
    for (const seed of SEEDS) {
      const world = market({ seed });
      propose(world, 't1', 'ann', 'bob', gem, key);
      propose(world, 't2', 'ann', 'cid', gem, coin);
      world.deliverDue();
      const phases = [world.state(trade, 't1').phase, world.state(trade, 't2').phase].sort();
      expect(phases, `seed ${seed}`).toEqual(['done', 'failed']);
      const failed = world.state(trade, 't1').phase === 'failed' ? 't1' : 't2';
      // Refused while the other trade held the gem, or after it had swapped it away.
      expect(['ITEM_RESERVED', 'ITEM_NOT_HELD'], `seed ${seed}`).toContain(world.state(trade, failed).reason);
      done.add(failed === 't1' ? 't2' : 't1');
      assertSettled(world, `seed ${seed}`);
    }
    // The seeds reach both outcomes.
    expect([...done].sort()).toEqual(['t1', 't2']);
  });

  it('trade - three trades in a ring of contested items leave every item in one inventory, in any delivery order', () => {
    for (const seed of SEEDS) {
      const world = market({ seed });
      propose(world, 't1', 'ann', 'bob', gem, key);
      propose(world, 't2', 'bob', 'cid', key, coin);
      propose(world, 't3', 'cid', 'ann', coin, gem);
      world.deliverDue();
      const phases = ['t1', 't2', 't3'].map((id) => world.state(trade, id).phase);
      expect(phases.every((phase) => phase === 'done' || phase === 'failed'), `seed ${seed}: ${phases.join()}`).toBe(true);
      assertSettled(world, `seed ${seed}`);
    }
  });

  it('trade - a reserved item cannot be dropped; players cannot send what trades send, nor accept for another', () => {
    const world = market();
    propose(world, 't1', 'ann', 'bob', gem, key);
    const [toAnn] = world.pending(trade, 't1');
    if (toAnn === undefined) throw new Error('nothing pending');
    world.deliver(toAnn.from, toAnn.item.id);
    expect(world.command(player, 'ann', { type: 'drop', itemId: 'gem' })).toMatchObject({ kind: 'refused', code: 'REJECTED', reason: 'ITEM_RESERVED' });
    expect(world.command(player, 'ann', { type: 'release' })).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    expect(world.command(player, 'ann', { type: 'swap', give: 'gem', get: coin })).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    expect(world.command(trade, 't1', { type: 'reserved', item: coin }, { playerId: 'ann' })).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    expect(world.command(trade, 't2', { type: 'propose', with: 'bob', give: 'gem', get: 'key' }, { playerId: 'ann' })).toMatchObject({ kind: 'accepted' });
    expect(world.command(trade, 't2', { type: 'accept' }, { playerId: 'cid' })).toMatchObject({ kind: 'refused', reason: 'NOT_YOURS_TO_ACCEPT' });
    world.deliverDue();
    assertSettled(world, 'after');
  });
});

describe('example game - arena round', () => {
  function arenaWithTwo(): TestWorld {
    const world = testWorld([arena], { nowMs: 10_000 });
    world.command(arena, 'main', { type: 'enter' }, { playerId: 'ann' });
    world.command(arena, 'main', { type: 'enter' }, { playerId: 'bob' });
    return world;
  }

  it('arena round - the timer ends the round after its duration, never before; the leader wins', () => {
    const world = arenaWithTwo();
    expect(world.command(arena, 'main', { type: 'start-round', durationMs: 60_000 }, { playerId: 'ann' })).toMatchObject({ kind: 'accepted' });
    expect(world.state(arena, 'main')).toMatchObject({ round: 1, roundEndsAtMs: 70_000 });
    world.command(arena, 'main', { type: 'hit', target: 'bob', damage: 30 }, { playerId: 'ann' });
    expect(world.command(arena, 'main', { type: 'start-round', durationMs: 60_000 }, { playerId: 'bob' })).toMatchObject({ kind: 'refused', reason: 'ROUND_RUNNING' });
    world.advance(59_999);
    expect(world.state(arena, 'main').roundEndsAtMs).toBe(70_000);
    world.advance(1);
    expect(world.events(arena, 'main').at(-1)).toEqual({ type: 'round-ended', round: 1, reason: 'time', winner: 'ann' });
    expect(world.state(arena, 'main')).toMatchObject({ roundEndsAtMs: null, lastWinner: 'ann' });
    expect(world.entries(arena, 'main').at(-1)).toMatchObject({ nowMs: 70_000, playerId: '#aggregate' });
  });

  it('arena round - the last player standing ends it early and cancels the timer; the next round is not cut short by it', () => {
    const world = arenaWithTwo();
    world.command(arena, 'main', { type: 'start-round', durationMs: 60_000 }, { playerId: 'ann' });
    world.advance(1_000);
    world.command(arena, 'main', { type: 'hit', target: 'bob', damage: 50 }, { playerId: 'ann' });
    world.command(arena, 'main', { type: 'hit', target: 'bob', damage: 50 }, { playerId: 'ann' });
    expect(world.events(arena, 'main').at(-1)).toEqual({ type: 'round-ended', round: 1, reason: 'last-standing', winner: 'ann' });
    expect(world.pending()).toEqual([]);
    // A second round, started before the first one's duration would have run out.
    world.command(arena, 'main', { type: 'start-round', durationMs: 120_000 }, { playerId: 'bob' });
    expect(world.state(arena, 'main').health).toEqual({ ann: 100, bob: 100 });
    world.advance(119_999);
    expect(world.state(arena, 'main')).toMatchObject({ round: 2, roundEndsAtMs: 131_000 });
    world.advance(1);
    expect(world.events(arena, 'main').filter((event) => event.type === 'round-ended')).toEqual([
      { type: 'round-ended', round: 1, reason: 'last-standing', winner: 'ann' },
      { type: 'round-ended', round: 2, reason: 'time', winner: null },
    ]);
    expect(world.deliveries).toHaveLength(1);
  });

  it('arena round - players cannot end a round, and a round needs two players inside', () => {
    const world = testWorld([arena]);
    world.command(arena, 'main', { type: 'enter' }, { playerId: 'ann' });
    expect(world.command(arena, 'main', { type: 'start-round', durationMs: 60_000 }, { playerId: 'ann' })).toMatchObject({ kind: 'refused', reason: 'NOT_ENOUGH_PLAYERS' });
    expect(world.command(arena, 'main', { type: 'end-round', round: 1 }, { playerId: 'ann' })).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    expect(world.command(arena, 'main', { type: 'start-round', durationMs: 5 }, { playerId: 'ann' })).toMatchObject({ kind: 'refused', code: 'INVALID_COMMAND' });
  });
});

describe('example game - wallet saga', () => {
  it('wallet - gold given to open and closed wallets is conserved and each refusal refunded once, in any delivery order', () => {
    for (const seed of SEEDS.slice(0, 50)) {
      const world = testWorld([wallet], { order: { seed }, autoDeliver: false });
      world.command(wallet, 'cid', { type: 'close' });
      for (const [from, to, amount] of [['ann', 'bob', 10], ['bob', 'ann', 20], ['ann', 'cid', 30], ['bob', 'cid', 40], ['dan', 'ann', 50]] as const) {
        world.command(wallet, from, { type: 'give', to, amount });
      }
      world.deliverDue();
      const gold = ['ann', 'bob', 'cid', 'dan'].map((id) => world.state(wallet, id).gold);
      expect(gold, `seed ${seed}`).toEqual([WALLET_START + 20 + 50 - 10, WALLET_START + 10 - 20, WALLET_START, WALLET_START - 50]);
      expect(world.state(wallet, 'ann').refunded + world.state(wallet, 'bob').refunded, `seed ${seed}`).toBe(70);
      expect(world.pending(), `seed ${seed}`).toEqual([]);
    }
  });
});
