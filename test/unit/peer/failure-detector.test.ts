import { describe, expect, it } from 'vitest';
import { FailureDetector } from '../../../server/src/peer/index.ts';

describe('failure detector', () => {
  it('failure detector - a node known only by gossip is down until heard from', () => {
    const d = new FailureDetector({ failureTimeoutMs: 800 });
    d.track('b');
    expect(d.isAlive('b')).toBe(false);
    expect(d.lastHeardMs('b')).toBeNull();
    expect(d.tick(10_000)).toEqual([]);
    expect(d.heard('b', 10_000)).toEqual({ nodeId: 'b', status: 'up' });
    expect(d.isAlive('b')).toBe(true);
    expect(d.lastHeardMs('b')).toBe(10_000);
  });

  it('failure detector - goes down exactly when the silence reaches the timeout, once', () => {
    const d = new FailureDetector({ failureTimeoutMs: 800 });
    d.heard('b', 1_000);
    expect(d.tick(1_799)).toEqual([]);
    expect(d.tick(1_800)).toEqual([{ nodeId: 'b', status: 'down' }]);
    expect(d.isAlive('b')).toBe(false);
    expect(d.tick(5_000)).toEqual([]);
  });

  it('failure detector - every message heard pushes the deadline back', () => {
    const d = new FailureDetector({ failureTimeoutMs: 800 });
    for (let t = 0; t <= 10_000; t += 200) {
      expect(d.heard('b', t)).toEqual(t === 0 ? { nodeId: 'b', status: 'up' } : null);
      expect(d.tick(t + 100)).toEqual([]);
    }
    expect(d.tick(10_000 + 800)).toEqual([{ nodeId: 'b', status: 'down' }]);
  });

  it('failure detector - a down node comes back up when heard again, and reports it once', () => {
    const d = new FailureDetector({ failureTimeoutMs: 500 });
    d.heard('b', 0);
    d.tick(500);
    expect(d.heard('b', 900)).toEqual({ nodeId: 'b', status: 'up' });
    expect(d.heard('b', 950)).toBeNull();
    expect(d.tick(1_449)).toEqual([]);
    expect(d.tick(1_450)).toEqual([{ nodeId: 'b', status: 'down' }]);
  });

  it('failure detector - a late report with an older time does not move the deadline back', () => {
    const d = new FailureDetector({ failureTimeoutMs: 500 });
    d.heard('b', 1_000);
    d.heard('b', 900);
    expect(d.lastHeardMs('b')).toBe(1_000);
    expect(d.tick(1_499)).toEqual([]);
  });

  it('failure detector - nodes are judged independently', () => {
    const d = new FailureDetector({ failureTimeoutMs: 500 });
    d.heard('b', 0);
    d.heard('c', 400);
    expect(d.tick(500)).toEqual([{ nodeId: 'b', status: 'down' }]);
    expect(d.isAlive('c')).toBe(true);
    expect(d.tick(900)).toEqual([{ nodeId: 'c', status: 'down' }]);
    expect(d.nodeIds().sort()).toEqual(['b', 'c']);
  });

  it('failure detector - suspect forces a live node down once', () => {
    const d = new FailureDetector({ failureTimeoutMs: 500 });
    d.heard('b', 0);
    expect(d.suspect('b')).toEqual({ nodeId: 'b', status: 'down' });
    expect(d.suspect('b')).toBeNull();
    expect(d.suspect('unknown')).toBeNull();
  });

  it('failure detector - rejects a non-positive timeout', () => {
    expect(() => new FailureDetector({ failureTimeoutMs: 0 })).toThrow(/failureTimeoutMs/);
  });
});
