/**
 * `npm run bench:idle`: what a cluster costs when nobody plays. Starts a 3-node cluster (64
 * partitions, the defaults), waits until it converged and `--settle` seconds more, then reads
 * for `--seconds` each node's CPU time from /proc and its replication counters from /metrics,
 * and prints, per node: % of a core, replication messages and peer frames a second, and how
 * many of the partitions it owns are quiesced (docs/replication.md, "Quiescence"). `--repeats`
 * runs it again on a fresh cluster; issue 25's target is at most 1 % of a core per node.
 */
import '../../../server/src/polyfills.ts';
import { parseArgs } from 'node:util';
import { fetchMetrics, waitConverged } from '../cluster/admin-client.ts';
import { startProcessCluster } from '../cluster/process-cluster.ts';
import { processCpuMicros } from './process-cpu.ts';
import { sleep } from './load-phases.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    settle: { type: 'string', default: '20' },
    repeats: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '64' },
  },
});
const seconds = Number(values.seconds);
const settleMs = Number(values.settle) * 1000;
const repeats = Number(values.repeats);
const partitionCount = Number(values.partitions);

const COUNTERS = ['ringstate_replication_messages_sent_total', 'ringstate_replication_frames_sent_total'] as const;

console.log(`bench:idle: 3 nodes, ${partitionCount} partitions, no clients; ${seconds} s measured after converging and ${settleMs / 1000} s more`);
for (let round = 1; round <= repeats; round += 1) {
  const cluster = await startProcessCluster(3, { partitionCount, logLevel: 'warn' });
  try {
    const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
    await waitConverged(hosts, 60_000);
    await sleep(settleMs);
    const pids = cluster.members.map((member) => member.child?.pid ?? 0);
    const cpuBefore = pids.map((pid) => processCpuMicros(pid));
    const before = await Promise.all(hosts.map((host) => fetchMetrics(host)));
    await sleep(seconds * 1000);
    const cpuAfter = pids.map((pid) => processCpuMicros(pid));
    const after = await Promise.all(hosts.map((host) => fetchMetrics(host)));
    const rows = hosts.map((_, index) => {
      const rate = (name: string): number => ((after[index]?.get(name) ?? 0) - (before[index]?.get(name) ?? 0)) / seconds;
      const percent = ((cpuAfter[index] ?? 0) - (cpuBefore[index] ?? 0)) / (seconds * 10_000);
      const owned = after[index]?.get('ringstate_partitions_owned') ?? 0;
      const quiesced = after[index]?.get('ringstate_partitions_quiesced') ?? 0;
      return { percent, messages: rate(COUNTERS[0]), frames: rate(COUNTERS[1]), owned, quiesced };
    });
    for (const [index, row] of rows.entries()) {
      console.log(`  run ${round}, node-${index + 1}: ${row.percent.toFixed(2)} % of a core, ${row.messages.toFixed(1)} replication messages/s in ${row.frames.toFixed(1)} frames/s, ${row.quiesced} of ${row.owned} owned partitions quiesced`);
    }
    const mean = rows.reduce((sum, row) => sum + row.percent, 0) / rows.length;
    console.log(`  run ${round}: mean ${mean.toFixed(2)} % of a core per node (target: at most 1 %)`);
  } finally {
    await cluster.stopAll();
    cluster.remove();
  }
}
process.exit(0);
