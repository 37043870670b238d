/**
 * `npm run bench:overload`: property O1 on the 3-node RF=3 cluster. Overload must never cost
 * liveness: offered far beyond capacity, the cluster serves about what it can at a bounded
 * latency, refuses the rest at once with a retryable code and a retry hint, and starts no
 * election an idle cluster would not start.
 *
 * Phases, on one cluster (the same load shape as bench:peers: open-loop players, each command's
 * latency counted from its intended send time, clients on the partition's owner):
 *   1. idle: the elections an idle cluster makes in the phase length (the baseline);
 *   2. ramp: offered 1,000, 2,000, ... commands/s, a few seconds each, until refusals pass 20 %
 *      or the ramp ends; capacity = the most acknowledged per second in any step;
 *   3. overload: `--factor` (default 3) x capacity offered for `--seconds`.
 * Printed: acknowledged/s as a share of capacity, served p50/p99, refusals (share, codes, how
 * many carried the retry hint `ra`, p99 time to the refusal), elections against the idle
 * baseline, and each target of issue 14 with met/missed. The generator is one Node process;
 * `gen%` says when it, not the cluster, was the limit (the offered rate is then what it could
 * send, which the table shows).
 */
import '../../../server/src/polyfills.ts';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MessageType, encodeFrame, partitionOf, type ServerMessage } from '@ringstate/protocol';
import { fetchClusterView, fetchMetrics, waitConverged } from '../cluster/admin-client.ts';
import { startProcessCluster } from '../cluster/process-cluster.ts';
import { FrameClient } from '../driver/frame-client.ts';
import { newHistogram } from '../runner/timeline.ts';
import { admissionLimits, sleep } from './load-phases.ts';
import { formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '2000' },
    factor: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    'step-seconds': { type: 'string', default: '4' },
    'ramp-max': { type: 'string', default: '12000' },
    partitions: { type: 'string', default: '64' },
    // limits.admissionDelayTargetMs of the nodes (the server default unless given).
    'admission-target-ms': { type: 'string' },
    // limits.commandsInFlightMax of the nodes (the server default unless given).
    'in-flight-max': { type: 'string' },
  },
});
const players = Number(values.players);
const factor = Number(values.factor);
const phaseMs = Number(values.seconds) * 1000;
const stepMs = Number(values['step-seconds']) * 1000;
const rampMax = Number(values['ramp-max']);
const partitionCount = Number(values.partitions);
/** Each step's first second is not counted: the queue the previous step left drains. */
const SETTLE_MS = 1_000;
/** O1 targets of issue 14. */
const TARGET = { capacityShare: 0.9, servedP99Ms: 250, refusalP99Ms: 50, extraElections: 0.1 } as const;

interface Phase {
  offered: number;
  acked: number;
  refused: number;
  /** Refusals counted, all of them (`refused` is per second of the counted window). */
  refusedCount: number;
  refusedWithHint: number;
  codes: Map<string, number>;
  servedP50Ms: number;
  servedP99Ms: number;
  refusalP99Ms: number;
  generator: number;
}

