/**
 * `npm run bench:node`: one ringstate node against a raw uWebSockets.js echo server, driven by
 * the same simulated clients in the same run.
 *
 * Each server runs in its own process pinned to core 0 (taskset) while this generator runs on
 * core 1, as in DESIGN.md's calibration table. Phases, for each server in turn:
 *   closed loop: --clients connections, each with --window commands in flight;
 *   open loop:   --open-clients connections at --rate commands per second each.
 * Server CPU per command comes from /proc/<pid>/stat over the measured window. Then the
 * aggregate footprint (memory per active aggregate, activation time) runs in a child process.
 *
 * The node runs once per durability policy in --durability (default both fsync and os), with
 * its per-connection rate limit raised so the generator, not the limiter, sets the pace.
 */
import '../../../server/src/polyfills.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FrameClient } from '../driver/frame-client.ts';
import { waitHttp, stopChild } from './child-process.ts';
import { formatTable } from './table.ts';
import { closedLoop, openLoop, sleep, type PhaseResult, type PhaseTarget } from './load-phases.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    window: { type: 'string', default: '1' },
    'open-clients': { type: 'string', default: '2000' },
    rate: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '8' },
    durability: { type: 'string', default: 'fsync,os' },
    aggregates: { type: 'string', default: '100000' },
    events: { type: 'string', default: '10000' },
    'skip-footprint': { type: 'boolean', default: false },
  },
});
const closedClients = Number(values.clients);
const window = Number(values.window);
const openClients = Number(values['open-clients']);
const ratePerClient = Number(values.rate);
const durationMs = Number(values.seconds) * 1000;
const warmupMs = 2000;
const canPin = spawnSync('taskset', ['-V']).status === 0;

function pinned(command: string, args: string[]): [string, string[]] {
  return canPin ? ['taskset', ['-c', '0', command, ...args]] : [command, args];
}

interface Server {
  readonly label: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly needsHello: boolean;
  readonly httpUrl: string;
  readonly stop: () => Promise<void>;
}

async function startEcho(port: number): Promise<Server> {
  const [command, args] = pinned(process.execPath, ['--import', 'tsx', 'loadtest/src/bench/echo-server.ts', String(port)]);
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const httpUrl = `http://127.0.0.1:${port}`;
  await waitHttp(`${httpUrl}/healthz`);
  return { label: 'uWS echo', child, url: `ws://127.0.0.1:${port}/`, needsHello: false, httpUrl, stop: () => stopChild(child) };
}

