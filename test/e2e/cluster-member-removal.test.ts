/**
 * Removing a member that died for good (`POST /v1/admin/members/remove`) on real processes:
 * a 4-node cluster under a list-append load loses node-4 to kill -9; the operator removes it;
 * every partition it replicated gets a replica set of the three survivors, and no acknowledged
 * append is lost or diverges.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fetchClusterView, waitConverged, waitPlacement } from '../../loadtest/src/cluster/admin-client.ts';
import { checkHistories, runListAppend } from '../support/list-append.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';

const PARTITIONS = 16;
let cluster: ProcessCluster | undefined;

afterAll(async () => {
  await cluster?.stopAll();
  cluster?.remove();
});

describe('cluster member removal - real processes', () => {
  it('membership - a node killed for good is removed through the admin API; its partitions move to the survivors and no append is lost', async () => {
    cluster = await startProcessCluster(4, { partitionCount: PARTITIONS });
    const running = cluster;
    const hosts = running.members.slice(0, 3).map((member) => `${member.host}:${member.port}`);
    const players = Array.from({ length: 8 }, (_, n) => `rm${n}`);
    let replicatedByVictim = 0;
    let placementMs = 0;
    let done = false;
    const histories = await runListAppend({ hosts, players, durationMs: 60_000, stopWhen: () => done }, async (elapsed) => {
      try {
        while (elapsed() < 2_000) await new Promise((resolve) => setTimeout(resolve, 50));
        replicatedByVictim = (await fetchClusterView(hosts[0] ?? ''))?.partitions.filter((row) => row.replicas.includes('node-4')).length ?? 0;
        await running.kill('node-4', 'SIGKILL');
        // The survivors must see it down first: a live node is not removed behind its back.
        const deadline = Date.now() + 10_000;
        let answer: Response | undefined;
        while (Date.now() < deadline) {
          answer = await fetch(`http://${hosts[0]}/v1/admin/members/remove`, { method: 'POST', body: JSON.stringify({ nodeId: 'node-4' }) });
          if (answer.status === 200) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(answer?.status).toBe(200);
        const started = Date.now();
        placementMs = await waitPlacement(hosts, ['node-1', 'node-2', 'node-3'], 60_000);
        expect(Date.now() - started).toBeLessThan(60_000);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        done = true;
      }
    });
    // Replicas learn the last commits up to a tick later: let them apply before reading disks.
    await waitConverged(hosts, 30_000);
    const view = await fetchClusterView(hosts[1] ?? '');
    expect(view?.ring.members).toEqual(['node-1', 'node-2', 'node-3']);
    expect(view?.partitions.every((row) => !row.voters.includes('node-4') && !row.learners.includes('node-4'))).toBe(true);
    const acked = histories.reduce((n, h) => n + h.acked.length, 0);
    const failed = histories.reduce((n, h) => n + h.failed, 0);
    console.log(`member removal: node-4 replicated ${replicatedByVictim} of ${PARTITIONS} partitions; placement on the survivors ${placementMs} ms after the removal; acked ${acked}, failed ${failed}`);
    expect(replicatedByVictim).toBeGreaterThan(0);
    await running.stopAll();
    const check = await checkHistories(running.members.slice(0, 3).map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
    expect(acked).toBeGreaterThan(50);
  }, 180_000);
});
