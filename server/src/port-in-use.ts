/**
 * Which of a node's ports is taken by another process, and which process that is: used to turn a
 * failed bind into one line naming the port, its holder and the setting that changes it (cli.ts),
 * and by the local cluster launcher to check its ports before it starts anything
 * (infra/local/local-cluster.ts).
 *
 * Nodes listen exclusively (uWebSockets.js with LIBUS_LISTEN_EXCLUSIVE_PORT, libp2p's TCP
 * listener through Node's net.Server, which sets no SO_REUSEPORT), so a second process on a port
 * fails to bind instead of sharing the port's connections with the first.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

export interface PortUse {
  /** What the port is for, in the words of the message ("client port", "peer port of node-2"). */
  readonly role: string;
  readonly host: string;
  readonly port: number;
}

/** A process listening on a port, as /proc tells it. */
export interface PortHolder {
  readonly pid: number;
  /** Its command line, shortened for a message. */
  readonly command: string;
}

const COMMAND_CHARS_MAX = 120;
/** /proc/net/tcp's state column for a listening socket. */
const TCP_LISTEN = '0A';

/** The first of `ports` that cannot be bound right now because something listens there (port 0 is never busy). */
export async function firstBusyPort<T extends PortUse>(ports: readonly T[]): Promise<T | undefined> {
  for (const candidate of ports) {
    if (candidate.port !== 0 && (await isInUse(candidate.host, candidate.port))) return candidate;
  }
  return undefined;
}

/** "process 123 (node server/src/cli.ts ...)" or "another process" where /proc cannot tell (not Linux, another user's process). */
export function describePortHolder(port: number): string {
  const holder = portHolder(port);
  return holder === undefined ? 'another process' : `process ${holder.pid} (${holder.command})`;
}

/**
 * The process listening on TCP `port`, found through /proc (Linux): the socket's inode from
 * /proc/net/tcp{,6}, then the process with a descriptor on it. Best effort, for messages only.
 */
export function portHolder(port: number): PortHolder | undefined {
  try {
    const inodes = listeningInodes(port);
    if (inodes.size === 0) return undefined;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (pid === process.pid || !holdsSocket(pid, inodes)) continue;
      return { pid, command: commandOf(pid) };
    }
  } catch {
    // No /proc: the message says "another process".
  }
  return undefined;
}

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const inode = fields[9];
      if (local === undefined || inode === undefined || fields[3] !== TCP_LISTEN) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(inode);
    }
  }
  return inodes;
}

function holdsSocket(pid: number, inodes: ReadonlySet<string>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or another user's
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1] !== undefined && inodes.has(match[1])) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

function commandOf(pid: number): string {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '').join(' ');
    return command.length > COMMAND_CHARS_MAX ? `${command.slice(0, COMMAND_CHARS_MAX)}...` : command;
  } catch {
    return 'unknown command';
  }
}

function isInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}
