/**
 * `npm run bench:cluster`: a 3-node RF=3 cluster, a 1-node RF=1 server and a raw uWebSockets.js
 * echo server, driven by the same simulated clients in the same run; then a failover figure
 * over repeated kill -9 of the busiest owner.
 *
 * Throughput phase (closed loop, --clients connections, one command in flight each): each
 * client connects to the node that owns its player's partition (as host suggestion will direct
 * it), so the figure is the replication cost, not forwarding. CPU per command sums every server
 * process of the system under test; the ratios compare with RF=1 and with the echo, measured
 * in the same run. Nodes are not pinned: three nodes and the generator share two cores.
 *
 * Failover phase (--kills times): kill -9 the node owning the most partitions while probe
 * clients append to players on every partition; report the time from the kill until every
 * partition it owned has a ready owner again (polling the survivors' admin views every 20 ms),
 * and, per affected probe, until its first acknowledged command after the kill. The victim is
 * restarted with its disk and the cluster converges before the next kill.
 *
 * Open-loop phases (--rates 200,1000): the same clients send at a fixed total rate, so the
 * cost per command is measured where the cores are not saturated and batching is low; each
 * line prints the replication work per command too.
 *
 * Catch-up phase (--fill-seconds > 0): pipelined commands fill the partition logs, then one
 * node is stopped, its data directory wiped, and restarted; the figure is the time from its
 * start until it has applied, on every partition, what the owners had committed (entries/s),
 * and how much of it came by snapshot transfer (--compact-every-entries sets the compaction interval).
 */
import '../../../server/src/polyfills.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { partitionOf } from '@ringstate/protocol';
import { busiestOwner, fetchClusterView, fetchMetrics, waitConverged } from '../cluster/admin-client.ts';
import { startProcessCluster, type ProcessCluster } from '../cluster/process-cluster.ts';
import { FrameClient } from '../driver/frame-client.ts';
import { failoverClient } from '../driver/failover-client.ts';
import { waitHttp, stopChild } from './child-process.ts';
import { closedLoop, openLoop, sleep, type PhaseResult, type PhaseTarget, type WindowHooks } from './load-phases.ts';
import { formatTable } from './table.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '8' },
    kills: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '64' },
    durability: { type: 'string', default: 'fsync' },
    'fill-seconds': { type: 'string', default: '15' },
    // The server's default (10,000 per partition) unless given: lower it to see snapshot transfer.
    'compact-every-entries': { type: 'string' },
    /** The flag's name before the rename to compact-every-entries. */
    'snapshot-entries': { type: 'string' },
    // Skip the baselines when comparing two builds of the cluster itself (ratios print as '-').
    'cluster-only': { type: 'boolean', default: false },
    // Offered loads (commands/s in all, comma-separated) for open-loop phases on the cluster
    // after the closed loop: the cost per command when the load does not saturate the cores.
    rates: { type: 'string', default: '' },
    // Kill phase on quiesced partitions: the probes send nothing until the kill, after a quiet
    // spell, so the victim's partitions have stopped heartbeating (docs/replication.md, "Quiescence").
    quiesced: { type: 'boolean', default: false },
  },
});
const clientCount = Number(values.clients);
const durationMs = Number(values.seconds) * 1000;
const kills = Number(values.kills);
const quiescedKills = values.quiesced;
/** With --quiesced: how long the cluster stays idle before the kill (quiescence takes a few heartbeat intervals). */
const QUIET_BEFORE_KILL_MS = 3_000;
const partitionCount = Number(values.partitions);
const durability = String(values.durability);
const fillMs = Number(values['fill-seconds']) * 1000;
const compactEveryFlag = values['compact-every-entries'] ?? values['snapshot-entries'];
const compactEveryEntries = compactEveryFlag === undefined ? undefined : Number(compactEveryFlag);
const offeredRates = String(values.rates)
  .split(',')
  .filter((rate) => rate.trim() !== '')
  .map(Number);
if (offeredRates.some((rate) => !Number.isFinite(rate) || rate <= 0)) throw new Error(`--rates takes positive numbers separated by commas, got '${String(values.rates)}'`);

