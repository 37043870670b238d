/**
 * The player aggregate: position, inventory with a limit, score, and a list-append history
 * used by the load tester's loss oracle.
 */
import { z } from 'zod';
import { defineAggregate, reject } from '../src/aggregate/index.ts';
import { INVENTORY_LIMIT, type Item, type PlayerCommand, type PlayerEvent, type PlayerView } from './schema.ts';

export interface PlayerState {
  name: string;
  x: number;
  y: number;
  score: number;
  inventory: Item[];
  appendCount: number;
}

const coordinate = z.number().finite().min(-1_000_000).max(1_000_000);
const itemSchema = z.object({ id: z.string().min(1).max(64), kind: z.string().min(1).max(32) });

const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('join'), name: z.string().min(1).max(32) }),
  z.object({ type: z.literal('move'), x: coordinate, y: coordinate }),
  z.object({ type: z.literal('pick-up'), item: itemSchema }),
  z.object({ type: z.literal('drop'), itemId: z.string().min(1).max(64) }),
  z.object({ type: z.literal('score'), points: z.number().int().min(-1000).max(1000) }),
  z.object({ type: z.literal('append'), value: z.string().min(1).max(128) }),
]) satisfies z.ZodType<PlayerCommand>;

export const player = defineAggregate<PlayerState, PlayerCommand, PlayerEvent>({
  type: 'player',
  initialState: () => ({ name: '', x: 0, y: 0, score: 0, inventory: [], appendCount: 0 }),
  commandSchema,
  decide(state, command) {
    switch (command.type) {
      case 'join':
        return { type: 'joined', name: command.name };
      case 'move':
        if (state.x === command.x && state.y === command.y) return [];
        return { type: 'moved', x: command.x, y: command.y };
      case 'pick-up':
        if (state.inventory.length >= INVENTORY_LIMIT) return reject('INVENTORY_FULL', `inventory holds at most ${INVENTORY_LIMIT} items`);
        if (state.inventory.some((item) => item.id === command.item.id)) return reject('ITEM_ALREADY_HELD', `item ${command.item.id} is already held`);
        return { type: 'picked-up', item: command.item };
      case 'drop':
        if (!state.inventory.some((item) => item.id === command.itemId)) return reject('ITEM_NOT_HELD', `item ${command.itemId} is not held`);
        return { type: 'dropped', itemId: command.itemId };
      case 'score':
        return { type: 'scored', points: command.points };
      case 'append':
        return { type: 'appended', value: command.value };
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'joined':
        return { ...state, name: event.name };
      case 'moved':
        return { ...state, x: event.x, y: event.y };
      case 'picked-up':
        return { ...state, inventory: [...state.inventory, event.item] };
      case 'dropped':
        return { ...state, inventory: state.inventory.filter((item) => item.id !== event.itemId) };
      case 'scored':
        return { ...state, score: state.score + event.points };
      case 'appended':
        return { ...state, appendCount: state.appendCount + 1 };
    }
  },
  view: (state): PlayerView & Record<string, unknown> => ({ ...state }),
});
