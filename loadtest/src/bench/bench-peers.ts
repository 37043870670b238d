/**
 * `npm run bench:peers`: our 3-node RF=3 cluster, a raw uWebSockets.js echo server and a
 * Colyseus server (one room per player, see colyseus-server.ts), driven by the same open-loop
 * simulated players at the same load, interleaved and repeated; prints the median of each.
 *
 * Per system and run: acknowledged commands per second (refusals such as OVERLOADED are counted
 * apart, as rej%, and excluded from throughput, latency and CPU), p50/p99 latency from each command's
 * intended send time (no coordinated omission), state updates delivered vs expected (the
 * state each player saw through state sync against the commands acknowledged; n/a for the
 * echo), and server CPU per command over all of the system's processes.
 *
 * The generator is one Node process; at high rates it saturates before the servers do, and
 * the table says so (gen%).
 */
import '../../../server/src/polyfills.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client as ColyseusClient, type Room } from 'colyseus.js';
import { MessageType, encodeFrame, partitionOf, type ServerMessage } from '@ringstate/protocol';
import { fetchClusterView, fetchMetrics, waitConverged } from '../cluster/admin-client.ts';
import { startProcessCluster } from '../cluster/process-cluster.ts';
import { FrameClient } from '../driver/frame-client.ts';
import { stopChild, waitHttp } from './child-process.ts';
import { admissionLimits, sleep } from './load-phases.ts';
import { formatTable } from './table.ts';
import { processCpuMicros } from './process-cpu.ts';
import { newHistogram } from '../runner/timeline.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '64' },
    // limits.commandsInFlightMax of the cluster's nodes (the server default unless given).
    'in-flight-max': { type: 'string' },
    // limits.admissionDelayTargetMs of the cluster's nodes (the server default unless given).
    'admission-target-ms': { type: 'string' },
    // The nodes' durability policy (config `durability`): fsync (the server default) or os.
    durability: { type: 'string', default: 'fsync' },
    // Which systems run, comma-separated, in this order: echo, ringstate, colyseus (default all three).
    systems: { type: 'string', default: 'echo,ringstate,colyseus' },
  },
});
const players = Number(values.players);
const ratePerPlayer = Number(values.rate);
const durationMs = Number(values.seconds) * 1000;
const repeats = Number(values.repeats);
const partitionCount = Number(values.partitions);
const warmupMs = 2_000;

interface Session {
  send(id: string, counter: number): void;
  close(): void;
}

interface Handlers {
  /** `rejectedCode`: the server answered with a refusal (OVERLOADED, RATE_LIMITED, ...), not an acknowledgement. */
  onAck(id: string, rejectedCode?: string): void;
  /** The player's state now reflects `reached` commands in total. */
  onState(reached: number): void;
}

interface System {
  readonly label: string;
  readonly pids: number[];
  readonly hasState: boolean;
  connect(index: number, handlers: Handlers): Promise<Session>;
  stop(): Promise<void>;
  /** The nodes' work counters summed over the nodes (/metrics), read before and after the measured window. */
  counters?(): Promise<Map<string, number>>;
}

/** Work counters read from the nodes' /metrics, reported per acknowledged command. */
const WORK_COUNTERS = [
  ['ringstate_replication_frames_sent_total', 'peer frames'],
  ['ringstate_replication_messages_sent_total', 'replication messages'],
  ['ringstate_replication_cycles_total', 'driver cycles'],
  ['ringstate_replication_writes_total', 'store transactions'],
  ['ringstate_replication_entries_written_total', 'entries written'],
] as const;

async function echoSystem(): Promise<System> {
  const port = 19_400 + Math.floor(Math.random() * 100);
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/src/bench/echo-server.ts', String(port)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  return {
    label: 'uWS echo',
    pids: [child.pid ?? 0],
    hasState: false,
    async connect(index, handlers) {
      const client = await FrameClient.open(`ws://127.0.0.1:${port}/`);
      client.answers((message) => handlers.onAck((message as { id?: string }).id ?? ''));
      return { send: (id, counter) => client.send(moveFrame(id, `p${index}`, counter)), close: () => client.close() };
    },
    stop: () => stopChild(child),
  };
}

