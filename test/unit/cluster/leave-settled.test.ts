import { describe, expect, it } from 'vitest';
import { leaveSettled } from '../../../server/src/cluster/index.ts';
import { encodeRingRecord, type RingRecord } from '../../../server/src/membership/index.ts';

// n3 left: its record (generation 5) no longer lists it; two partitions, owned by n1 and n2.
const ours: RingRecord = { generation: 5, members: ['n1', 'n2', 'n4'], clusterId: '0123456789abcdef', left: ['n3'] };
const report = (led: number[], record: RingRecord = ours, holding: number[] = []) => ({ led, holding, ring: encodeRingRecord(record) });

describe('leaveSettled', () => {
  it('settles once every partition is owned elsewhere, no owner counts the node, and every member holds the leave', () => {
    expect(leaveSettled('n3', ours, [report([0]), report([1]), report([])], 2)).toBe(true);
    // A newer record without the node also holds the leave.
    expect(leaveSettled('n3', ours, [report([0, 1], { ...ours, generation: 7 })], 2)).toBe(true);
  });

  it('waits while an owner still counts the node or a partition has no owner', () => {
    expect(leaveSettled('n3', ours, [report([0], ours, [0]), report([1])], 2)).toBe(false);
    expect(leaveSettled('n3', ours, [report([0]), report([])], 2)).toBe(false);
  });

  it('waits while a live member holds an older record, a record listing the node, or did not answer (seed 59074)', () => {
    const older: RingRecord = { generation: 3, members: ['n1', 'n2', 'n4'], clusterId: ours.clusterId };
    expect(leaveSettled('n3', ours, [report([0, 1]), report([], older)], 2)).toBe(false);
    const listing: RingRecord = { generation: 6, members: ['n1', 'n2', 'n3', 'n4'], clusterId: ours.clusterId };
    expect(leaveSettled('n3', ours, [report([0, 1]), report([], listing)], 2)).toBe(false);
    expect(leaveSettled('n3', ours, [report([0, 1]), undefined], 2)).toBe(false);
    expect(leaveSettled('n3', ours, [report([0, 1]), { led: [], holding: [] }], 2)).toBe(false);
  });
});
