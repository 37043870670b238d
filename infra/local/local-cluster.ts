/**
 * Starts an N-node cluster of the example game on this machine, each node its own process with
 * its own data directory, and stops all of them on Ctrl-C (SIGINT) or SIGTERM.
 *
 *   npm start                               3 nodes: clients on 9001-9003, peers on 7001-7003
 *   npx tsx infra/local/local-cluster.ts --nodes 5 --data ./data
 *
 * Each node gets a generated config file (<data>/<node-id>.json) and runs
 * `server/src/cli.ts start --config <file>`, exactly as a deployed node would. Dev mode is on
 * (the dev token issuer answers POST /v1/dev/token) and the nodes run on the public built-in
 * dev keys, each logging a warning: this launcher is for development and tests, not production.
 * Without `devMode` a node would refuse to start without its own secrets (docs/operations.md).
 */
import '../../server/src/polyfills.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '9001' },
    'peer-base-port': { type: 'string', default: '7001' },
    data: { type: 'string', default: './data' },
    durability: { type: 'string', default: 'fsync' },
    'log-level': { type: 'string', default: 'info' },
  },
});

const count = Number(values.nodes);
if (!Number.isInteger(count) || count < 1 || count > 16) throw new Error('--nodes must be 1-16');
const basePort = Number(values['base-port']);
const peerBasePort = Number(values['peer-base-port']);
const dataRoot = resolve(String(values.data));
const ids = Array.from({ length: count }, (_, n) => `node-${n + 1}`);
mkdirSync(dataRoot, { recursive: true });

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
  console.error(`[local-cluster]   ${nodeId}: ws://127.0.0.1:${basePort + index}/v1/ws  http://127.0.0.1:${basePort + index}  peer 127.0.0.1:${peerBasePort + index}`);
}
console.error('[local-cluster] Ctrl-C stops every node (each hands its partitions over first)');

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
