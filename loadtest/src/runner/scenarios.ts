/**
 * What simulated players do. A scenario picks each player's next command; the runner sends it
 * on an open-loop schedule (`--rate` per player) whatever the answers.
 *
 *   idle         connect and subscribe, send nothing (connection and fan-out cost)
 *   movers       move on a tick: every command changes the player's position
 *   traders      bursty: enter the shared arena, then trade/hit with other players in it
 *   list-append  append unique values to the player's own aggregate (the loss oracle's workload)
 */
import type { ArenaCommand, PlayerCommand } from '../../../server/example-game/index.ts';

export type ScenarioName = 'idle' | 'movers' | 'traders' | 'list-append';
export const SCENARIOS: readonly ScenarioName[] = ['idle', 'movers', 'traders', 'list-append'];

export type NextCommand =
  | { readonly aggregate: 'player'; readonly id: string; readonly command: PlayerCommand; readonly appendValue?: string }
  | { readonly aggregate: 'arena'; readonly id: string; readonly command: ArenaCommand };

/** Shared aggregates the traders act on: a few arenas, so many players hit the same ones. */
export function arenaOf(playerIndex: number): string {
  return `arena-${playerIndex % 4}`;
}

export function nextCommand(scenario: ScenarioName, player: string, playerIndex: number, counter: number, players: number, random: () => number): NextCommand | undefined {
  switch (scenario) {
    case 'idle':
      return undefined;
    case 'movers':
      return { aggregate: 'player', id: player, command: { type: 'move', x: (counter % 1000) + 1, y: playerIndex } };
    case 'list-append': {
      const value = `${player}:${counter}`;
      return { aggregate: 'player', id: player, command: { type: 'append', value }, appendValue: value };
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
