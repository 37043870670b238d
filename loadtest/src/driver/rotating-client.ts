/**
 * An SDK client that moves to the next node of a fixed host list whenever a connection attempt
 * fails, and fetches dev tokens from whichever node answers. The load tester, the cluster
 * benchmark and the fault tests use it until the SDK's own host suggestion and cached host list
 * take this over.
 */
import WebSocket from 'ws';
import { RingstateClient, fetchDevToken } from '@ringstate/client-sdk';
import type { GameSchema } from '../../../server/example-game/index.ts';

export function rotatingClient(player: string, hosts: readonly string[], firstHost: number): RingstateClient<GameSchema> {
  let current = firstHost % hosts.length;
  return new RingstateClient<GameSchema>({
    url: `ws://${hosts[current]}/v1/ws`,
    WebSocket: WebSocket as never,
    reconnect: { baseMs: 50, capMs: 400, attemptsMax: Number.POSITIVE_INFINITY },
    commandRetry: { baseMs: 50, capMs: 400 },
    hostProvider: () => ({
      pick: ({ retry }) => {
        if (retry > 0) current = (current + 1) % hosts.length;
        return `ws://${hosts[current]}/v1/ws`;
      },
    }),
    getToken: async () => {
      for (let attempt = 0; attempt < hosts.length * 3; attempt += 1) {
        try {
          return (await fetchDevToken({ host: hosts[(current + attempt) % hosts.length] ?? '', player })).token;
        } catch {
          // that node is down; try the next
        }
      }
      throw new Error('no node issued a token');
    },
  });
}
