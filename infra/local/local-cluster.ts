/**
 * Starts an N-node cluster of the example game on this machine, each node its own process with
 * its own data directory, and stops all of them on Ctrl-C (SIGINT) or SIGTERM.
 *
 *   npm start                               3 nodes: clients on 9001-9003, peers on 7001-7003
 *   npx tsx infra/local/local-cluster.ts --nodes 5 --data ./data
 *   npm start -- --nodes 6 --hosts 3        six nodes as three simulated machines, two per host
 *
 * `--hosts H` sets each node's `locality.host` (host-1 .. host-H, consecutive nodes share one:
 * node-1 and node-2 on host-1 with six nodes over three hosts), so replica sets spread over the
 * simulated machines as they would over real ones (docs/cluster.md, "Failure domains"). Without
 * it nodes declare no locality and each counts as a machine of its own.
 *
 * Each node gets a generated config file (<data>/<node-id>.json) and runs
 * `server/src/cli.ts start --config <file>`, exactly as a deployed node would. Dev mode is on
 * (the dev token issuer answers POST /v1/dev/token) and the nodes run on the public built-in
 * dev keys, each logging a warning: this launcher is for development and tests, not production.
 * Without `devMode` a node would refuse to start without its own secrets (docs/operations.md).
 *
 * Nodes share this terminal: on a TTY they print readable lines (pino-pretty), otherwise JSON.
 * The launcher first locks its data directory (another launcher on it is one line naming that
 * launcher's pid; each node locks its own directory below it too, log/directory-lock.ts), then
 * checks its ports (a busy one is one line naming it, its holder and the flag that moves it), and
 * prints one "ready" line once every node answers /readyz and every partition has an owner.
 */
import '../../server/src/polyfills.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DirectoryInUseError, lockDirectory } from '../../server/src/log/index.ts';
import { describePortHolder, firstBusyPort } from '../../server/src/port-in-use.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** A node logs its ownership summary once no partition changed owner for 1 s (cluster-services.ts). */
const SETTLE_MS = 1_500;
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '9001' },
    'peer-base-port': { type: 'string', default: '7001' },
    data: { type: 'string', default: './data' },
    durability: { type: 'string', default: 'fsync' },
    'log-level': { type: 'string', default: 'info' },
    hosts: { type: 'string' },
  },
});

const count = Number(values.nodes);
if (!Number.isInteger(count) || count < 1 || count > 16) fail('--nodes must be 1-16');
const basePort = portFlag('base-port');
const peerBasePort = portFlag('peer-base-port');
const dataRoot = resolve(String(values.data));
const ids = Array.from({ length: count }, (_, n) => `node-${n + 1}`);
const hostCount = values.hosts === undefined ? undefined : Number(values.hosts);
if (hostCount !== undefined && (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > count)) fail(`--hosts must be 1-${count} (the number of nodes), got ${values.hosts}`);
/** The simulated machine of the node at `index`: consecutive nodes share one. */
const hostOf = (index: number): string | undefined => (hostCount === undefined ? undefined : `host-${Math.floor((index * hostCount) / count) + 1}`);

// Before it writes a config file: a second launcher on this directory would rewrite the first
// one's configs and start nodes on its nodes' directories. Held until this process exits.
try {
  lockDirectory(dataRoot, 'local cluster launcher');
} catch (error) {
  if (error instanceof DirectoryInUseError) fail(`${error.message} (npm start -- --data <dir> uses another)`);
  throw error;
}

const busy = await firstBusyPort(
  ids.flatMap((nodeId, index) => [
    { role: `client port of ${nodeId}`, host: '127.0.0.1', port: basePort + index, flag: '--base-port' },
    ...(count > 1 ? [{ role: `peer port of ${nodeId}`, host: '127.0.0.1', port: peerBasePort + index, flag: '--peer-base-port' }] : []),
  ]),
);
if (busy !== undefined) fail(`PORT_IN_USE: port ${busy.port} (${busy.role}) is in use by ${describePortHolder(busy.port)}; start on other ports with ${busy.flag} <port> (npm start -- ${busy.flag} ${busy.port + 100})`);

const children = new Map<string, ChildProcess>();
let stopping = false;

