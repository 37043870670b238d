/**
 * Founding a brand-new cluster whose founders do not start together (a person starting nodes by
 * hand, a launcher, pods scheduled apart): every listed founder founds, none takes the
 * "empty disk in an existing cluster" path meant for a node that lost its disk, and every
 * partition gets one owner.
 */
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/in-process-cluster.ts';

let cluster: TestCluster | undefined;
afterAll(async () => {
  await cluster?.stopAll();
});

interface Record_ {
  nodeId: string;
  msg: string;
}

const records: Record_[] = [];

describe('cluster founding - founders started apart', () => {
  it('founding - founders started 1.5 s apart all found one cluster; none rejoins', async () => {
    const logger = (nodeId: string) =>
      pino(
        { level: 'info', base: { nodeId } },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            for (const line of chunk.toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line) as Record_);
            done();
          },
        }),
      );
    cluster = await startTestCluster(3, {}, { staggerMs: 1_500, logger });
    const running = cluster;
    const founded = (nodeId: string) => records.some((record) => record.nodeId === nodeId && record.msg.startsWith('founding the cluster'));
    const rejoined = records.filter((record) => record.msg.includes('rejoining'));
    expect(rejoined.map((record) => `${record.nodeId}: ${record.msg}`)).toEqual([]);
    expect(['node-1', 'node-2', 'node-3'].filter(founded)).toEqual(['node-1', 'node-2', 'node-3']);
    // One cluster: every partition has a ready owner that all three nodes agree on.
    await expect
      .poll(
        () => {
          const views = running.members.map((member) => member.node.clusterView().partitions.map((row) => (row.ready || row.role !== 'owner' ? row.owner ?? '?' : '?')).join(','));
          return views.every((view) => view === views[0] && !view.split(',').includes('?'));
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(true);
    // A person watching the start reads one summary per node, not a line per partition and change.
    const settled = (nodeId: string) => records.findIndex((record) => record.nodeId === nodeId && record.msg.startsWith('partitions settled'));
    await expect.poll(() => ['node-1', 'node-2', 'node-3'].map(settled).every((index) => index >= 0), { timeout: 10_000 }).toBe(true);
    for (const nodeId of ['node-1', 'node-2', 'node-3']) {
      const before = records.slice(0, settled(nodeId)).filter((record) => record.nodeId === nodeId && record.msg === 'partition ownership changed');
      expect(before, `${nodeId}: ownership lines at info before its summary`).toEqual([]);
    }
  });

  it('founding - a founder whose disk is wiped after the cluster has lived rejoins through the amnesia fence, never founds again', async () => {
    const running = cluster;
    if (running === undefined) throw new Error('the first test starts the cluster');
    const victim = running.members.find((member) => member.nodeId === 'node-3');
    if (victim === undefined) throw new Error('node-3 missing');
    await running.stop('node-3');
    rmSync(victim.dataDir, { recursive: true, force: true });
    records.length = 0;
    await running.start('node-3');
    const own = records.filter((record) => record.nodeId === 'node-3').map((record) => record.msg);
    expect(own.some((msg) => msg.includes('empty disk in an existing cluster: rejoining'))).toBe(true);
    expect(own.some((msg) => msg.startsWith('founding the cluster'))).toBe(false);
  });
});
