/**
 * What simulated players do. A scenario picks each player's next command; the runner sends it
 * on an open-loop schedule (`--rate` per player) whatever the answers.
 *
 *   idle         connect and subscribe, send nothing (connection and fan-out cost)
 *   movers       move on a tick: every command changes the player's position
 *   traders      bursty: enter the shared arena, then trade/hit with other players in it
 *   list-append  append unique values to the player's own aggregate (the loss oracle's workload)
 *   bank         give gold from the player's own wallet to another account, the target drawn
 *                from a Zipf law so a few accounts are hot (the bank oracle's workload)
 */
import type { ArenaCommand, PlayerCommand, WalletCommand } from '../../../server/example-game/index.ts';

export type ScenarioName = 'idle' | 'movers' | 'traders' | 'list-append' | 'bank';
export const SCENARIOS: readonly ScenarioName[] = ['idle', 'movers', 'traders', 'list-append', 'bank'];

export type NextCommand =
  | { readonly aggregate: 'player'; readonly id: string; readonly command: PlayerCommand; readonly appendValue?: string }
  | { readonly aggregate: 'arena'; readonly id: string; readonly command: ArenaCommand }
  | { readonly aggregate: 'wallet'; readonly id: string; readonly command: WalletCommand & { type: 'give' } };

/**
 * The bank's accounts. Only a wallet's own player may `give` from it, so account n is the
 * wallet of player n (`player-<n>`): players below `accounts` give from their own wallet,
 * accounts without a player (when `accounts` > players) only receive.
 */
export interface BankPlan {
  readonly accounts: number;
  /** Zipf exponent of the target's rank: 0 is uniform, higher puts more on account 0, 1, ... */
  readonly alpha: number;
  /** Each give moves 1..amountMax gold. */
  readonly amountMax: number;
}

export const BANK_DEFAULTS = { alpha: 1.5, amountMax: 10 } as const;

export function accountOf(index: number): string {
  return `player-${index}`;
}

/** Shared aggregates the traders act on: a few arenas, so many players hit the same ones. */
export function arenaOf(playerIndex: number): string {
  return `arena-${playerIndex % 4}`;
}

/**
 * Cumulative Zipf weights over ranks 0..count-1 (weight of rank k is 1 / (k + 1)^alpha),
 * normalised so the last is 1; `zipfRank` draws from it.
 */
export function zipfTable(count: number, alpha: number): Float64Array {
  if (!(count >= 1) || !(alpha >= 0)) throw new Error(`zipf needs count >= 1 and alpha >= 0, got ${count}, ${alpha}`);
  const table = new Float64Array(count);
  let sum = 0;
  for (let rank = 0; rank < count; rank += 1) {
    sum += 1 / (rank + 1) ** alpha;
    table[rank] = sum;
  }
  for (let rank = 0; rank < count; rank += 1) table[rank] = (table[rank] ?? 0) / sum;
  return table;
}

/** The rank whose cumulative weight first reaches `uniform` (in [0, 1)): binary search. */
export function zipfRank(table: Float64Array, uniform: number): number {
  let low = 0;
  let high = table.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((table[middle] ?? 1) > uniform) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * The bank's next give from account `source`: a target other than the source (Zipf over the
 * accounts; a draw of the source itself takes the next account) and an amount in 1..amountMax.
 */
export function nextGive(plan: BankPlan, table: Float64Array, source: number, random: () => number): { to: string; amount: number } {
  const rank = zipfRank(table, random());
  const target = rank === source ? (rank + 1) % plan.accounts : rank;
  return { to: accountOf(target), amount: 1 + Math.floor(random() * plan.amountMax) };
}

export interface ScenarioContext {
  readonly players: number;
  readonly random: () => number;
  /** Set for the bank scenario (with its Zipf table, built once). */
  readonly bank?: { readonly plan: BankPlan; readonly table: Float64Array };
}

export function nextCommand(scenario: ScenarioName, player: string, playerIndex: number, counter: number, context: ScenarioContext): NextCommand | undefined {
  const { players, random } = context;
  switch (scenario) {
    case 'idle':
      return undefined;
    case 'movers':
      return { aggregate: 'player', id: player, command: { type: 'move', x: (counter % 1000) + 1, y: playerIndex } };
    case 'list-append': {
      const value = `${player}:${counter}`;
      return { aggregate: 'player', id: player, command: { type: 'append', value }, appendValue: value };
    }
    case 'bank': {
      const bank = context.bank;
      if (bank === undefined) throw new Error('the bank scenario needs its plan');
      // Players beyond the accounts have no wallet in the bank: they watch only.
      if (playerIndex >= bank.plan.accounts || bank.plan.accounts < 2) return undefined;
      const give = nextGive(bank.plan, bank.table, playerIndex, random);
      return { aggregate: 'wallet', id: player, command: { type: 'give', ...give } };
    }
    case 'traders': {
      const arena = arenaOf(playerIndex);
      if (counter === 0) return { aggregate: 'arena', id: arena, command: { type: 'enter' } };
      // Partners are players of the same arena (same index modulo 4).
      const partnerIndex = (playerIndex + 4 * (1 + Math.floor(random() * Math.max(1, players / 4 - 1)))) % players;
      const partner = `player-${partnerIndex - (partnerIndex % 4) + (playerIndex % 4)}`;
      return random() < 0.5
        ? { aggregate: 'arena', id: arena, command: { type: 'trade', with: partner, give: 'gem', get: 'coin' } }
        : { aggregate: 'arena', id: arena, command: { type: 'hit', target: partner, damage: 1 + Math.floor(random() * 5) } };
    }
  }
}
