/**
 * The arena: a shared aggregate many players act on (enter, hit each other, trade).
 * Any player may read it; a player may only act as itself, and only once inside.
 */
import { z } from 'zod';
import { defineAggregate, reject } from '../src/aggregate/index.ts';
import { ARENA_CAPACITY, START_HEALTH, type ArenaCommand, type ArenaEvent, type ArenaView } from './schema.ts';

export interface ArenaState {
  players: string[];
  health: Record<string, number>;
  trades: number;
  lastHit: { by: string; target: string; damage: number } | null;
}

const playerId = z.string().min(1).max(64);
const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('enter') }),
  z.object({ type: z.literal('leave') }),
  z.object({ type: z.literal('hit'), target: playerId, damage: z.number().int().min(1).max(50) }),
  z.object({ type: z.literal('trade'), with: playerId, give: z.string().min(1).max(64), get: z.string().min(1).max(64) }),
]) satisfies z.ZodType<ArenaCommand>;

export const arena = defineAggregate<ArenaState, ArenaCommand, ArenaEvent>({
  type: 'arena',
  initialState: () => ({ players: [], health: {}, trades: 0, lastHit: null }),
  commandSchema,
  authorize: () => true,
  decide(state, command, { playerId: actor }) {
    const inside = state.players.includes(actor);
    switch (command.type) {
      case 'enter':
        if (inside) return [];
        if (state.players.length >= ARENA_CAPACITY) return reject('ARENA_FULL', `the arena holds ${ARENA_CAPACITY} players`);
        return { type: 'entered', player: actor };
      case 'leave':
        return inside ? { type: 'left', player: actor } : [];
      case 'hit':
        if (!inside) return reject('NOT_IN_ARENA', 'enter the arena first');
        if (!state.players.includes(command.target)) return reject('TARGET_NOT_IN_ARENA', `${command.target} is not in the arena`);
        return { type: 'hit', by: actor, target: command.target, damage: command.damage };
      case 'trade':
        if (!inside) return reject('NOT_IN_ARENA', 'enter the arena first');
        if (!state.players.includes(command.with)) return reject('TARGET_NOT_IN_ARENA', `${command.with} is not in the arena`);
        return { type: 'traded', a: actor, b: command.with, give: command.give, get: command.get };
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
    }
  },
  view: (state): ArenaView & Record<string, unknown> => ({ ...state }),
});
