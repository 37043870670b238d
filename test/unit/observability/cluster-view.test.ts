import { describe, expect, it } from 'vitest';
import { clusterViewOf } from '../../../server/src/observability/index.ts';

const row = { partition: 0, replicas: ['a', 'b', 'c'], epoch: 3, ready: true, commit: 5, applied: 5, lastPosition: 5, voters: ['a', 'b', 'c'], learners: [], lag: 0 };
const view = (partitions: unknown[]) => ({ nodeId: 'a', ringVersion: 1, ring: { generation: 1, members: ['a', 'b', 'c'], clusterId: 'x' }, leaving: false, members: [], partitions });

describe('admin cluster view', () => {
  it('admin view - rows of a node before 0.2 (leader, role leader) read as owner', () => {
    const read = clusterViewOf(view([{ ...row, role: 'leader', leader: 'a' }, { ...row, partition: 1, role: 'follower', leader: 'b' }]));
    expect(read.partitions[0]).toMatchObject({ role: 'owner', owner: 'a' });
    expect(read.partitions[0]).not.toHaveProperty('leader');
    expect(read.partitions[1]).toMatchObject({ role: 'follower', owner: 'b' });
  });

  it('admin view - rows of this build pass unchanged', () => {
    const current = { ...row, role: 'owner', owner: 'a' };
    expect(clusterViewOf(view([current])).partitions[0]).toBe(current);
  });
});
