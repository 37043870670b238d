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

describe('cluster founding - a wiped founder after its fellow founders left', () => {
  let grown: TestCluster | undefined;
  afterAll(async () => {
    await grown?.stopAll();
  });

  it('founding - a founder wiped after the cluster grew and the other founders were removed asks the live members and rejoins, never founds', async () => {
    const lines: Record_[] = [];
    const logger = (nodeId: string) =>
      pino(
        { level: 'info', base: { nodeId } },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record_);
            done();
          },
        }),
      );
    grown = await startTestCluster(3, {}, { spares: 2, logger, clusterSettings: { bootstrapWaitMs: 8_000 } });
    const running = grown;
    const node = (id: string) => {
      const found = running.members.find((member) => member.nodeId === id);
      if (found === undefined) throw new Error(`${id} not started`);
      return found.node;
    };
    const ringOf = (id: string) => [...(node(id).cluster?.ring.members ?? [])].sort().join(',');
    await running.start('node-4');
    await running.start('node-5');
    await expect.poll(() => ringOf('node-1'), { timeout: 30_000, interval: 100 }).toBe('node-1,node-2,node-3,node-4,node-5');
    // The other founders go for good and are removed from the ring.
    await running.stop('node-2');
    await running.stop('node-3');
    for (const gone of ['node-2', 'node-3']) {
      await expect
        .poll(
          () => {
            try {
              node('node-1').cluster?.removeMember(gone);
              return true;
            } catch {
              return false;
            }
          },
          { timeout: 30_000, interval: 200 },
        )
        .toBe(true);
    }
    await expect.poll(() => ['node-1', 'node-4', 'node-5'].map(ringOf), { timeout: 30_000, interval: 100 }).toEqual(Array(3).fill('node-1,node-4,node-5'));
    // node-1 loses its disk. Its configured founders are gone; node-4 and node-5 hold the cluster.
    const victim = running.members.find((member) => member.nodeId === 'node-1');
    if (victim === undefined) throw new Error('node-1 missing');
    await running.stop('node-1');
    rmSync(victim.dataDir, { recursive: true, force: true });
    lines.length = 0;
    await running.start('node-1');
    const own = lines.filter((record) => record.nodeId === 'node-1').map((record) => record.msg);
    expect(own.some((msg) => msg.startsWith('founding the cluster'))).toBe(false);
    expect(own.some((msg) => msg.includes('empty disk in an existing cluster: rejoining'))).toBe(true);
    await expect.poll(() => ringOf('node-1'), { timeout: 15_000, interval: 100 }).toBe('node-1,node-4,node-5');
  }, 120_000);
});
