import { describe, expect, it } from 'vitest';
import { aggregateTestKit, decideCommand } from '../../../server/src/aggregate/index.ts';
import { arena, player, INVENTORY_LIMIT, type PlayerEvent } from '../../../server/example-game/index.ts';

const players = aggregateTestKit(player, { aggregateId: 'ann' });
const arenas = aggregateTestKit(arena, { aggregateId: 'main', playerId: 'ann' });

describe('example game - player', () => {
  it('player - moving emits moved; moving to the same spot emits nothing', () => {
    players.given([]).when({ type: 'move', x: 2, y: 3 }).thenEvents([{ type: 'moved', x: 2, y: 3 }]);
    players.given([{ type: 'moved', x: 2, y: 3 }]).when({ type: 'move', x: 2, y: 3 }).thenEvents([]);
  });

  it('player - picking up beyond the inventory limit is rejected with INVENTORY_FULL', () => {
    const full: PlayerEvent[] = Array.from({ length: INVENTORY_LIMIT }, (_, n) => ({ type: 'picked-up', item: { id: `i${n}`, kind: 'gem' } }));
    players.given(full).when({ type: 'pick-up', item: { id: 'one-more', kind: 'gem' } }).thenRejected('INVENTORY_FULL');
    players.given(full.slice(1)).when({ type: 'pick-up', item: { id: 'one-more', kind: 'gem' } }).thenEvents([{ type: 'picked-up', item: { id: 'one-more', kind: 'gem' } }]);
  });

  it('player - dropping an item not held is rejected; dropping a held one removes it', () => {
    players.given([]).when({ type: 'drop', itemId: 'x' }).thenRejected('ITEM_NOT_HELD');
    const state = players.given([{ type: 'picked-up', item: { id: 'x', kind: 'key' } }]).when({ type: 'drop', itemId: 'x' }).thenEvents([{ type: 'dropped', itemId: 'x' }]);
    if (state.inventory.length !== 0) throw new Error('item still held');
  });

  it('player - malformed commands are refused with INVALID_COMMAND before decide runs', () => {
    players.given([]).when({ type: 'move', x: 'far', y: 0 }).thenRefused('INVALID_COMMAND');
    players.given([]).when({ type: 'teleport' }).thenRefused('INVALID_COMMAND');
  });

  it('player - another player may not command this player', () => {
    players.given([]).when({ type: 'score', points: 1 }, { playerId: 'bob' }).thenRefused('FORBIDDEN');
  });

  it('player - a trade reserves a held item and answers the trade; a second trade is refused it', () => {
    const gem = { id: 'gem', kind: 'gem' };
    const fromTrade = (id: string) => ({ sender: { type: 'trade', id } });
    const state = players
      .given([{ type: 'picked-up', item: gem }])
      .when({ type: 'reserve', itemId: 'gem' }, fromTrade('t1'))
      .thenSends([{ to: { type: 'trade', id: 't1' }, command: { type: 'reserved', item: gem } }])
      .thenEvents([{ type: 'reserved', itemId: 'gem', trade: 't1' }]);
    if (state.reserved?.['gem'] !== 't1') throw new Error('gem not reserved');
    const reserved: PlayerEvent[] = [{ type: 'picked-up', item: gem }, { type: 'reserved', itemId: 'gem', trade: 't1' }];
    players.given(reserved).when({ type: 'reserve', itemId: 'gem' }, fromTrade('t2')).thenRejected('ITEM_RESERVED');
    players.given(reserved).when({ type: 'swap', give: 'gem', get: { id: 'key', kind: 'key' } }, fromTrade('t2')).thenRejected('NOT_RESERVED');
    players.given(reserved).when({ type: 'release' }, fromTrade('t2')).thenEvents([]);
    players.given(reserved).when({ type: 'release' }, fromTrade('t1')).thenEvents([{ type: 'released', itemId: 'gem', trade: 't1' }]);
    players.given(reserved).when({ type: 'reserve', itemId: 'gem' }).thenRefused('FORBIDDEN');
  });
});

describe('example game - arena', () => {
  it('arena - players enter, hit others inside, and cannot hit from outside', () => {
    arenas.given([]).when({ type: 'enter' }).thenEvents([{ type: 'entered', player: 'ann' }]);
    arenas.given([]).when({ type: 'hit', target: 'bob', damage: 5 }).thenRejected('NOT_IN_ARENA');
    const state = arenas
      .given([
        { type: 'entered', player: 'ann' },
        { type: 'entered', player: 'bob' },
      ])
      .when({ type: 'hit', target: 'bob', damage: 5 })
      .thenEvents([{ type: 'hit', by: 'ann', target: 'bob', damage: 5 }]);
    if (state.health['bob'] !== 95) throw new Error(`bob has ${state.health['bob']}`);
  });
});

describe('example game - data from before trades', () => {
  it('a player restored from a snapshot without `reserved` still drops, reserves and releases', () => {
    const old = { name: 'ann', x: 0, y: 0, score: 0, inventory: [{ id: 'gem', kind: 'gem' }], appendCount: 0 };
    const fromTrade = { sender: { type: 'trade', id: 't1' } };
    expect(decideCommand(player, old, { type: 'drop', itemId: 'gem' }, { playerId: 'ann', aggregateId: 'ann', commandId: 'c1', nowMs: 0 })).toMatchObject({ kind: 'accepted' });
    const reserved = decideCommand(player, old, { type: 'reserve', itemId: 'gem' }, { playerId: 'ann', aggregateId: 'ann', commandId: 'c2', nowMs: 0, ...fromTrade });
    expect(reserved).toMatchObject({ kind: 'accepted', state: { reserved: { gem: 't1' } } });
    expect(decideCommand(player, old, { type: 'release' }, { playerId: 'ann', aggregateId: 'ann', commandId: 'c3', nowMs: 0, ...fromTrade })).toMatchObject({ kind: 'accepted', events: [] });
  });
});
