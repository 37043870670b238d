import { describe, expect, it } from 'vitest';
import { MemberTable } from '../../../server/src/peer/member-table.ts';

const entry = (nodeId: string, address: string, incarnation: number) => ({ nodeId, address, incarnation });

describe('peer member table', () => {
  it('member table - gossip adds unknown nodes and ignores entries about this node', () => {
    const t = new MemberTable('self', 10);
    expect(t.recordGossip(entry('b', 'b:1', 1))).toBe('added');
    expect(t.recordGossip(entry('self', 'elsewhere:1', 99))).toBe('unchanged');
    expect(t.entries().map((e) => e.nodeId)).toEqual(['b']);
  });

  it('member table - gossip replaces an entry only with a newer incarnation', () => {
    const t = new MemberTable('self', 10);
    t.recordGossip(entry('b', 'b:1', 5));
    expect(t.recordGossip(entry('b', 'stale:1', 4))).toBe('unchanged');
    expect(t.recordGossip(entry('b', 'other:1', 5))).toBe('unchanged');
    expect(t.get('b')?.address).toBe('b:1');
    expect(t.recordGossip(entry('b', 'b:2', 6))).toBe('updated');
    expect(t.get('b')).toEqual(entry('b', 'b:2', 6));
  });

  it('member table - first-hand hello wins over what gossip said', () => {
    const t = new MemberTable('self', 10);
    t.recordGossip(entry('b', 'b:2', 9));
    expect(t.recordDirect(entry('b', 'b:3', 7))).toBe('updated');
    expect(t.get('b')).toEqual(entry('b', 'b:3', 7));
    expect(t.recordDirect(entry('b', 'b:3', 7))).toBe('unchanged');
  });

  it('member table - stays within membersMax', () => {
    const t = new MemberTable('self', 2);
    t.recordGossip(entry('a', 'a:1', 1));
    t.recordGossip(entry('b', 'b:1', 1));
    expect(t.recordGossip(entry('c', 'c:1', 1))).toBe('unchanged');
    expect(t.size).toBe(2);
    expect(t.recordGossip(entry('a', 'a:2', 2))).toBe('updated');
  });
});
