/**
 * Types of the example game shared with clients. This file imports nothing from the server, so
 * client code can `import type { GameSchema }` and get typed `send`/`subscribe` calls.
 */
export interface Item {
  readonly id: string;
  readonly kind: string;
}

export type PlayerCommand =
  | { type: 'join'; name: string }
  | { type: 'move'; x: number; y: number }
  | { type: 'pick-up'; item: Item }
  | { type: 'drop'; itemId: string }
  | { type: 'score'; points: number }
  | { type: 'append'; value: string };

export type PlayerEvent =
  | { type: 'joined'; name: string }
  | { type: 'moved'; x: number; y: number }
  | { type: 'picked-up'; item: Item }
  | { type: 'dropped'; itemId: string }
  | { type: 'scored'; points: number }
  | { type: 'appended'; value: string };

export interface PlayerView {
  name: string;
  x: number;
  y: number;
  score: number;
  inventory: Item[];
  /** Tail of the list-append history (the load tester's loss oracle reads the full log). */
  appendCount: number;
}

export type ArenaCommand =
  | { type: 'enter' }
  | { type: 'leave' }
  | { type: 'hit'; target: string; damage: number }
  | { type: 'trade'; with: string; give: string; get: string };

export type ArenaEvent =
  | { type: 'entered'; player: string }
  | { type: 'left'; player: string }
  | { type: 'hit'; by: string; target: string; damage: number }
  | { type: 'traded'; a: string; b: string; give: string; get: string };

export interface ArenaView {
  players: string[];
  health: Record<string, number>;
  trades: number;
  lastHit: { by: string; target: string; damage: number } | null;
}

/** `receive` and `refund` are sent by wallets (a player's are refused); players send `give` and `close`. */
export type WalletCommand =
  | { type: 'give'; to: string; amount: number }
  | { type: 'receive'; amount: number }
  | { type: 'refund'; amount: number }
  | { type: 'close' };

export type WalletEvent =
  | { type: 'given'; to: string; amount: number }
  | { type: 'received'; from: string; amount: number }
  | { type: 'refunded'; amount: number }
  | { type: 'closed' };

export interface WalletView {
  gold: number;
  closed: boolean;
  /** Totals since the wallet opened, so a client (or the load tester's oracle) can audit it. */
  given: number;
  received: number;
  refunded: number;
}

/** The schema the client SDK is typed with: `new RingstateClient<GameSchema>(...)`. */
export interface GameSchema {
  player: { command: PlayerCommand; view: PlayerView };
  arena: { command: ArenaCommand; view: ArenaView };
  wallet: { command: WalletCommand; view: WalletView };
}

export const INVENTORY_LIMIT = 8;
export const ARENA_CAPACITY = 64;
export const START_HEALTH = 100;
/** Every wallet starts with this much gold (so a bank's total is known without opening anything). */
export const WALLET_START = 1_000;
export const WALLET_MAX = 1_000_000_000;
