/**
 * An SDK client of the example game for the load tester, the cluster benchmark and the fault
 * tests: the SDK's own host failover (`hostFailover`) with every node of the cluster as seeds,
 * suggestions for `player`, and short backoffs so that fault runs measure the cluster, not the
 * waiting. Dev tokens come from whichever known node answers; after the first WELCOME the client
 * reconnects with its resume token and does not need the token issuer again.
 *
 * `firstHost` picks which seed is asked first for a token; the connection itself goes to the
 * host the cluster suggests (the owner of the player's partition).
 */
import WebSocket from 'ws';
import { RingstateClient, fetchDevToken, hostFailover } from '@ringstate/client-sdk';
import type { FailoverHostProvider } from '@ringstate/client-sdk';
import type { GameSchema } from '../../../server/example-game/index.ts';

export function failoverClient(player: string, hosts: readonly string[], firstHost: number): RingstateClient<GameSchema> {
  const failover = hostFailover({ seeds: hosts, player, suggestionTimeoutMs: 1_000, failedHostTtlMs: 5_000 });
  let provider: FailoverHostProvider | undefined;
  return new RingstateClient<GameSchema>({
    WebSocket: WebSocket as never,
    reconnect: { baseMs: 50, capMs: 400, attemptsMax: Number.POSITIVE_INFINITY },
    commandRetry: { baseMs: 50, capMs: 400 },
    connectTimeoutMs: 3_000,
    hostProvider: (components) => (provider = failover(components)),
    getToken: async () => {
      const known = [...new Set([...(provider?.knownHosts() ?? []), ...hosts])];
      const start = firstHost % known.length;
      for (let attempt = 0; attempt < known.length * 2; attempt += 1) {
        try {
          return (await fetchDevToken({ host: known[(start + attempt) % known.length] ?? '', player })).token;
        } catch {
          // that node is down; try the next
        }
      }
      throw new Error('no node issued a token');
    },
  });
}
