/** The example game: register these definitions with a node (see server/src/main.ts). */
import { arena } from './arena.ts';
import { player } from './player.ts';

export { arena, player };
export * from './schema.ts';
export const exampleGame = [player, arena] as const;