async function openClients(hostOf: (player: string) => string, prefix: string, withHello: boolean): Promise<{ clients: FrameClient[]; playerOf: (index: number) => string }> {
  const playerOf = (index: number): string => `${prefix}${index}`;
  const clients = await Promise.all(
    Array.from({ length: clientCount }, async (_, index) => {
      const host = hostOf(playerOf(index));
      const client = await FrameClient.open(withHello ? `ws://${host}/v1/ws` : `ws://${host}/`);
      if (withHello) {
        const response = await fetch(`http://${host}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player: playerOf(index) }) });
        await client.hello(((await response.json()) as { token: string }).token);
      }
      return client;
    }),
  );
  return { clients, playerOf };
}

async function measureEcho(): Promise<PhaseResult> {
  const port = 19_900 + Math.floor(Math.random() * 50);
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/src/bench/echo-server.ts', String(port)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    const { clients, playerOf } = await openClients(() => `127.0.0.1:${port}`, 'echo-', false);
    const result = await closedLoop({ label: 'uWS echo', pids: [child.pid ?? 0], clients, playerOf }, { warmupMs: 2_000, durationMs, window: 1 });
    for (const client of clients) client.close();
    return result;
  } finally {
    await stopChild(child);
  }
}

async function measureSingle(): Promise<PhaseResult> {
  const port = 19_950 + Math.floor(Math.random() * 40);
  const dataDir = mkdtempSync(join(tmpdir(), 'ringstate-bench-rf1-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'dev', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, RINGSTATE_DURABILITY: durability, RINGSTATE_PARTITION_COUNT: String(partitionCount), RINGSTATE_LIMITS_MESSAGES_PER_SECOND_MAX: '1000000' },
  });
  try {
    await waitHttp(`http://127.0.0.1:${port}/readyz`);
    const { clients, playerOf } = await openClients(() => `127.0.0.1:${port}`, 'single-', true);
    const result = await closedLoop({ label: `1 node, RF=1 (${durability})`, pids: [child.pid ?? 0], clients, playerOf }, { warmupMs: 2_000, durationMs, window: 1 });
    for (const client of clients) client.close();
    return result;
  } finally {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const REPLICATION_COUNTERS = ['ringstate_replication_messages_sent_total', 'ringstate_replication_frames_sent_total', 'ringstate_replication_writes_total'] as const;

/** The replication counters summed over the cluster's nodes. */
async function replicationCounters(hosts: readonly string[]): Promise<number[]> {
  const all = await Promise.all(hosts.map((host) => fetchMetrics(host)));
  return REPLICATION_COUNTERS.map((name) => all.reduce((sum, metrics) => sum + (metrics.get(name) ?? 0), 0));
}

type ClusterPhase = (target: PhaseTarget, hooks: WindowHooks) => Promise<PhaseResult>;

/**
 * One load phase on the cluster, with clients at the owners of their players' partitions,
 * and the replication work per answered command in its window (messages, frames, store
 * writes, all nodes).
 */
async function measureCluster(cluster: ProcessCluster, prefix: string, phase: ClusterPhase): Promise<{ result: PhaseResult; replication: string }> {
  const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  const view = await fetchClusterView(hosts[0] ?? '');
  const ownerHost = (player: string): string => {
    const leader = view?.partitions[partitionOf('player', player, partitionCount)]?.owner;
    const member = cluster.members.find((candidate) => candidate.nodeId === leader) ?? cluster.members[0];
    return `${member?.host}:${member?.port}`;
  };
  const { clients, playerOf } = await openClients(ownerHost, prefix, true);
  const pids = cluster.members.map((member) => member.child?.pid ?? 0);
  let before: number[] = [];
  let after: number[] = [];
  const hooks = {
    atStart: async () => {
      before = await replicationCounters(hosts);
    },
    atEnd: async () => {
      after = await replicationCounters(hosts);
    },
  };
  const result = await phase({ label: `3 nodes, RF=3 (${durability})`, pids, clients, playerOf }, hooks);
  for (const client of clients) client.close();
  const [messages, frames, writes] = after.map((value, index) => (value - (before[index] ?? 0)) / Math.max(1, result.answered));
  const replication = `${messages?.toFixed(2)} messages in ${frames?.toFixed(2)} peer frames, ${writes?.toFixed(2)} store transactions`;
  return { result, replication };
}

/** Open-loop phases at the offered --rates: what a command costs when the cores are not saturated. */
async function measureRates(cluster: ProcessCluster): Promise<string> {
  const lines = [`open loop, ${clientCount} clients, ${durationMs / 1000}s per rate:`];
  for (const offered of offeredRates) {
    const { result, replication } = await measureCluster(cluster, `rate-${offered}-`, (target, hooks) =>
      openLoop({ ...target, label: `${offered}/s` }, { warmupMs: 2_000, durationMs, ratePerClient: offered / clientCount, hooks }),
    );
    lines.push(
      `  offered ${offered}/s: ${result.perSecond.toFixed(0)} cmd/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, cluster cpu ${result.serverCpuPercent.toFixed(0)}% of a core, ${result.serverCpuMicrosPerCommand.toFixed(0)} µs/cmd; per command: ${replication}`,
    );
  }
  return lines.join('\n');
}

/** Fills the logs, wipes node-3 and times its catch-up (see the header). */
async function measureCatchUp(cluster: ProcessCluster): Promise<string> {
  const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  const { clients, playerOf } = await openClients((player) => hosts[partitionOf('player', player, partitionCount) % hosts.length] ?? '', 'fill-', true);
  const pids = cluster.members.map((member) => member.child?.pid ?? 0);
  const fill = await closedLoop({ label: 'fill', pids, clients, playerOf }, { warmupMs: 0, durationMs: fillMs, window: 8 });
  for (const client of clients) client.close();
  await waitConverged(hosts, 60_000);
  const victim = cluster.members[2];
  if (victim === undefined) throw new Error('no node-3');
  await cluster.kill(victim.nodeId, 'SIGTERM');
  const owners = await fetchClusterView(hosts[0] ?? '');
  const target = (owners?.partitions ?? []).map((row) => row.commit);
  const entries = target.reduce((sum, commit) => sum + commit, 0);
  cluster.wipe(victim.nodeId);
  const startedMs = Date.now();
  await cluster.start(victim.nodeId);
  for (;;) {
    const view = await fetchClusterView(`${victim.host}:${victim.port}`);
    if (view !== undefined && view.partitions.every((row) => row.applied >= (target[row.partition] ?? 0))) break;
    if (Date.now() - startedMs > 300_000) throw new Error('the wiped node did not catch up within 300 s');
    await sleep(50);
  }
  const seconds = (Date.now() - startedMs) / 1000;
  await waitConverged(hosts, 60_000);
  const metrics = await fetchMetrics(`${victim.host}:${victim.port}`);
  const installs = metrics.get('ringstate_snapshot_installs_total') ?? 0;
  const fetched = metrics.get('ringstate_snapshot_entries_fetched_total') ?? 0;
  return `catch-up of a wiped node: ${entries} entries (filled at ${fill.perSecond.toFixed(0)} cmd/s) in ${seconds.toFixed(1)} s from process start, ${(entries / seconds).toFixed(0)} entries/s; ${installs} snapshots installed with ${fetched} entries fetched in bulk, the rest entry by entry`;
}

interface KillResult {
  victim: string;
  newOwnerMs: number;
  clientRecoveryMs: number[];
}

async function killOnce(cluster: ProcessCluster, round: number): Promise<KillResult> {
  const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  await waitConverged(hosts, 60_000).catch((error: unknown) => {
    for (const member of cluster.members) console.log(`--- ${member.nodeId} (running: ${member.child !== undefined})\n${member.output.slice(-3000)}`);
    throw error;
  });
  const victim = await busiestOwner(hosts);
  const before = await fetchClusterView(hosts[0] ?? '');
  const owned = new Set((before?.partitions ?? []).filter((row) => row.owner === victim).map((row) => row.partition));
  const survivors = cluster.members.filter((member) => member.nodeId !== victim).map((member) => `${member.host}:${member.port}`);
  // One probe player per owned partition (searching ids until each partition has one).
  const probes: Array<{ player: string; partition: number }> = [];
  for (let n = 0; probes.length < owned.size && n < 100_000; n += 1) {
    const player = `probe-${round}-${n}`;
    const partition = partitionOf('player', player, partitionCount);
    if (owned.has(partition) && !probes.some((probe) => probe.partition === partition)) probes.push({ player, partition });
  }
  const clients = probes.map((probe, index) => failoverClient(probe.player, survivors, index));
  await Promise.all(clients.map((client) => client.connect()));
  let stop = false;
  let killAtMs = Number.POSITIVE_INFINITY;
  const firstAckAfterKill: Array<number | undefined> = probes.map(() => undefined);
  const loops = clients.map(async (client, index) => {
    while (quiescedKills && killAtMs === Number.POSITIVE_INFINITY && !stop) await sleep(5);
    for (let k = 0; !stop; k += 1) {
      try {
        await client.send('player', probes[index]?.player ?? '', { type: 'append', value: `v${k}` }, { timeoutMs: 20_000 });
        const now = Date.now();
        if (now > killAtMs && firstAckAfterKill[index] === undefined) firstAckAfterKill[index] = now - killAtMs;
      } catch {
        // retried by the next iteration
      }
    }
  });
  await sleep(quiescedKills ? QUIET_BEFORE_KILL_MS : 1_000);
  if (quiescedKills) {
    const quiet = await fetchClusterView(hosts.find((host) => !survivors.includes(host)) ?? '');
    const quiesced = [...owned].filter((partition) => quiet?.partitions[partition]?.quiesced === true).length;
    console.log(`  kill ${round}: ${quiesced} of the victim's ${owned.size} partitions quiesced at the kill`);
  }
  killAtMs = Date.now();
  await cluster.kill(victim, 'SIGKILL');
  let newOwnerMs = Number.NaN;
  while (Date.now() - killAtMs < 30_000) {
    const views = await Promise.all(survivors.map((host) => fetchClusterView(host)));
    const settled = views.every((view) => view !== undefined && [...owned].every((partition) => {
      const row = view.partitions[partition];
      return row !== undefined && row.owner !== null && row.owner !== victim;
    }));
    const readyOwners = [...owned].every((partition) => views.some((view) => {
      const row = view?.partitions[partition];
      return row !== undefined && row.role === 'owner' && row.ready;
    }));
    if (settled && readyOwners) {
      newOwnerMs = Date.now() - killAtMs;
      break;
    }
    await sleep(20);
  }
  while (firstAckAfterKill.some((value) => value === undefined) && Date.now() - killAtMs < 30_000) await sleep(20);
  stop = true;
  await Promise.all(loops);
  for (const client of clients) client.close();
  await cluster.start(victim);
  await cluster.waitReady();
  return { victim, newOwnerMs, clientRecoveryMs: firstAckAfterKill.filter((value): value is number => value !== undefined) };
}

function pct(sorted: readonly number[], p: number): string {
  if (sorted.length === 0) return 'n/a';
  return String(Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN));
}

function row(result: PhaseResult, rf1: PhaseResult | undefined, echo: PhaseResult | undefined): string[] {
  const ratio = (base: PhaseResult | undefined): string => (base === undefined ? '-' : (result.serverCpuMicrosPerCommand / base.serverCpuMicrosPerCommand).toFixed(2));
  return [
    result.label,
    result.perSecond.toFixed(0),
    result.p50Ms.toFixed(2),
    result.p99Ms.toFixed(2),
    result.p999Ms.toFixed(2),
    result.serverCpuMicrosPerCommand.toFixed(1),
    ratio(rf1),
    ratio(echo),
    (result.generatorUtilisation * 100).toFixed(0),
  ];
}

console.log(`bench:cluster: ${clientCount} closed-loop clients, ${durationMs / 1000}s per system, ${partitionCount} partitions, durability ${durability}`);
const echo = values['cluster-only'] ? undefined : await measureEcho();
const single = values['cluster-only'] ? undefined : await measureSingle();
const cluster = await startProcessCluster(3, {
  partitionCount,
  durability,
  logLevel: 'warn',
  limits: { messagesPerSecondMax: 1_000_000 },
  ...(compactEveryEntries === undefined ? {} : { cluster: { compactEveryEntries } }),
});
try {
  await waitConverged(cluster.members.map((member) => `${member.host}:${member.port}`), 60_000);
  const { result: replicated, replication } = await measureCluster(cluster, 'cluster-', (target, hooks) =>
    closedLoop(target, { warmupMs: 2_000, durationMs, window: 1, hooks }),
  );
  const headers = ['system', 'cmd/s', 'p50 ms', 'p99 ms', 'p999 ms', 'cpu µs/cmd', 'vs RF1', 'vs echo', 'gen%'];
  console.log(`\n${formatTable(headers, [...(echo === undefined ? [] : [row(echo, undefined, undefined)]), ...(single === undefined ? [] : [row(single, undefined, echo)]), row(replicated, single, echo)])}`);
  console.log('  cpu µs/cmd is all server processes of the system together (3 for the cluster); gen% is the generator\'s event-loop utilisation');
  console.log(`  replication per command (all nodes): ${replication}`);
  if (offeredRates.length > 0) console.log(`\n${await measureRates(cluster)}`);
  if (fillMs > 0) console.log(`\n${await measureCatchUp(cluster)}`);

  const results: KillResult[] = [];
  for (let round = 1; round <= kills; round += 1) {
    const result = await killOnce(cluster, round);
    results.push(result);
    console.log(`  kill ${round}/${kills}: ${result.victim}, new owners after ${result.newOwnerMs} ms, clients served again after p50 ${pct([...result.clientRecoveryMs].sort((a, b) => a - b), 0.5)} / max ${Math.max(...result.clientRecoveryMs)} ms (${result.clientRecoveryMs.length} probes)`);
  }
  const owners = results.map((result) => result.newOwnerMs).sort((a, b) => a - b);
  const recovery = results.flatMap((result) => result.clientRecoveryMs).sort((a, b) => a - b);
  console.log(`\nfailover over ${results.length} kill -9${quiescedKills ? ' of quiesced partitions' : ''}: new owner p50 ${pct(owners, 0.5)} ms, p99 ${pct(owners, 0.99)} ms, max ${pct(owners, 1)} ms`);
  console.log(`client recovery (kill -> first acknowledged command): p50 ${pct(recovery, 0.5)} ms, p99 ${pct(recovery, 0.99)} ms, max ${pct(recovery, 1)} ms over ${recovery.length} probes`);
} finally {
  await cluster.stopAll();
  cluster.remove();
}
process.exit(0);
