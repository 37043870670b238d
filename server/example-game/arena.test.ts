/**
 * An aggregate's own test, next to it, as a game developer writes one: vitest.config.ts picks up
 * `*.test.ts` under server/ as well as under test/ (docs/game-developers.md, "Testing aggregates").
 */
import { describe, it } from 'vitest';
import { aggregateTestKit } from '../src/aggregate/index.ts';
import { arena } from './arena.ts';

const arenas = aggregateTestKit(arena, { aggregateId: 'main', playerId: 'ann' });

describe('example game - arena next to its test', () => {
  it('arena - leaving an arena one never entered emits nothing; entering twice is not an error', () => {
    arenas.given([]).when({ type: 'leave' }).thenEvents([]);
    arenas.given([{ type: 'entered', player: 'ann' }]).when({ type: 'leave' }).thenEvents([{ type: 'left', player: 'ann' }]);
    arenas.given([{ type: 'entered', player: 'ann' }]).when({ type: 'enter' }).thenEvents([]);
  });

  it('arena - a trade needs both players inside', () => {
    arenas.given([{ type: 'entered', player: 'ann' }]).when({ type: 'trade', with: 'bob', give: 'gem', get: 'key' }).thenRejected('TARGET_NOT_IN_ARENA');
  });
});
