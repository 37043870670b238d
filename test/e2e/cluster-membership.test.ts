/**
 * Scale-out and scale-in of a running cluster of real processes, under a list-append load from
 * SDK clients: two nodes join and partitions move to them (learner catch-up by snapshot
 * transfer and the owner's log, then a fenced change of replica set); node-1 leaves through the
 * admin API, hands its partitions over and exits by itself; node-2 gets SIGTERM with
 * cluster.leaveOnStop and leaves the same way before it exits. No command may fail because of it, and afterwards every
 * acknowledged append is present exactly once, in order, on every replica.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fetchClusterView, fetchMetrics, waitConverged, waitPlacement } from '../../loadtest/src/cluster/admin-client.ts';
import { checkHistories, runListAppend } from '../support/list-append.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';

const PARTITIONS = 16;
let cluster: ProcessCluster | undefined;

afterAll(async () => {
  await cluster?.stopAll();
  cluster?.remove();
});

describe('cluster membership - real processes', () => {
  it('membership - two nodes join and take partitions, then one leaves by the admin API and one by SIGTERM; no command fails and no append is lost', async () => {
    // leaveOnStop: a SIGTERM makes a node leave the ring before it exits (scale-in by stopping).
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS, cluster: { compactEveryEntries: 20, leaveOnStop: true } });
    const running = cluster;
    const address = (index: number): string => `${running.members[index]?.host}:${running.members[index]?.port}`;
    const hosts = [0, 1, 2].map(address);
    const players = Array.from({ length: 9 }, (_, n) => `mp${n}`);
    const timings: string[] = [];
    let done = false;
    const histories = await runListAppend({ hosts, players, durationMs: 90_000, stopWhen: () => done }, async (elapsed) => {
      try {
        // Refusals come first: 3 members and replicationFactor 3 cannot shrink without force,
        // a live node is not removed behind its back, and bad bodies get a stable code.
        const refused = async (path: string, body: unknown, status: number, code: string): Promise<void> => {
          const response = await fetch(`http://${hosts[0]}${path}`, { method: 'POST', body: JSON.stringify(body) });
          expect(response.status, path).toBe(status);
          expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
        };
        await refused('/v1/admin/leave', {}, 409, 'MEMBERSHIP_REFUSED');
        await refused('/v1/admin/members/remove', { nodeId: 'node-2' }, 409, 'MEMBERSHIP_REFUSED');
        await refused('/v1/admin/members/remove', { nodeId: 'node-9' }, 409, 'MEMBERSHIP_REFUSED');
        await refused('/v1/admin/members/remove', { nodeId: 'no spaces' }, 400, 'INVALID_MESSAGE');
        // Enough history that the owners' replication logs were compacted before the joins.
        while (elapsed() < 3_000) await new Promise((resolve) => setTimeout(resolve, 50));
        const node4 = await running.add();
        const node5 = await running.add();
        const all = [...hosts, `${node4.host}:${node4.port}`, `${node5.host}:${node5.port}`];
        timings.push(`joins moved partitions in ${await waitPlacement(all, ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'], 60_000)} ms`);
        const owned = (await fetchClusterView(all[4] ?? ''))?.partitions.filter((row) => row.owner === 'node-5').length ?? 0;
        timings.push(`node-5 owns ${owned} partitions`);
        expect(owned).toBeGreaterThan(0);
        // The owners had compacted their replication logs (compactEveryEntries 20), so the new nodes
        // caught up by snapshot transfer, then by entries.
        const metrics = await fetchMetrics(all[4] ?? '');
        const installs = metrics.get('ringstate_snapshot_installs_total') ?? 0;
        const fetched = metrics.get('ringstate_snapshot_entries_fetched_total') ?? 0;
        timings.push(`node-5 installed ${installs} snapshots (${fetched} entries fetched)`);
        expect(installs).toBeGreaterThan(0);

        // Scale-in through the admin API: node-1 leaves, then exits by itself.
        const leaveStarted = Date.now();
        const answer = await fetch(`http://${hosts[0]}/v1/admin/leave`, { method: 'POST' });
        expect(answer.status).toBe(202);
        timings.push(`leave moved partitions in ${await waitPlacement(all.slice(1), ['node-2', 'node-3', 'node-4', 'node-5'], 60_000)} ms`);
        const leaver = running.members[0];
        while (leaver?.child !== undefined && Date.now() - leaveStarted < 30_000) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(leaver?.child, 'node-1 exits by itself once it left').toBeUndefined();
        timings.push(`node-1 exited ${Date.now() - leaveStarted} ms after the leave request`);

        // Scale-in by stopping: SIGTERM to node-2 moves its replicas away before it exits.
        const stopStarted = Date.now();
        await running.kill('node-2', 'SIGTERM');
        timings.push(`node-2 left and exited ${Date.now() - stopStarted} ms after SIGTERM`);
        await waitPlacement(all.slice(2), ['node-3', 'node-4', 'node-5'], 30_000);
        // Keep the load on the remaining nodes for a moment.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        done = true;
      }
    });
    const remaining = cluster.members.slice(2);
    await waitConverged(
      remaining.map((member) => `${member.host}:${member.port}`),
      30_000,
    );
    const acked = histories.reduce((n, h) => n + h.acked.length, 0);
    const failed = histories.reduce((n, h) => n + h.failed, 0);
    const indeterminate = histories.reduce((n, h) => n + h.indeterminate, 0);
    console.log(`membership: ${timings.join('; ')}; acked ${acked}, failed ${failed}, indeterminate ${indeterminate}`);
    await cluster.stopAll();
    // node-3..5 now replicate every partition (3 members, replicationFactor 3); the copies of the
    // nodes that left are stale by design.
    const check = await checkHistories(remaining.map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
    expect(failed).toBe(0);
    expect(indeterminate).toBe(0);
    expect(acked).toBeGreaterThan(100);
  }, 240_000);
});