const admission = admissionLimits(values);
const cluster = await startProcessCluster(3, { partitionCount, logLevel: 'warn', limits: { messagesPerSecondMax: 10_000, ...admission } });
try {
  const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  await waitConverged(hosts, 60_000);
  const view = await fetchClusterView(hosts[0] ?? '');
  const elections = async (): Promise<number> => {
    let total = 0;
    for (const host of hosts) total += (await fetchMetrics(host)).get('ringstate_elections_total') ?? 0;
    return total;
  };

  // Every player on the node that owns its partition, as bench:peers does.
  const listeners: Array<(message: ServerMessage) => void> = [];
  const clients: FrameClient[] = [];
  for (let start = 0; start < players; start += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, players - start) }, async (_, offset) => {
        const index = start + offset;
        const player = `ov-${index}`;
        const owner = view?.partitions[partitionOf('player', player, partitionCount)]?.owner;
        const member = cluster.members.find((candidate) => candidate.nodeId === owner) ?? cluster.members[0];
        const host = `${member?.host}:${member?.port}`;
        const client = await FrameClient.open(`ws://${host}/v1/ws`);
        const response = await fetch(`http://${host}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player }) });
        await client.hello(((await response.json()) as { token: string }).token);
        client.answers((message) => listeners[index]?.(message));
        return client;
      }),
    );
    clients.push(...batch);
  }

  /** Offers `rate` commands/s for `durationMs`, counting only after the first SETTLE_MS. */
  const offer = async (rate: number, durationMs: number): Promise<Phase> => {
    const served = newHistogram();
    const refusals = newHistogram();
    const intended = new Map<string, number>();
    const codes = new Map<string, number>();
    let counting = false;
    let acked = 0;
    let refused = 0;
    let refusedWithHint = 0;
    let sent = 0;
    clients.forEach((_, index) => {
      listeners[index] = (message) => {
        if (message.t !== MessageType.ACK && message.t !== MessageType.REJECT) return;
        const due = intended.get(message.id);
        if (due === undefined) return;
        intended.delete(message.id);
        if (!counting) return;
        const micros = Math.max(1, Math.round((performance.now() - due) * 1000));
        if (message.t === MessageType.ACK) {
          acked += 1;
          served.recordValue(micros);
          return;
        }
        refused += 1;
        refusals.recordValue(micros);
        if (typeof message.ra === 'number') refusedWithHint += 1;
        codes.set(message.code, (codes.get(message.code) ?? 0) + 1);
      };
    });
    const intervalMs = (1000 * players) / rate;
    const counters = new Array<number>(players).fill(0);
    const startMs = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      clients.forEach((client, index) => {
        const offsetMs = (index / players) * intervalMs;
        const due = Math.floor((now - startMs - offsetMs) / intervalMs) + 1;
        while ((counters[index] ?? 0) < due) {
          const counter = (counters[index] = (counters[index] ?? 0) + 1);
          const id = `${rate}-${index}-${counter}`;
          intended.set(id, startMs + offsetMs + (counter - 1) * intervalMs);
          if (counting) sent += 1;
          client.send(encodeFrame({ t: MessageType.COMMAND, id, a: 'player', i: `ov-${index}`, c: { type: 'move', x: counter, y: 1 } }));
        }
      });
    }, 2);
    await sleep(SETTLE_MS);
    const elu = performance.eventLoopUtilization();
    counting = true;
    const countStart = performance.now();
    await sleep(durationMs - SETTLE_MS);
    const seconds = (performance.now() - countStart) / 1000;
    const generator = performance.eventLoopUtilization(elu).utilization;
    clearInterval(ticker);
    // Answers to what was sent while counting still count; then the queue drains unseen.
    await sleep(1_500);
    counting = false;
    return {
      offered: sent / seconds,
      acked: acked / seconds,
      refused: refused / seconds,
      refusedCount: refused,
      refusedWithHint,
      codes,
      servedP50Ms: served.getValueAtPercentile(50) / 1000,
      servedP99Ms: served.getValueAtPercentile(99) / 1000,
      refusalP99Ms: refused === 0 ? 0 : refusals.getValueAtPercentile(99) / 1000,
      generator,
    };
  };

  const row = (name: string, phase: Phase, extra: string): string[] => [
    name,
    phase.offered.toFixed(0),
    phase.acked.toFixed(0),
    phase.servedP50Ms.toFixed(1),
    phase.servedP99Ms.toFixed(1),
    `${((phase.refused / Math.max(1, phase.refused + phase.acked)) * 100).toFixed(0)}%`,
    phase.refusalP99Ms.toFixed(1),
    `${(phase.generator * 100).toFixed(0)}%`,
    extra,
  ];
  const headers = ['phase', 'offered/s', 'acked/s', 'p50 ms', 'p99 ms', 'refused', 'refusal p99 ms', 'gen%', 'elections'];
  const rows: string[][] = [];

  console.log(`bench:overload: 3 nodes RF=3, ${partitionCount} partitions, ${players} players, admission delay target ${values['admission-target-ms'] ?? 'default'}; idle ${phaseMs / 1000}s, ramp steps of ${stepMs / 1000}s, overload ${factor}x capacity for ${phaseMs / 1000}s`);
  const idleBefore = await elections();
  await sleep(phaseMs);
  const idleElections = (await elections()) - idleBefore;
  console.log(`  idle: ${idleElections} elections in ${phaseMs / 1000}s`);

  let capacity = 0;
  for (let rate = 1_000; rate <= rampMax; rate += 1_000) {
    const before = await elections();
    const step = await offer(rate, stepMs);
    const made = (await elections()) - before;
    capacity = Math.max(capacity, step.acked);
    rows.push(row(`ramp ${rate}/s`, step, String(made)));
    console.log(`  ramp ${rate}/s: acked ${step.acked.toFixed(0)}/s p99 ${step.servedP99Ms.toFixed(1)} ms refused ${step.refused.toFixed(0)}/s elections ${made}`);
    if (step.refused > 0.2 * (step.acked + step.refused)) break;
  }
  console.log(`  capacity: ${capacity.toFixed(0)} acknowledged commands/s (the most in any ramp step)`);

  const before = await elections();
  const overload = await offer(factor * capacity, phaseMs);
  const overloadElections = (await elections()) - before;
  rows.push(row(`overload ${factor}x`, overload, String(overloadElections)));
  console.log('');
  console.log(formatTable(headers, rows));
  console.log('');
  console.log(`  refusals: ${[...overload.codes].map(([code, count]) => `${code} ${count}`).join(', ') || 'none'}; with a retry hint (ra): ${overload.refusedWithHint} of ${overload.refusedCount}`);
  const checks: Array<[string, boolean, string]> = [
    [`acknowledged >= ${TARGET.capacityShare * 100} % of capacity`, overload.acked >= TARGET.capacityShare * capacity, `${((overload.acked / Math.max(1, capacity)) * 100).toFixed(0)} % (${overload.acked.toFixed(0)} of ${capacity.toFixed(0)}/s)`],
    [`served p99 <= ${TARGET.servedP99Ms} ms`, overload.servedP99Ms <= TARGET.servedP99Ms, `${overload.servedP99Ms.toFixed(1)} ms`],
    [`refusals immediate (p99 <= ${TARGET.refusalP99Ms} ms) with a retry hint`, overload.refusalP99Ms <= TARGET.refusalP99Ms && overload.refusedWithHint >= (overload.codes.get('OVERLOADED') ?? 0), `p99 ${overload.refusalP99Ms.toFixed(1)} ms, ${overload.refusedWithHint} with ra`],
    [`elections <= idle + ${TARGET.extraElections * 100} %`, overloadElections <= Math.ceil(idleElections * (1 + TARGET.extraElections)), `${overloadElections} (idle ${idleElections})`],
  ];
  for (const [name, met, figure] of checks) console.log(`  ${met ? 'met   ' : 'MISSED'} ${name}: ${figure}`);
  if (overload.generator > 0.9) console.log(`  note: the generator was ${(overload.generator * 100).toFixed(0)} % busy; the offered rate is what it could send`);
  for (const client of clients) client.close();
} finally {
  await cluster.stopAll();
  cluster.remove();
}
