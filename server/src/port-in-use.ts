/**
 * Which of a node's ports is taken by another process: used to turn a failed bind into one line
 * naming the port and the setting that changes it (cli.ts), and by the local cluster launcher to
 * check its ports before it starts anything (infra/local/local-cluster.ts).
 */
import { createServer } from 'node:net';

export interface PortUse {
  /** What the port is for, in the words of the message ("client port", "peer port of node-2"). */
  readonly role: string;
  readonly host: string;
  readonly port: number;
}

/** The first of `ports` that cannot be bound right now because something listens there (port 0 is never busy). */
export async function firstBusyPort<T extends PortUse>(ports: readonly T[]): Promise<T | undefined> {
  for (const candidate of ports) {
    if (candidate.port !== 0 && (await isInUse(candidate.host, candidate.port))) return candidate;
  }
  return undefined;
}

function isInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}
