/**
 * The wallet: a player's gold, and the gold transfer between players, exactly once.
 *
 * `give` debits this wallet and sends `receive` to the other one in the same committed entry;
 * the node delivers it until the target answers (S5). If the target refuses (a closed or full
 * wallet), `refund` runs here with the reason: the gold comes back, never lost, never doubled.
 * The load tester's bank scenario (`--scenario bank`) checks that the total is conserved.
 */
import { z } from 'zod';
import { defineAggregate, reject } from '../src/aggregate/index.ts';
import { WALLET_MAX, WALLET_START, type WalletCommand, type WalletEvent, type WalletView } from './schema.ts';

export type WalletState = WalletView;

const gold = z.number().int().min(1).max(WALLET_MAX);
const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('give'), to: z.string().min(1).max(64), amount: gold }),
  z.object({ type: z.literal('receive'), amount: gold }),
  z.object({ type: z.literal('refund'), amount: gold }),
  z.object({ type: z.literal('close') }),
]) satisfies z.ZodType<WalletCommand>;

export const wallet = defineAggregate<WalletState, WalletCommand, WalletEvent>({
  type: 'wallet',
  initialState: () => ({ gold: WALLET_START, closed: false, given: 0, received: 0, refunded: 0 }),
  commandSchema,
  // Players act on their own wallet; `receive` and `refund` only come from wallets (below).
  authorize: (request) => request.action === 'read' || (request.playerId === request.aggregateId && (request.command.type === 'give' || request.command.type === 'close')),
  decide(state, command, { aggregateId, sender }) {
    switch (command.type) {
      case 'give':
        if (command.to === aggregateId) return reject('SAME_WALLET', 'give to another wallet');
        if (state.gold < command.amount) return reject('NOT_ENOUGH_GOLD', `the wallet holds ${state.gold} gold`);
        return {
          events: [{ type: 'given', to: command.to, amount: command.amount }],
          send: [{ to: { type: 'wallet', id: command.to }, command: { type: 'receive', amount: command.amount }, onRejected: { type: 'refund', amount: command.amount } }],
        };
      case 'receive':
        if (sender?.type !== 'wallet') return reject('NOT_FROM_A_WALLET', 'gold arrives from wallets only');
        if (state.closed) return reject('WALLET_CLOSED', 'this wallet takes no gold');
        if (state.gold + command.amount > WALLET_MAX) return reject('WALLET_FULL', `a wallet holds at most ${WALLET_MAX} gold`);
        return { type: 'received', from: sender.id, amount: command.amount };
      case 'refund':
        return { type: 'refunded', amount: command.amount };
      case 'close':
        return state.closed ? [] : { type: 'closed' };
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'given':
        return { ...state, gold: state.gold - event.amount, given: state.given + event.amount };
      case 'received':
        return { ...state, gold: state.gold + event.amount, received: state.received + event.amount };
      case 'refunded':
        return { ...state, gold: state.gold + event.amount, refunded: state.refunded + event.amount };
      case 'closed':
        return { ...state, closed: true };
    }
  },
  view: (state): WalletView & Record<string, unknown> => ({ ...state }),
});
