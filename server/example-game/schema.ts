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
  | { type: 'append'; value: string }
  // Sent by a trade (a player's own are refused): hold an item for it, let it go, or swap it.
  | { type: 'reserve'; itemId: string }
  | { type: 'release' }
  | { type: 'swap'; give: string; get: Item };

export type PlayerEvent =
  | { type: 'joined'; name: string }
  | { type: 'moved'; x: number; y: number }
  | { type: 'picked-up'; item: Item }
  | { type: 'dropped'; itemId: string }
  | { type: 'scored'; points: number }
  | { type: 'appended'; value: string }
  | { type: 'reserved'; itemId: string; trade: string }
  | { type: 'released'; itemId: string; trade: string }
  | { type: 'swapped'; give: string; get: Item; trade: string };

export interface PlayerView {
  name: string;
  x: number;
  y: number;
  score: number;
  inventory: Item[];
  /** Tail of the list-append history (the load tester's loss oracle reads the full log). */
  appendCount: number;
  /** Items held for a trade: item id -> trade id. A reserved item cannot be dropped or reserved again. */
  reserved: Record<string, string>;
}

export type ArenaCommand =
  | { type: 'enter' }
  | { type: 'leave' }
  | { type: 'hit'; target: string; damage: number }
  | { type: 'trade'; with: string; give: string; get: string }
  /** A timed round: every player inside back to full health; ends after `durationMs`, or when one player is left standing. */
  | { type: 'start-round'; durationMs: number }
  /** The round's timer (a player's is refused). */
  | { type: 'end-round'; round: number };

export type ArenaEvent =
  | { type: 'entered'; player: string }
  | { type: 'left'; player: string }
  | { type: 'hit'; by: string; target: string; damage: number }
  | { type: 'traded'; a: string; b: string; give: string; get: string }
  | { type: 'round-started'; round: number; by: string; endsAtMs: number }
  | { type: 'round-ended'; round: number; reason: 'time' | 'last-standing'; winner: string | null };

export interface ArenaView {
  players: string[];
  health: Record<string, number>;
  trades: number;
  lastHit: { by: string; target: string; damage: number } | null;
  /** The last round's number (0: none yet), and when it ends if it is running (null otherwise). */
  round: number;
  roundEndsAtMs: number | null;
  /** Who won the last round that ended (null: none yet, or nobody left standing). */
  lastWinner: string | null;
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

/**
 * A trade of one item for another between two players, as a saga: `propose` (by the player
 * giving `give`), `accept` (by `with`, who gives `get`); then each side's item is reserved, and
 * both swap, or the trade fails and both are released. `reserved` and `fail` come from players'
 * aggregates and the node (a player's are refused).
 */
export type TradeCommand =
  | { type: 'propose'; with: string; give: string; get: string }
  | { type: 'accept' }
  | { type: 'reserved'; item: Item }
  | { type: 'fail' };

export type TradeEvent =
  | { type: 'proposed'; by: string; with: string; give: string; get: string }
  | { type: 'accepted' }
  | { type: 'reserved'; player: string; item: Item }
  | { type: 'done' }
  | { type: 'failed'; reason: string };

export interface TradeView {
  phase: 'open' | 'proposed' | 'reserving' | 'done' | 'failed';
  by: string;
  with: string;
  give: string;
  get: string;
  /** Items reserved so far, by player. */
  reserved: Record<string, Item>;
  /** Why the trade failed: the refusing side's reason (e.g. ITEM_NOT_HELD, ITEM_RESERVED). */
  reason: string | null;
}

/** The schema the client SDK is typed with: `new RingstateClient<GameSchema>(...)`. */
export interface GameSchema {
  player: { command: PlayerCommand; view: PlayerView };
  arena: { command: ArenaCommand; view: ArenaView };
  wallet: { command: WalletCommand; view: WalletView };
  trade: { command: TradeCommand; view: TradeView };
}

export const INVENTORY_LIMIT = 8;
export const ARENA_CAPACITY = 64;
export const START_HEALTH = 100;
/** Bounds of a timed round's duration. */
export const ROUND_MIN_MS = 1_000;
export const ROUND_MAX_MS = 3_600_000;
/** Every wallet starts with this much gold (so a bank's total is known without opening anything). */
export const WALLET_START = 1_000;
export const WALLET_MAX = 1_000_000_000;
