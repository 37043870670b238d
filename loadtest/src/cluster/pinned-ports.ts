/**
 * Pinned ports for a cluster the load tester starts (`--base-port`, `--peer-base-port`, named
 * as in infra/local/local-cluster.ts): node i serves clients on basePort + i and peers on
 * peerBasePort + i. The peer range defaults to PEER_PORT_OFFSET above the client range, far
 * enough for the largest cluster the tester starts (9 nodes and one that joins).
 */
import { createServer } from 'node:net';

export const PEER_PORT_OFFSET = 100;
const PORT_MAX = 65_535;

export interface PinnedPorts {
  readonly basePort: number;
  readonly peerBasePort: number;
}

/** Validates the flags for `nodeCount` nodes; returns the ports, or a message saying what is wrong. */
export function pinnedPorts(basePort: number, peerBasePort: number | undefined, nodeCount: number): PinnedPorts | { readonly error: string } {
  const peer = peerBasePort ?? basePort + PEER_PORT_OFFSET;
  const range = (first: number): string => `${first}-${first + nodeCount - 1}`;
  for (const [name, first] of [['--base-port', basePort], ['--peer-base-port', peer]] as const) {
    if (!Number.isInteger(first) || first < 1 || first + nodeCount - 1 > PORT_MAX) {
      const derived = name === '--peer-base-port' && peerBasePort === undefined ? ` (derived as --base-port + ${PEER_PORT_OFFSET}; pass --peer-base-port)` : '';
      return { error: `${name} must be an integer such that ${nodeCount} consecutive ports fit in 1-${PORT_MAX}, got ${first}${derived}` };
    }
  }
  if (peer < basePort + nodeCount && basePort < peer + nodeCount) {
    return { error: `client ports ${range(basePort)} and peer ports ${range(peer)} overlap (${nodeCount} nodes)` };
  }
  return { basePort, peerBasePort: peer };
}

/** The ports among `ports` that something on this machine already listens on (at `host`). */
export async function portsInUse(host: string, ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (!free) busy.push(port);
  }
  return busy;
}
