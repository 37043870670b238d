import { describe, it } from 'vitest';
import { aggregateTestKit } from '../../../server/src/aggregate/index.ts';
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