function moveFrame(id: string, player: string, counter: number): Uint8Array {
  return encodeFrame({ t: MessageType.COMMAND, id, a: 'player', i: player, c: { type: 'move', x: counter + 1, y: 1 } });
}

async function ringstateSystem(): Promise<System> {
  const admission = admissionLimits(values);
  const cluster = await startProcessCluster(3, { partitionCount, durability: values.durability, logLevel: process.env['CLUSTER_LOG'] ?? 'warn', limits: { messagesPerSecondMax: 10_000, ...admission } });
  const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  await waitConverged(hosts, 60_000);
  const view = await fetchClusterView(hosts[0] ?? '');
  return {
    label: 'ringstate 3 nodes RF=3',
    pids: cluster.members.map((member) => member.child?.pid ?? 0),
    hasState: true,
    async connect(index, handlers) {
      const player = `peer-${index}`;
      const leader = view?.partitions[partitionOf('player', player, partitionCount)]?.owner;
      const member = cluster.members.find((candidate) => candidate.nodeId === leader) ?? cluster.members[0];
      const host = `${member?.host}:${member?.port}`;
      const client = await FrameClient.open(`ws://${host}/v1/ws`);
      const response = await fetch(`http://${host}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player }) });
      await client.hello(((await response.json()) as { token: string }).token);
      let startSeq: number | undefined;
      client.answers((message: ServerMessage) => {
        if (message.t === MessageType.ACK) handlers.onAck(message.id);
        else if (message.t === MessageType.REJECT) handlers.onAck(message.id, message.code);
        else if (message.t === MessageType.SNAPSHOT) startSeq ??= message.seq;
        else if (message.t === MessageType.UPDATE && startSeq !== undefined) handlers.onState(message.seq - startSeq);
      });
      client.send(encodeFrame({ t: MessageType.SUB, a: 'player', i: player }));
      return { send: (id, counter) => client.send(moveFrame(id, player, counter)), close: () => client.close() };
    },
    async counters() {
      const sums = new Map<string, number>();
      for (const host of hosts) {
        const metrics = await fetchMetrics(host);
        for (const [name] of WORK_COUNTERS) sums.set(name, (sums.get(name) ?? 0) + (metrics.get(name) ?? 0));
      }
      return sums;
    },
    async stop() {
      // Elections under load mean heartbeats were starved: say so next to the figures.
      let elections = 0;
      let preVotes = 0;
      const reasons = new Map<string, number>();
      const prefix = 'ringstate_ownership_changes_total{reason="';
      for (const host of hosts) {
        const metrics = await fetchMetrics(host);
        elections += metrics.get('ringstate_elections_total') ?? 0;
        preVotes += metrics.get('ringstate_pre_votes_total') ?? 0;
        for (const [sample, value] of metrics) {
          if (sample.startsWith(prefix)) reasons.set(sample.slice(prefix.length, -2), (reasons.get(sample.slice(prefix.length, -2)) ?? 0) + value);
        }
      }
      const why = [...reasons].sort((a, b) => b[1] - a[1]).map(([reason, count]) => `${reason} ${count}`).join(', ');
      console.log(`  ringstate cluster: ${elections} elections and ${preVotes} pre-vote rounds since founding (${partitionCount} partitions; before 0.3 the elections figure counted both); ownership changes by reason: ${why}`);
      await cluster.stopAll();
      cluster.remove();
    },
  };
}

async function colyseusSystem(): Promise<System> {
  const port = 19_600 + Math.floor(Math.random() * 100);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'loadtest/src/bench/colyseus-server.ts', String(port)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  const client = new ColyseusClient(`ws://127.0.0.1:${port}`);
  return {
    label: 'Colyseus 0.16 (no replication)',
    pids: [child.pid ?? 0],
    hasState: true,
    async connect(_index, handlers) {
      const room: Room = await client.create('player');
      room.onMessage('ack', (id: string) => handlers.onAck(id));
      room.onStateChange((state: { moves?: number }) => handlers.onState(state.moves ?? 0));
      return { send: (id, counter) => room.send('move', { id, x: counter + 1, y: 1 }), close: () => void room.leave() };
    },
    async stop() {
      await stopChild(child);
    },
  };
}

interface Measured {
  label: string;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  expected: number;
  delivered: number;
  /** Share of answers that were refusals; throughput, latency and CPU count acknowledged commands only. */
  rejectedShare: number;
  rejectedCodes: string;
  cpuMicrosPerCommand: number;
  generatorUtilisation: number;
  /** Per acknowledged command, each of WORK_COUNTERS over the whole cluster (empty for systems without them). */
  work: Map<string, number>;
}

async function measure(system: System): Promise<Measured> {
  const latency = newHistogram();
  const intended = new Map<string, number>();
  const reached = new Array<number>(players).fill(0);
  const startReached = new Array<number>(players).fill(0);
  let answered = 0;
  let rejectedDuring = 0;
  const rejectedCodes = new Map<string, number>();
  let recording = false;
  let ackedWhileRecording = 0;
  const sessions: Session[] = [];
  for (let start = 0; start < players; start += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, players - start) }, (_, offset) => {
        const index = start + offset;
        return system.connect(index, {
          onAck: (id, rejectedCode) => {
            const due = intended.get(id);
            if (due === undefined) return;
            intended.delete(id);
            if (rejectedCode !== undefined) {
              if (recording) rejectedDuring += 1;
              rejectedCodes.set(rejectedCode, (rejectedCodes.get(rejectedCode) ?? 0) + 1);
              return;
            }
            answered += 1;
            if (recording) {
              ackedWhileRecording += 1;
              latency.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
            }
          },
          onState: (value) => {
            reached[index] = Math.max(reached[index] ?? 0, value);
          },
        });
      }),
    );
    sessions.push(...batch);
  }
  const intervalMs = 1000 / ratePerPlayer;
  const counters = new Array<number>(players).fill(0);
  const startMs = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    sessions.forEach((session, index) => {
      const due = Math.floor((now - startMs - (index % 100) * (intervalMs / 100)) / intervalMs) + 1;
      while ((counters[index] ?? 0) < due) {
        const counter = (counters[index] = (counters[index] ?? 0) + 1);
        const id = `${index}-${counter}`;
        intended.set(id, startMs + (index % 100) * (intervalMs / 100) + (counter - 1) * intervalMs);
        session.send(id, counter);
      }
    });
  }, 2);
  await sleep(warmupMs);
  for (let index = 0; index < players; index += 1) startReached[index] = reached[index] ?? 0;
  const cpu = (): number => system.pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
  const countersBefore = await system.counters?.();
  const cpuBefore = cpu();
  const answeredBefore = answered;
  const elu = performance.eventLoopUtilization();
  recording = true;
  const measureStart = performance.now();
  await sleep(durationMs);
  recording = false;
  const seconds = (performance.now() - measureStart) / 1000;
  const cpuUsed = cpu() - cpuBefore;
  const generatorUtilisation = performance.eventLoopUtilization(elu).utilization;
  const answeredDuring = answered - answeredBefore;
  const countersAfter = await system.counters?.();
  clearInterval(ticker);
  const work = new Map<string, number>();
  if (countersBefore !== undefined && countersAfter !== undefined) {
    for (const [name] of WORK_COUNTERS) work.set(name, ((countersAfter.get(name) ?? 0) - (countersBefore.get(name) ?? 0)) / Math.max(1, answeredDuring));
  }
  await sleep(1_500);
  let delivered = 0;
  for (let index = 0; index < players; index += 1) delivered += Math.max(0, (reached[index] ?? 0) - (startReached[index] ?? 0));
  for (const session of sessions) session.close();
  return {
    label: system.label,
    perSecond: answeredDuring / seconds,
    p50Ms: latency.getValueAtPercentile(50) / 1000,
    p99Ms: latency.getValueAtPercentile(99) / 1000,
    expected: ackedWhileRecording,
    delivered: system.hasState ? Math.min(delivered, ackedWhileRecording) : Number.NaN,
    rejectedShare: rejectedDuring / Math.max(1, rejectedDuring + answeredDuring),
    rejectedCodes: [...rejectedCodes].map(([code, count]) => `${code} ${count}`).join(', '),
    cpuMicrosPerCommand: answeredDuring === 0 ? Number.NaN : cpuUsed / answeredDuring,
    generatorUtilisation,
    work,
  };
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

