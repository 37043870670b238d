/** The example game: register these definitions with a node (see server/src/main.ts). */
import { arena } from './arena.ts';
import { player } from './player.ts';
import { trade } from './trade.ts';
import { wallet } from './wallet.ts';

export { arena, player, trade, wallet };
export * from './schema.ts';
export const exampleGame = [player, arena, wallet, trade] as const;
