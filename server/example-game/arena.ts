/**
 * The arena: a shared aggregate many players act on (enter, hit each other, trade).
 * Any player may read it; a player may only act as itself, and only once inside.
 *
 * Timed rounds: `start-round` sets a timer (key "round") that sends `end-round` to this arena
 * after the round's duration; a hit that leaves one player standing ends the round early and
 * cancels the timer. The timer carries its round number, so an `end-round` for a round that is
 * no longer running changes nothing.
 */
import { z } from 'zod';
import { defineAggregate, reject } from '../src/aggregate/index.ts';
import { ARENA_CAPACITY, ROUND_MAX_MS, ROUND_MIN_MS, START_HEALTH, type ArenaCommand, type ArenaEvent, type ArenaView } from './schema.ts';

export type ArenaState = ArenaView;

const ROUND_TIMER = 'round';

const playerId = z.string().min(1).max(64);
const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('enter') }),
  z.object({ type: z.literal('leave') }),
  z.object({ type: z.literal('hit'), target: playerId, damage: z.number().int().min(1).max(50) }),
  z.object({ type: z.literal('trade'), with: playerId, give: z.string().min(1).max(64), get: z.string().min(1).max(64) }),
  z.object({ type: z.literal('start-round'), durationMs: z.number().int().min(ROUND_MIN_MS).max(ROUND_MAX_MS) }),
  z.object({ type: z.literal('end-round'), round: z.number().int().min(1) }),
]) satisfies z.ZodType<ArenaCommand>;

export const arena = defineAggregate<ArenaState, ArenaCommand, ArenaEvent>({
  type: 'arena',
  initialState: () => ({ players: [], health: {}, trades: 0, lastHit: null, round: 0, roundEndsAtMs: null, lastWinner: null }),
  commandSchema,
  // Any player acts as itself; `end-round` is the round's timer, never a player's.
  authorize: (request) => request.action === 'read' || request.command.type !== 'end-round',
  decide(state, command, { playerId: actor, aggregateId, nowMs, sender }) {
    const inside = state.players.includes(actor);
    switch (command.type) {
      case 'enter':
        if (inside) return [];
        if (state.players.length >= ARENA_CAPACITY) return reject('ARENA_FULL', `the arena holds ${ARENA_CAPACITY} players`);
        return { type: 'entered', player: actor };
      case 'leave':
        return inside ? { type: 'left', player: actor } : [];
      case 'hit': {
        if (!inside) return reject('NOT_IN_ARENA', 'enter the arena first');
        if (!state.players.includes(command.target)) return reject('TARGET_NOT_IN_ARENA', `${command.target} is not in the arena`);
        const hit: ArenaEvent = { type: 'hit', by: actor, target: command.target, damage: command.damage };
        if (state.roundEndsAtMs === null) return hit;
        const standing = state.players.filter((id) => (state.health[id] ?? 0) - (id === command.target ? command.damage : 0) > 0);
        if (standing.length > 1) return hit;
        // One player left (or none): the round ends now, and its timer must not end the next one.
        return { events: [hit, { type: 'round-ended', round: state.round, reason: 'last-standing', winner: standing[0] ?? null }], cancel: [ROUND_TIMER] };
      }
      case 'trade':
        if (!inside) return reject('NOT_IN_ARENA', 'enter the arena first');
        if (!state.players.includes(command.with)) return reject('TARGET_NOT_IN_ARENA', `${command.with} is not in the arena`);
        return { type: 'traded', a: actor, b: command.with, give: command.give, get: command.get };
      case 'start-round': {
        if (!inside) return reject('NOT_IN_ARENA', 'enter the arena first');
        if (state.roundEndsAtMs !== null) return reject('ROUND_RUNNING', `round ${state.round} is running`);
        if (state.players.length < 2) return reject('NOT_ENOUGH_PLAYERS', 'a round needs two players inside');
        const round = state.round + 1;
        return {
          events: [{ type: 'round-started', round, by: actor, endsAtMs: nowMs + command.durationMs }],
          schedule: [{ key: ROUND_TIMER, afterMs: command.durationMs, command: { type: 'end-round', round } }],
        };
      }
      case 'end-round':
        if (sender?.type !== 'arena' || sender.id !== aggregateId) return reject('NOT_A_TIMER', 'rounds end by their timer');
        if (command.round !== state.round || state.roundEndsAtMs === null) return [];
        return { type: 'round-ended', round: command.round, reason: 'time', winner: leader(state.health) };
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'entered':
        return { ...state, players: [...state.players, event.player], health: { ...state.health, [event.player]: START_HEALTH } };
      case 'left': {
        const health = { ...state.health };
        delete health[event.player];
        return { ...state, players: state.players.filter((id) => id !== event.player), health };
      }
      case 'hit': {
        const remaining = Math.max(0, (state.health[event.target] ?? 0) - event.damage);
        return { ...state, health: { ...state.health, [event.target]: remaining }, lastHit: { by: event.by, target: event.target, damage: event.damage } };
      }
      case 'traded':
        return { ...state, trades: state.trades + 1 };
      case 'round-started':
        return { ...state, round: event.round, roundEndsAtMs: event.endsAtMs, health: Object.fromEntries(state.players.map((id) => [id, START_HEALTH])) };
      case 'round-ended':
        return { ...state, roundEndsAtMs: null, lastWinner: event.winner };
    }
  },
  view: (state): ArenaView & Record<string, unknown> => ({ ...state }),
});

/** The one player with the most health, or null on a tie. */
function leader(health: Record<string, number>): string | null {
  const ranked = Object.entries(health).sort(([, a], [, b]) => b - a);
  const [first, second] = ranked;
  return first === undefined || (second !== undefined && second[1] === first[1]) ? null : first[0];
}
