/**
 * Real processes, real faults: a 3-node cluster under a list-append load from SDK clients.
 * After each fault the history checker reads every replica: every acknowledged append present
 * exactly once and in order, no divergence; and the time until clients were served again is
 * printed (and bounded).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { busiestOwner, checkHistories, percentile, recoveryTimesMs, runListAppend, waitConverged } from '../support/list-append.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';
import { fetchMetrics } from '../../loadtest/src/cluster/admin-client.ts';

const PARTITIONS = 16;
let cluster: ProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster?.remove();
  cluster = undefined;
});

describe('cluster faults - real processes', () => {
  it('faults - kill -9 of the busiest owner loses no acknowledged append; it rejoins with its disk', async () => {
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS });
    const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
    const players = Array.from({ length: 9 }, (_, n) => `kp${n}`);
    let killAtMs = 0;
    let victim = '';
    const current = cluster;
    const histories = await runListAppend({ hosts, players, durationMs: 9_000 }, async (elapsed) => {
      while (elapsed() < 2_500) await new Promise((resolve) => setTimeout(resolve, 50));
      victim = await busiestOwner(hosts);
      killAtMs = Date.now();
      await current.kill(victim, 'SIGKILL');
      while (elapsed() < 6_000) await new Promise((resolve) => setTimeout(resolve, 50));
      await current.start(victim);
    });
    await current.waitReady();
    await waitConverged(hosts, 30_000);
    // The restarted node takes back the partitions it is the preferred owner of.
    const deadline = Date.now() + 20_000;
    let ownedByVictim = 0;
    while (Date.now() < deadline) {
      const view = (await (await fetch(`http://${hosts[0]}/v1/admin/cluster`)).json()) as { partitions: Array<{ owner: string | null }> };
      ownedByVictim = view.partitions.filter((row) => row.owner === victim).length;
      if (ownedByVictim > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(ownedByVictim).toBeGreaterThan(0);
    const recovery = recoveryTimesMs(histories, killAtMs);
    console.log(`kill -9 ${victim}: recovery ms p50 ${percentile(recovery, 0.5)} p99 ${percentile(recovery, 0.99)} max ${recovery.at(-1)}; acked ${histories.reduce((n, h) => n + h.acked.length, 0)}`);
    await current.stopAll();
    const check = await checkHistories(current.members.map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
    expect(recovery.length).toBe(players.length);
    expect(percentile(recovery, 0.99)).toBeLessThan(10_000);
  }, 120_000);

  it('faults - SIGSTOP of a node past the failure timeout, then SIGCONT: no loss, no divergence', async () => {
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS });
    const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
    const players = Array.from({ length: 9 }, (_, n) => `sp${n}`);
    let pausedAtMs = 0;
    let victim = '';
    const current = cluster;
    const histories = await runListAppend({ hosts, players, durationMs: 8_000 }, async (elapsed) => {
      while (elapsed() < 2_000) await new Promise((resolve) => setTimeout(resolve, 50));
      victim = await busiestOwner(hosts);
      pausedAtMs = Date.now();
      await current.kill(victim, 'SIGSTOP');
      while (elapsed() < 5_000) await new Promise((resolve) => setTimeout(resolve, 50));
      await current.kill(victim, 'SIGCONT');
    });
    await waitConverged(hosts, 30_000);
    const recovery = recoveryTimesMs(histories, pausedAtMs);
    console.log(`SIGSTOP ${victim} for 3 s: recovery ms p50 ${percentile(recovery, 0.5)} p99 ${percentile(recovery, 0.99)} max ${recovery.at(-1)}; acked ${histories.reduce((n, h) => n + h.acked.length, 0)}`);
    await current.stopAll();
    const check = await checkHistories(current.members.map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
    expect(percentile(recovery, 0.99)).toBeLessThan(10_000);
  }, 120_000);

  it('faults - a node restarted with its disk wiped catches up by snapshot transfer and the history holds', async () => {
    // Owners compact their replication logs every 20 entries, so the wiped node must install
    // snapshots (fetching the committed entries) before it can follow entry by entry.
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS, cluster: { compactEveryEntries: 20 } });
    const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
    const players = Array.from({ length: 9 }, (_, n) => `wp${n}`);
    let victim = '';
    const current = cluster;
    const histories = await runListAppend({ hosts, players, durationMs: 8_000 }, async (elapsed) => {
      while (elapsed() < 2_000) await new Promise((resolve) => setTimeout(resolve, 50));
      victim = await busiestOwner(hosts);
      await current.kill(victim, 'SIGKILL');
      current.wipe(victim);
      while (elapsed() < 3_500) await new Promise((resolve) => setTimeout(resolve, 50));
      await current.start(victim);
    });
    await current.waitReady();
    await waitConverged(hosts, 30_000);
    const wiped = current.members.find((member) => member.nodeId === victim);
    const installs = (await fetchMetrics(`${wiped?.host}:${wiped?.port}`)).get('ringstate_snapshot_installs_total') ?? 0;
    expect(installs, 'the wiped node installed snapshots').toBeGreaterThan(0);
    await current.stopAll();
    const check = await checkHistories(current.members.map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
    console.log(`wiped ${victim}: ${installs} snapshots installed; acked ${histories.reduce((n, h) => n + h.acked.length, 0)}, all replicas identical`);
  }, 120_000);
});
