import { describe, expect, it } from 'vitest';
import type { Message } from '../../../server/src/replication/index.ts';
import { Harness, inFlightOfType, loneNode, type Payload } from './harness.ts';

const ids = ['a', 'b', 'c'];

function settle(): { h: Harness; owner: string; others: [string, string] } {
  const h = new Harness(ids);
  h.waitForOwner();
  h.advance(2000);
  const owner = h.readyOwner() as string;
  return { h, owner, others: ids.filter((id) => id !== owner) as [string, string] };
}

describe('amnesia', () => {
  it('amnesia - a replica restarted with a wiped disk neither votes nor campaigns until readmitted', () => {
    const { h, owner: leader, others } = settle();
    const [wiped, other] = others;
    h.crash(wiped);
    h.isolate(wiped);
    h.restart(wiped, { wipe: true, replicaSet: ids });
    expect(h.status(wiped).amnesiac).toBe(true);
    // It does not campaign, however long it hears nothing.
    h.advance(5000);
    expect(h.status(wiped).role).toBe('follower');
    expect(h.status(wiped).epoch).toBe(0);
    // It refuses a vote it would otherwise grant.
    h.core(wiped).step(other, { type: 'vote', partition: 0, epoch: 50, lastPosition: 1000, lastEpoch: 49, transfer: true });
    h.process(wiped);
    expect(inFlightOfType(h, 'vote-response', { from: wiped }).at(-1)?.message).toMatchObject({ granted: false, epoch: 50 });
    h.inFlight = [];
    // Once the owner reaches it, it catches up and is readmitted.
    h.heal();
    h.advance(1000);
    expect(h.status(wiped).amnesiac).toBe(false);
    expect(h.status(wiped).lastPosition).toBe(h.status(leader).lastPosition);
    expect(h.status(wiped).commit).toBe(h.status(leader).commit);
  });

  it('amnesia - a wiped replica is readmitted only once it holds the fence, not while its log is still short', () => {
    const { h, owner, others } = settle();
    const [wiped] = others;
    for (let index = 0; index < 5; index += 1) h.core(owner).propose(0, `x${index}`);
    h.processAll();
    h.deliverAll();
    h.advance(200);
    h.crash(wiped);
    h.restart(wiped, { wipe: true, replicaSet: ids });
    // Appends to the wiped replica are lost: it hears heartbeats only, so it learns of the
    // fence's commit but never receives the fence or the entries before it.
    h.lose = (item) => item.to === wiped && (item.message.type === 'append' || item.message.type === 'snapshot');
    h.advance(1000);
    h.lose = null;
    expect(h.status(owner).commit).toBeGreaterThan(5);
    expect(h.status(wiped).lastPosition).toBe(0);
    // Readmitted now, its empty log would grant its vote to any candidate.
    expect(h.status(wiped).amnesiac).toBe(true);
    // Once it holds the fence, it is readmitted.
    h.advance(1000);
    expect(h.status(wiped).lastPosition).toBe(h.status(owner).lastPosition);
    expect(h.status(wiped).amnesiac).toBe(false);
  });

  it('amnesia - readmission needs the fence committed by a quorum without the amnesiac replica', () => {
    const { h, owner: leader, others } = settle();
    const [wiped, down] = others;
    h.crash(down);
    h.crash(wiped);
    h.restart(wiped, { wipe: true, replicaSet: ids });
    h.advance(3000);
    // The owner and the amnesiac replica are two of three, but the amnesiac one does not
    // count: no readmission, no commit, and the owner stepped down (check-quorum).
    expect(h.status(wiped).amnesiac).toBe(true);
    expect(h.status(leader).role).not.toBe('owner');
    expect(h.readyOwner()).toBe(null);
    const refused = h.core(leader).propose(0, 'x');
    expect(refused.ok).toBe(false);
    // With the third replica back, a quorum without the wiped one exists again.
    h.restart(down);
    h.waitForOwner(0, 5000);
    h.advance(1000);
    expect(h.status(wiped).amnesiac).toBe(false);
  });

  it('amnesia - the owner fences an amnesiac replica with a no-op and tells it its episode id', () => {
    const { h, owner, others } = settle();
    const [wiped] = others;
    h.crash(wiped);
    h.restart(wiped, { wipe: true, replicaSet: ids });
    const lastBefore = h.status(owner).lastPosition;
    const readmits: number[] = [];
    const episodes: number[] = [];
    h.onDeliver = ({ message }) => {
      if ((message.type === 'append' || message.type === 'heartbeat') && message.readmit !== 0) readmits.push(message.readmit);
      if ((message.type === 'append-response' || message.type === 'heartbeat-response') && message.amnesia !== 0) {
        episodes.push(message.amnesia);
      }
    };
    h.advanceUntil(() => !h.status(wiped).amnesiac, 2000);
    expect(new Set(episodes).size).toBe(1);
    expect(readmits.length).toBeGreaterThan(0);
    expect(readmits.every((id) => id === episodes[0])).toBe(true);
    const fence = (h.node(owner).applied.get(0) ?? []).filter((entry) => entry.position > lastBefore);
    expect(fence.map((entry) => entry.kind)).toContain('noop');
  });

  it('amnesia - a readmission naming another episode (an earlier wipe) is ignored', () => {
    const { core, drain } = loneNode('x');
    const heartbeat = (readmit: number): Message<Payload> => ({ type: 'heartbeat', partition: 0, epoch: 7, commit: 0, seq: 1, readmit, quiesce: false });
    core.step('l', heartbeat(0));
    const episode = drain().find((item) => item.message.type === 'heartbeat-response')?.message;
    expect(episode?.type === 'heartbeat-response' && episode.amnesia).toBeGreaterThan(0);
    const id = episode?.type === 'heartbeat-response' ? episode.amnesia : 0;
    core.step('l', heartbeat(id + 1));
    drain();
    expect(core.status(0).amnesiac).toBe(true);
    core.step('l', heartbeat(id));
    const after = drain().at(-1)?.message;
    expect(core.status(0).amnesiac).toBe(false);
    expect(after).toMatchObject({ type: 'heartbeat-response', amnesia: 0 });
  });

  it('amnesia - a replica wiped again before its readmission arrived starts a new fence', () => {
    const { h, owner: leader, others } = settle();
    const [wiped] = others;
    h.crash(wiped);
    h.restart(wiped, { wipe: true, replicaSet: ids });
    // The first episode catches up and holds the fence, but every message that would readmit
    // it is lost.
    let firstEpisode = 0;
    h.onDeliver = ({ from, to, message }) => {
      if (from === wiped && to === leader && 'amnesia' in message && message.amnesia !== 0 && firstEpisode === 0) firstEpisode = message.amnesia;
    };
    h.lose = ({ from, to, message }) => from === leader && to === wiped && (message.type === 'append' || message.type === 'heartbeat') && message.readmit !== 0;
    h.advance(1000);
    h.lose = null;
    expect(firstEpisode).not.toBe(0);
    expect(h.status(wiped).lastPosition).toBe(h.status(leader).lastPosition);
    expect(h.status(wiped).amnesiac).toBe(true);
    h.crash(wiped);
    h.restart(wiped, { wipe: true, replicaSet: ids });
    // The owner still names the first episode; the second one must ignore it, and is
    // readmitted only by a fence for its own episode.
    const events: string[] = [];
    h.onDeliver = ({ from, to, message }) => {
      if (to === wiped && (message.type === 'append' || message.type === 'heartbeat') && message.readmit !== 0) {
        events.push(message.readmit === firstEpisode ? 'stale-readmit' : 'readmit');
      }
      if (from === wiped && 'amnesia' in message) events.push(message.amnesia === 0 ? 'voting' : message.amnesia === firstEpisode ? 'first' : 'second');
    };
    h.heal();
    h.advance(1000);
    const stale = events.indexOf('stale-readmit');
    expect(stale).toBeGreaterThanOrEqual(0);
    expect(events[stale + 1]).toBe('second');
    expect(events).not.toContain('first');
    expect(events.indexOf('readmit')).toBeGreaterThan(stale);
    expect(events.indexOf('voting')).toBeGreaterThan(events.indexOf('readmit'));
    expect(h.status(wiped).amnesiac).toBe(false);
    expect(h.status(wiped).commit).toBe(h.status(leader).commit);
  });

  it('amnesia - a heartbeat meant for the wiped replica\'s previous run cannot advance its commit', () => {
    const { core, drain } = loneNode('x');
    // A stale owner view: commit 40 although this (new, empty) replica holds nothing.
    core.step('l', { type: 'heartbeat', partition: 0, epoch: 3, commit: 40, seq: 1, readmit: 0, quiesce: false });
    drain();
    expect(core.status(0).commit).toBe(0);
  });
});
