/**
 * Heartbeats and their answers do not wait for store writes (PartitionGroup.takeUrgentMessages):
 * under load a Ready's write can take hundreds of milliseconds, and a replica whose answers
 * queued behind it looked dead to its owner. They still never speak for an epoch that is not
 * durable here.
 */
import { describe, expect, it } from 'vitest';
import { type Message, type Ready, ReplicationNode } from '../../../server/src/replication/index.ts';
import { MemoryStorage } from '../../../server/src/simulation/memory-storage.ts';
import type { Payload } from './harness.ts';

/** Replica 'b' over an in-memory store; bootstrapped with a, b, c unless `empty` (a new or wiped disk). */
function replica(empty = false) {
  const storage = new MemoryStorage<Payload>();
  const core = new ReplicationNode<Payload>({ nodeId: 'b', partitionCount: 1, storage, random: () => 0.5, payloadBytes: (payload) => payload.length, nowMs: 0 });
  const persist = (ready: Ready<Payload>): void => {
    for (const write of ready.writes) storage.write(write);
    storage.sync();
    core.advance(ready);
  };
  if (!empty) {
    core.bootstrap(0, ['a', 'b', 'c']);
    persist(core.ready());
  }
  return { core, persist };
}

const heartbeat = (epoch: number, seq: number): Message<Payload> => ({ type: 'heartbeat', partition: 0, epoch, commit: 1, seq, readmit: 0, quiesce: false });
const types = (messages: ReadonlyArray<{ message: Message<Payload> }>) => messages.map(({ message }) => `${message.type}${'seq' in message ? ` ${message.seq}` : ''}`);

describe('liveness under slow store writes', () => {
  it('a replica answers a heartbeat at once while a Ready is being persisted, but only for an epoch already durable', () => {
    const { core, persist } = replica();
    // A heartbeat of a new epoch: the answer waits for the Ready that makes the epoch durable.
    core.step('a', heartbeat(2, 1));
    expect(core.takeUrgentMessages()).toEqual([]);
    const epochReady = core.ready();
    expect(epochReady.writes[0]?.hardState?.epoch).toBe(2);
    core.step('a', heartbeat(2, 2));
    expect(core.takeUrgentMessages()).toEqual([]); // still being persisted
    persist(epochReady);
    const carried = core.ready();
    expect(types([...epochReady.messages, ...carried.messages])).toEqual(['heartbeat-response 1', 'heartbeat-response 2']);
    persist(carried);

    // The epoch is durable. An append's write is under way; its answer waits for it, a
    // heartbeat's answer does not.
    core.step('a', { type: 'append', partition: 0, epoch: 2, prevPosition: 1, prevEpoch: 1, entries: [{ position: 2, epoch: 2, kind: 'command', payload: 'x' }], commit: 1, readmit: 0 });
    const appendReady = core.ready();
    expect(appendReady.writes[0]?.entries).toHaveLength(1);
    core.step('a', heartbeat(2, 3));
    const urgent = core.takeUrgentMessages();
    expect(types(urgent)).toEqual(['heartbeat-response 3']);
    expect(urgent[0]?.to).toBe('a');
    expect(types(appendReady.messages)).toEqual(['append-response']);
    persist(appendReady);
    // Taken once: the next Ready does not send it again.
    expect(core.hasReady() ? types(core.ready().messages) : []).not.toContain('heartbeat-response 3');
  });

  it('an answer that readmits an amnesiac replica waits until the readmission is durable', () => {
    // A replica with an empty disk (a new or wiped node) is amnesiac until an owner readmits it.
    const { core, persist } = replica(true);
    core.step('a', heartbeat(2, 1));
    const first = core.ready();
    persist(first);
    const answer = first.messages.find(({ message }) => message.type === 'heartbeat-response')?.message;
    const episode = answer?.type === 'heartbeat-response' ? answer.amnesia : 0;
    expect(episode).not.toBe(0);
    // The owner readmits it: the answer says amnesia 0, which is not durable yet.
    core.step('a', { ...heartbeat(2, 2), readmit: episode } as Message<Payload>);
    expect(core.takeUrgentMessages()).toEqual([]);
    const readmitted = core.ready();
    expect(readmitted.writes[0]?.hardState?.amnesia).toBe(0);
    expect(readmitted.messages.map(({ message }) => message.type === 'heartbeat-response' && message.amnesia)).toEqual([0]);
    persist(readmitted);
    // Durable now: later answers go at once again.
    core.step('a', heartbeat(2, 3));
    expect(types(core.takeUrgentMessages())).toEqual(['heartbeat-response 3']);
  });

  it('a write that hangs (over twice the longest election timeout) stops the urgent messages', () => {
    const { core, persist } = replica();
    core.step('a', heartbeat(2, 1));
    persist(core.ready());
    core.step('a', { type: 'append', partition: 0, epoch: 2, prevPosition: 1, prevEpoch: 1, entries: [{ position: 2, epoch: 2, kind: 'command', payload: 'x' }], commit: 1, readmit: 0 });
    const hanging = core.ready();
    core.tick(1_900);
    core.step('a', heartbeat(2, 2));
    expect(types(core.takeUrgentMessages())).toEqual(['heartbeat-response 2']);
    core.tick(2_000);
    core.step('a', heartbeat(2, 3));
    expect(core.takeUrgentMessages()).toEqual([]);
    // Once the write completes, the answer leaves with the next Ready.
    persist(hanging);
    expect(types(core.ready().messages)).toContain('heartbeat-response 3');
  });
});