async function startNode(port: number, durability: string): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringstate-bench-'));
  const [command, args] = pinned(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'dev', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn']);
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, RINGSTATE_DURABILITY: durability, RINGSTATE_LIMITS_MESSAGES_PER_SECOND_MAX: '1000000' },
  });
  const httpUrl = `http://127.0.0.1:${port}`;
  await waitHttp(`${httpUrl}/readyz`);
  return {
    label: `ringstate (RF=1, ${durability})`,
    child,
    url: `ws://127.0.0.1:${port}/v1/ws`,
    needsHello: true,
    httpUrl,
    stop: async () => {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function connect(server: Server, count: number, prefix: string): Promise<PhaseTarget> {
  const clients: FrameClient[] = [];
  const playerOf = (index: number): string => `${prefix}${index}`;
  for (let start = 0; start < count; start += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, async (_, offset) => {
        const client = await FrameClient.open(server.url);
        if (server.needsHello) {
          const response = await fetch(`${server.httpUrl}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player: playerOf(start + offset) }) });
          await client.hello(((await response.json()) as { token: string }).token);
        }
        return client;
      }),
    );
    clients.push(...batch);
  }
  const pid = server.child.pid;
  if (pid === undefined) throw new Error('server has no pid');
  return { label: server.label, pids: [pid], clients, playerOf };
}

async function runPhase(server: Server, kind: 'closed' | 'open'): Promise<PhaseResult> {
  const target = await connect(server, kind === 'closed' ? closedClients : openClients, `${kind}-`);
  try {
    return kind === 'closed'
      ? await closedLoop(target, { warmupMs, durationMs, window })
      : await openLoop(target, { warmupMs, durationMs, ratePerClient });
  } finally {
    for (const client of target.clients) client.close();
    await sleep(300);
  }
}

const HEADERS = ['server', 'cmd/s', 'p50 ms', 'p99 ms', 'p999 ms', 'cpu%', 'cpu µs/c', 'vs echo', 'gen%', 'rej'];

function row(result: PhaseResult, baseline: PhaseResult | undefined): string[] {
  const ratio = baseline === undefined ? '1.00' : (result.serverCpuMicrosPerCommand / baseline.serverCpuMicrosPerCommand).toFixed(2);
  return [
    result.label,
    result.perSecond.toFixed(0),
    result.p50Ms.toFixed(2),
    result.p99Ms.toFixed(2),
    result.p999Ms.toFixed(2),
    result.serverCpuPercent.toFixed(0),
    result.serverCpuMicrosPerCommand.toFixed(1),
    ratio,
    (result.generatorUtilisation * 100).toFixed(0),
    String(result.rejected),
  ];
}

console.log(`bench:node: ${canPin ? 'servers pinned to core 0 (taskset)' : 'taskset unavailable: servers not pinned'}; generator is this process`);
const durabilities = String(values.durability).split(',');
const starters: Array<(port: number) => Promise<Server>> = [startEcho, ...durabilities.map((durability) => (port: number) => startNode(port, durability))];
const results: Record<string, PhaseResult[]> = { closed: [], open: [] };
for (const kind of ['closed', 'open'] as const) {
  for (const start of starters) {
    const server = await start(19_500 + Math.floor(Math.random() * 400));
    try {
      results[kind]?.push(await runPhase(server, kind));
    } finally {
      await server.stop();
    }
  }
}

for (const kind of ['closed', 'open'] as const) {
  const [echo, ...nodes] = results[kind] ?? [];
  const title = kind === 'closed' ? `closed loop: ${closedClients} connections x ${window} in flight, ${durationMs / 1000}s` : `open loop: ${openClients} clients x ${ratePerClient} cmd/s = ${openClients * ratePerClient} cmd/s offered, ${durationMs / 1000}s`;
  const rows = [...(echo === undefined ? [] : [row(echo, undefined)]), ...nodes.map((node) => row(node, echo))];
  console.log(`\n${title}\n${formatTable(HEADERS, rows)}`);
  for (const result of [echo, ...nodes]) {
    if (result === undefined) continue;
    if (result.generatorUtilisation > 0.9) {
      console.log(`  note: the generator's event loop was ${(result.generatorUtilisation * 100).toFixed(0)}% busy during "${result.label}": the generator, not the server, limited throughput`);
    }
    if (kind === 'open' && result.perSecond < openClients * ratePerClient * 0.9) {
      console.log(`  note: "${result.label}" answered ${result.perSecond.toFixed(0)} of ${openClients * ratePerClient} offered cmd/s: the server was saturated, latency is queueing`);
    }
  }
}

if (values['skip-footprint'] !== true) {
  console.log(`\naggregate footprint: ${values.aggregates} active player aggregates; activation of one aggregate with ${values.events} events`);
  const footprint = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'loadtest/src/bench/aggregate-footprint.ts', '--aggregates', String(values.aggregates), '--events', String(values.events)], { cwd: ROOT, encoding: 'utf8' });
  if (footprint.status !== 0) {
    console.error(footprint.stderr);
    process.exit(1);
  }
  const measured = JSON.parse(footprint.stdout.trim().split('\n').at(-1) ?? '{}') as {
    bytesPerActiveAggregateHot: number;
    bytesPerActiveAggregateIdle: number;
    activationMs: { p50: number; p99: number; max: number };
  };
  console.log(`  memory per active aggregate, document resident (just commanded): ${(measured.bytesPerActiveAggregateHot / 1024).toFixed(2)} KB`);
  console.log(`  memory per active aggregate, document compacted (idle > docResidentMs): ${(measured.bytesPerActiveAggregateIdle / 1024).toFixed(2)} KB`);
  console.log(`  activation with ${values.events} events (snapshot every 100): p50 ${measured.activationMs.p50.toFixed(2)} ms, p99 ${measured.activationMs.p99.toFixed(2)} ms, max ${measured.activationMs.max.toFixed(2)} ms`);
}
process.exit(0);