for (const [index, nodeId] of ids.entries()) {
  const config = {
    nodeId,
    host: '127.0.0.1',
    port: basePort + index,
    advertisedHost: `127.0.0.1:${basePort + index}`,
    dataDir: join(dataRoot, nodeId),
    devMode: true,
    durability: values.durability,
    logLevel: values['log-level'],
    replicationFactor: Math.min(3, count),
    ...(hostOf(index) === undefined ? {} : { locality: { host: hostOf(index) } }),
    cluster: {
      enabled: count > 1,
      members: ids,
      peerHost: '127.0.0.1',
      peerPort: peerBasePort + index,
      bootstrap: ids.filter((id) => id !== nodeId).map((id) => `127.0.0.1:${peerBasePort + ids.indexOf(id)}`),
    },
  };
  const file = join(dataRoot, `${nodeId}.json`);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'start', '--config', file], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  children.set(nodeId, child);
  child.once('exit', (code, signal) => {
    children.delete(nodeId);
    if (!stopping) console.error(`[local-cluster] ${nodeId} exited (${signal ?? code}); the others keep running`);
    if (children.size === 0 && stopping) process.exit(0);
  });
}

console.error(`[local-cluster] ${count} node(s) of the example game, data in ${dataRoot}`);
for (const [index, nodeId] of ids.entries()) {
  const host = hostOf(index) === undefined ? '' : `  on ${hostOf(index)}`;
  console.error(`[local-cluster]   ${nodeId}: ws://127.0.0.1:${basePort + index}/v1/ws  http://127.0.0.1:${basePort + index}  peer 127.0.0.1:${peerBasePort + index}${host}`);
}
console.error('[local-cluster] Ctrl-C stops every node (each hands its partitions over first)');
void announceReady();

function stopAll(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  console.error(`[local-cluster] ${signal}: stopping ${children.size} node(s)`);
  for (const child of children.values()) child.kill('SIGTERM');
  if (children.size === 0) process.exit(0);
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(1);
  }, 15_000).unref();
}
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

/** Prints one line with where to look and what to try once every node is ready and every partition has an owner. */
async function announceReady(): Promise<void> {
  const hosts = ids.map((_, index) => `127.0.0.1:${basePort + index}`);
  const first = hosts[0] ?? '';
  const startedMs = Date.now();
  while (!stopping) {
    if (children.size < count) return; // a node exited; its own line and the exit line above say why
    if ((await allReady(hosts)) && (await allReady(hosts, SETTLE_MS))) {
      console.error(
        `[local-cluster] ready in ${((Date.now() - startedMs) / 1000).toFixed(1)} s: dashboard http://${first}/dashboard ; try: curl -s -XPOST ${first}/v1/dev/token -d '{"player":"alice"}'`,
      );
      return;
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
}

/**
 * Every node answers /readyz and every partition has a ready owner somewhere whose voters spread
 * over the failure domains as the ring wants (after founding they move there from the founding
 * sets); checked again after `afterMs`, by when each node has logged its ownership summary, so
 * the ready line comes last. Owners are counted across nodes: with more nodes than
 * replicationFactor a node does not know the owners of partitions it does not replicate.
 */
async function allReady(hosts: readonly string[], afterMs = 0): Promise<boolean> {
  if (afterMs > 0) await new Promise((resolveWait) => setTimeout(resolveWait, afterMs));
  const ready = await Promise.all(hosts.map((host) => answers(`http://${host}/readyz`)));
  if (!ready.every(Boolean)) return false;
  const views = await Promise.all(hosts.map((host) => ownedHere(host)));
  if (views.some((view) => view === undefined)) return false;
  const partitionCount = Math.max(...views.map((view) => view?.partitionCount ?? 0));
  return new Set(views.flatMap((view) => view?.owned ?? [])).size === partitionCount;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

/**
 * The partitions the node at `host` owns, ready and spread, and how many there are; undefined
 * if its admin view does not answer (then /readyz decides: partitionCount 0).
 */
async function ownedHere(host: string): Promise<{ owned: number[]; partitionCount: number } | undefined> {
  try {
    const response = await fetch(`http://${host}/v1/admin/cluster`, { signal: AbortSignal.timeout(1_000) });
    if (!response.ok) return { owned: [], partitionCount: 0 };
    const view = (await response.json()) as { partitions?: Array<{ partition: number; role?: string; ready?: boolean; votersSpread?: boolean }> };
    const rows = view.partitions ?? [];
    return { owned: rows.filter((row) => row.role === 'owner' && row.ready !== false && row.votersSpread !== false).map((row) => row.partition), partitionCount: rows.length };
  } catch {
    return undefined;
  }
}

function portFlag(name: 'base-port' | 'peer-base-port'): number {
  const port = Number(values[name]);
  if (!Number.isInteger(port) || port < 1 || port + count - 1 > 65535) fail(`--${name} must be a port number (1-${65536 - count}), got ${values[name]}`);
  return port;
}

function fail(message: string): never {
  console.error(`[local-cluster] ${message}`);
  process.exit(1);
}
