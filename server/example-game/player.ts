/**
 * The player aggregate: position, inventory with a limit, score, and a list-append history
 * used by the load tester's loss oracle. Its side of a trade (trade.ts): an item reserved for a
 * trade stays in the inventory but cannot be dropped or reserved again until the trade swaps
 * or releases it.
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
  /** item id -> the trade holding it. Optional: snapshots taken before trades existed lack it. */
  reserved?: Record<string, string>;
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
  z.object({ type: z.literal('reserve'), itemId: z.string().min(1).max(64) }),
  z.object({ type: z.literal('release') }),
  z.object({ type: z.literal('swap'), give: z.string().min(1).max(64), get: itemSchema }),
]) satisfies z.ZodType<PlayerCommand>;

export const player = defineAggregate<PlayerState, PlayerCommand, PlayerEvent>({
  type: 'player',
  initialState: () => ({ name: '', x: 0, y: 0, score: 0, inventory: [], appendCount: 0, reserved: {} }),
  commandSchema,
  // A player commands only itself, and never with what a trade sends (decide checks the sender too).
  authorize: (request) => request.action === 'read' || (request.playerId === request.aggregateId && !FROM_TRADES.has(request.command.type)),
  decide(state, command, { sender }) {
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
        if (state.reserved?.[command.itemId] !== undefined) return reject('ITEM_RESERVED', `item ${command.itemId} is reserved for a trade`);
        return { type: 'dropped', itemId: command.itemId };
      case 'score':
        return { type: 'scored', points: command.points };
      case 'append':
        return { type: 'appended', value: command.value };
      case 'reserve': {
        if (sender?.type !== 'trade') return reject('NOT_FROM_A_TRADE', 'items are reserved by trades');
        const item = state.inventory.find((held) => held.id === command.itemId);
        if (item === undefined) return reject('ITEM_NOT_HELD', `item ${command.itemId} is not held`);
        if (state.reserved?.[item.id] !== undefined) return reject('ITEM_RESERVED', `item ${item.id} is reserved for another trade`);
        return { events: [{ type: 'reserved', itemId: item.id, trade: sender.id }], send: [{ to: sender, command: { type: 'reserved', item } }] };
      }
      case 'release':
        if (sender?.type !== 'trade') return reject('NOT_FROM_A_TRADE', 'items are released by trades');
        return Object.keys(state.reserved ?? {}).flatMap((itemId) => (state.reserved?.[itemId] === sender.id ? [{ type: 'released', itemId, trade: sender.id } as const] : []));
      case 'swap':
        if (sender?.type !== 'trade' || state.reserved?.[command.give] !== sender.id) return reject('NOT_RESERVED', `item ${command.give} is not reserved for this trade`);
        return { type: 'swapped', give: command.give, get: command.get, trade: sender.id };
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
      case 'reserved':
        return { ...state, reserved: { ...(state.reserved ?? {}), [event.itemId]: event.trade } };
      case 'released':
        return { ...state, reserved: withoutKey(state.reserved ?? {}, event.itemId) };
      case 'swapped':
        return { ...state, inventory: [...state.inventory.filter((item) => item.id !== event.give), event.get], reserved: withoutKey(state.reserved ?? {}, event.give) };
    }
  },
  view: (state): PlayerView & Record<string, unknown> => ({ ...state, reserved: state.reserved ?? {} }),
});

/** Commands only a trade sends (trade.ts). */
const FROM_TRADES: ReadonlySet<string> = new Set(['reserve', 'release', 'swap']);

function withoutKey(record: Record<string, string>, key: string): Record<string, string> {
  const { [key]: _removed, ...rest } = record;
  return rest;
}