console.log(`bench:peers: ${players} players x ${ratePerPlayer} cmd/s = ${players * ratePerPlayer} cmd/s offered, ${durationMs / 1000}s measured, median of ${repeats} interleaved runs`);
const systemFactories = { echo: echoSystem, ringstate: ringstateSystem, colyseus: colyseusSystem } as const;
const systemNames = values.systems.split(',').map((name) => name.trim()).filter((name) => name !== '');
const unknownSystems = systemNames.filter((name) => !Object.hasOwn(systemFactories, name));
if (systemNames.length === 0 || unknownSystems.length > 0) {
  console.error(`bench:peers: --systems takes a comma-separated list of ${Object.keys(systemFactories).join(', ')}; got '${values.systems}'`);
  process.exit(2);
}
const factories = systemNames.map((name) => systemFactories[name as keyof typeof systemFactories]);
const runs = new Map<string, Measured[]>();
for (let round = 1; round <= repeats; round += 1) {
  for (const factory of factories) {
    const system = await factory();
    try {
      const result = await measure(system);
      runs.set(result.label, [...(runs.get(result.label) ?? []), result]);
      console.log(`  run ${round}: ${result.label.padEnd(30)} ${result.perSecond.toFixed(0)} cmd/s p99 ${result.p99Ms.toFixed(1)} ms rejected ${(result.rejectedShare * 100).toFixed(0)}%${result.rejectedCodes === '' ? '' : ` (${result.rejectedCodes})`} gen ${(result.generatorUtilisation * 100).toFixed(0)}%`);
    } finally {
      await system.stop();
    }
  }
}
const summary = [...runs.entries()].map(([label, list]) => ({
  label,
  perSecond: median(list.map((run) => run.perSecond)),
  p50Ms: median(list.map((run) => run.p50Ms)),
  p99Ms: median(list.map((run) => run.p99Ms)),
  delivered: median(list.map((run) => run.delivered / Math.max(1, run.expected))),
  cpu: median(list.map((run) => run.cpuMicrosPerCommand)),
  rejected: median(list.map((run) => run.rejectedShare)),
  gen: median(list.map((run) => run.generatorUtilisation)),
}));
const echo = summary.find((row) => row.label === 'uWS echo');
const colyseus = summary.find((row) => row.label.startsWith('Colyseus'));
const headers = ['system', 'cmd/s', 'p50 ms', 'p99 ms', 'rej%', 'state', 'cpu µs/c', 'vs echo', 'p99 vs Col.', 'gen%'];
const rows = summary.map((row) => [
  row.label,
  row.perSecond.toFixed(0),
  row.p50Ms.toFixed(2),
  row.p99Ms.toFixed(2),
  (row.rejected * 100).toFixed(0),
  Number.isNaN(row.delivered) ? 'n/a' : `${(row.delivered * 100).toFixed(0)}%`,
  row.cpu.toFixed(1),
  echo === undefined ? '-' : (row.cpu / echo.cpu).toFixed(2),
  colyseus === undefined ? '-' : (row.p99Ms / colyseus.p99Ms).toFixed(2),
  (row.gen * 100).toFixed(0),
]);
console.log(`\n${formatTable(headers, rows)}`);
console.log('  cmd/s, latency and cpu count acknowledged commands only; rej% = answers that were refusals (OVERLOADED, RATE_LIMITED, ...)');
console.log('  state = state updates delivered / expected; cpu is all server processes of the system per acknowledged command');
for (const [label, list] of runs) {
  if (list.every((run) => run.work.size === 0)) continue;
  const per = (name: string): number => median(list.map((run) => run.work.get(name) ?? Number.NaN));
  const parts = WORK_COUNTERS.map(([name, what]) => `${per(name).toFixed(2)} ${what}`);
  const entriesPerWrite = per('ringstate_replication_entries_written_total') / per('ringstate_replication_writes_total');
  console.log(`  ${label}, per acknowledged command (all nodes, median): ${parts.join(', ')}; ${entriesPerWrite.toFixed(1)} entries per transaction`);
}
process.exit(0);
