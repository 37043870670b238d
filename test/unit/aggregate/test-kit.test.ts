/**
 * The test kit's checks of what a command asks of the outbox (sends, timers, cancels), and the
 * readable failures they give.
 */
import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { aggregateTestKit } from '../../../server/src/aggregate/index.ts';
import { arena, trade, wallet } from '../../../server/example-game/index.ts';

const wallets = aggregateTestKit(wallet, { aggregateId: 'ann' });
const arenas = aggregateTestKit(arena, { aggregateId: 'main', playerId: 'ann', nowMs: 5_000 });
const toBob = { to: { type: 'wallet', id: 'bob' }, command: { type: 'receive', amount: 5 }, onRejected: { type: 'refund', amount: 5 } };

describe('test kit - decisions', () => {
  it('test kit - thenSends checks the sends and chains into thenEvents', () => {
    const state = wallets.given([]).when({ type: 'give', to: 'bob', amount: 5 }).thenSends([toBob]).thenSchedules([]).thenCancels([]).thenEvents([{ type: 'given', to: 'bob', amount: 5 }]);
    expect(state.gold).toBe(995);
  });

  it('test kit - thenDecision checks events, sends, timers and cancels together; omitted parts must be empty', () => {
    wallets.given([]).when({ type: 'give', to: 'bob', amount: 5 }).thenDecision({ events: [{ type: 'given', to: 'bob', amount: 5 }], send: [toBob] });
    expect(() => wallets.given([]).when({ type: 'give', to: 'bob', amount: 5 }).thenDecision({ events: [{ type: 'given', to: 'bob', amount: 5 }] })).toThrow(AssertionError);
  });

  it('test kit - a wrong send fails with a diff that names the part', () => {
    const failure = catchAssertion(() => wallets.given([]).when({ type: 'give', to: 'bob', amount: 5 }).thenSends([{ ...toBob, command: { type: 'receive', amount: 6 } }]));
    expect(failure.message).toContain('send');
    expect(failure.message).toMatch(/amount: 6/);
  });

  it('test kit - a refused command fails thenSends with its code and reason', () => {
    const failure = catchAssertion(() => wallets.given([]).when({ type: 'give', to: 'ann', amount: 5 }).thenSends([]));
    expect(failure.message).toMatch(/refused: REJECTED SAME_WALLET/);
  });

  it('test kit - context.sender and context.rejection can be given to when()', () => {
    wallets.given([]).when({ type: 'receive', amount: 5 }, { sender: { type: 'wallet', id: 'bob' }, playerId: 'bob' }).thenEvents([{ type: 'received', from: 'bob', amount: 5 }]);
    wallets.given([]).when({ type: 'receive', amount: 5 }, { playerId: 'ann' }).thenRefused('FORBIDDEN');
    const trades = aggregateTestKit(trade, { aggregateId: 't1', playerId: 'ann' });
    const reserving = [{ type: 'proposed' as const, by: 'ann', with: 'bob', give: 'gem', get: 'key' }, { type: 'accepted' as const }, { type: 'reserved' as const, player: 'ann', item: { id: 'gem', kind: 'gem' } }];
    trades
      .given(reserving)
      .when({ type: 'fail' }, { rejection: { code: 'REJECTED', reason: 'ITEM_NOT_HELD', message: 'item key is not held' } })
      .thenDecision({ events: [{ type: 'failed', reason: 'ITEM_NOT_HELD' }], send: [{ to: { type: 'player', id: 'ann' }, command: { type: 'release' } }] });
    trades.given(reserving).when({ type: 'fail' }).thenRefused('FORBIDDEN');
  });

  it('test kit - thenSchedules and thenCancels check timers (arena rounds)', () => {
    const inside = [{ type: 'entered' as const, player: 'ann' }, { type: 'entered' as const, player: 'bob' }];
    arenas
      .given(inside)
      .when({ type: 'start-round', durationMs: 60_000 })
      .thenSchedules([{ key: 'round', afterMs: 60_000, command: { type: 'end-round', round: 1 } }])
      .thenCancels([]);
    const running = [...inside, { type: 'round-started' as const, round: 1, by: 'ann', endsAtMs: 65_000 }];
    arenas.given(running).when({ type: 'hit', target: 'bob', damage: 50 }).thenCancels([]);
    arenas
      .given([...running, { type: 'hit' as const, by: 'ann', target: 'bob', damage: 50 }])
      .when({ type: 'hit', target: 'bob', damage: 50 })
      .thenCancels(['round'])
      .thenEvents([
        { type: 'hit', by: 'ann', target: 'bob', damage: 50 },
        { type: 'round-ended', round: 1, reason: 'last-standing', winner: 'ann' },
      ]);
  });
});

function catchAssertion(run: () => unknown): AssertionError {
  try {
    run();
  } catch (error) {
    if (error instanceof AssertionError) return error;
    throw error;
  }
  throw new Error('expected an AssertionError');
}
