/**
 * A trade between two players as a saga: no lock spans both inventories, yet an item never ends
 * up in two inventories or in none.
 *
 *   ann: propose (give gem, get key) -> bob: accept -> reserve gem on ann, reserve key on bob
 *   each player that reserves answers `reserved` -> once both have: swap on both (done)
 *   a reserve refused (item not held, reserved by another trade) -> `fail`: release both
 *
 * Deliveries to different players may arrive in any order, so the trade never assumes one:
 * a `reserved` that arrives after the trade failed is answered with a `release`.
 * The player's side (reserve, release, swap) is in player.ts.
 */
import { z } from 'zod';
import { defineAggregate, reject, type Send } from '../src/aggregate/index.ts';
import type { Item, PlayerCommand, TradeCommand, TradeEvent, TradeView } from './schema.ts';

export type TradeState = TradeView;

const id = z.string().min(1).max(64);
const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('propose'), with: id, give: id, get: id }),
  z.object({ type: z.literal('accept') }),
  z.object({ type: z.literal('reserved'), item: z.object({ id, kind: z.string().min(1).max(32) }) }),
  z.object({ type: z.literal('fail') }),
]) satisfies z.ZodType<TradeCommand>;

const toPlayer = (player: string, command: PlayerCommand, onRejected?: TradeCommand): Send => ({ to: { type: 'player', id: player }, command, ...(onRejected === undefined ? {} : { onRejected }) });
const swap = (player: string, give: Item, get: Item): Send => toPlayer(player, { type: 'swap', give: give.id, get });

export const trade = defineAggregate<TradeState, TradeCommand, TradeEvent>({
  type: 'trade',
  initialState: () => ({ phase: 'open', by: '', with: '', give: '', get: '', reserved: {}, reason: null }),
  commandSchema,
  // Players propose and accept; `reserved` comes from players' aggregates, `fail` from the node.
  authorize: (request) => request.action === 'read' || request.command.type === 'propose' || request.command.type === 'accept',
  decide(state, command, { playerId: actor, sender, rejection }) {
    switch (command.type) {
      case 'propose':
        if (state.phase !== 'open') return reject('TRADE_EXISTS', 'this trade was proposed already');
        if (command.with === actor) return reject('SAME_PLAYER', 'trade with another player');
        return { type: 'proposed', by: actor, with: command.with, give: command.give, get: command.get };
      case 'accept':
        if (state.phase !== 'proposed' || actor !== state.with) return reject('NOT_YOURS_TO_ACCEPT', 'only the other player accepts, once');
        return { events: [{ type: 'accepted' }], send: [toPlayer(state.by, { type: 'reserve', itemId: state.give }, { type: 'fail' }), toPlayer(state.with, { type: 'reserve', itemId: state.get }, { type: 'fail' })] };
      case 'reserved': {
        if (sender?.type !== 'player' || (sender.id !== state.by && sender.id !== state.with)) return reject('NOT_A_PARTY', 'reservations come from the two players');
        if (state.phase === 'failed') return { send: [toPlayer(sender.id, { type: 'release' })] };
        const reserved = { ...state.reserved, [sender.id]: command.item };
        const [mine, theirs] = [reserved[state.by], reserved[state.with]];
        const event: TradeEvent = { type: 'reserved', player: sender.id, item: command.item };
        if (mine === undefined || theirs === undefined) return event;
        return { events: [event, { type: 'done' }], send: [swap(state.by, mine, theirs), swap(state.with, theirs, mine)] };
      }
      case 'fail':
        if (rejection === undefined) return reject('NOT_A_COMPENSATION', 'a trade fails when a reservation is refused');
        if (state.phase !== 'reserving') return []; // the other side was refused as well
        return { events: [{ type: 'failed', reason: rejection.reason ?? rejection.code }], send: Object.keys(state.reserved).map((player) => toPlayer(player, { type: 'release' })) };
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'proposed':
        return { ...state, phase: 'proposed', by: event.by, with: event.with, give: event.give, get: event.get };
      case 'accepted':
        return { ...state, phase: 'reserving' };
      case 'reserved':
        return { ...state, reserved: { ...state.reserved, [event.player]: event.item } };
      case 'done':
        return { ...state, phase: 'done' };
      case 'failed':
        return { ...state, phase: 'failed', reason: event.reason };
    }
  },
  view: (state): TradeView & Record<string, unknown> => ({ ...state }),
});
