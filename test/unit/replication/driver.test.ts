import { describe, expect, it } from 'vitest';
import {
  type OutboundMessage,
  type ProposalOutcome,
  type Ready,
  ReadyDriver,
  ReplicationNode,
} from '../../../server/src/replication/index.ts';
import { MemoryStorage } from '../../../server/src/simulation/memory-storage.ts';
import { forceCampaign, Harness, type Payload } from './harness.ts';

const ids = ['a', 'b', 'c'];

/** A lone voter whose driver persists only when the test says so. */
function manualNode() {
  const storage = new MemoryStorage<Payload>();
  const core = new ReplicationNode<Payload>({ nodeId: 'solo', partitionCount: 1, storage, random: () => 0.5, payloadBytes: (payload) => payload.length, nowMs: 0 });
  core.bootstrap(0, ['solo']);
  const persists: Array<{ ready: Ready<Payload>; done: (error?: Error) => void }> = [];
  const applied: string[] = [];
  const failures: Error[] = [];
  const driver = new ReadyDriver<Payload>({
    core,
    storage: {
      persist: (ready, done) => {
        for (const write of ready.writes) storage.write(write);
        persists.push({ ready, done });
      },
    },
    network: { send: () => undefined },
    application: {
      apply: (apply) => apply.entries.forEach((entry) => entry.kind === 'command' && applied.push(entry.payload)),
      failed: (error) => failures.push(error),
    },
  });
  /** Completes the oldest outstanding persist. */
  const sync = (error?: Error): void => {
    const next = persists.shift();
    if (next === undefined) throw new Error('nothing is being persisted');
    storage.sync();
    next.done(error);
  };
  /** Ticks until the lone voter is the ready owner. */
  const becomeOwner = (): void => {
    for (let nowMs = 10; nowMs <= 5000 && !driver.serving(0); nowMs += 10) {
      core.tick(nowMs);
      driver.pump();
      while (persists.length > 0) sync();
    }
    expect(driver.serving(0)).toBe(true);
  };
  return { core, driver, persists, applied, failures, sync, becomeOwner };
}

describe('ready driver', () => {
  it('ready driver - takes no new Ready while one is being persisted, then goes on by itself', () => {
    const node = manualNode();
    node.becomeOwner();
    const outcomes: ProposalOutcome<Payload>[] = [];
    expect(node.driver.propose(0, 'x', (outcome) => outcomes.push(outcome)).ok).toBe(true);
    node.driver.pump();
    expect(node.persists).toHaveLength(1);
    expect(node.driver.busy).toBe(true);
    // A proposal made while persisting waits for the next Ready.
    expect(node.driver.propose(0, 'y', (outcome) => outcomes.push(outcome)).ok).toBe(true);
    node.driver.pump();
    expect(node.persists).toHaveLength(1);
    node.sync();
    // Completing the write applied x and took the next Ready (y) without another pump.
    expect(node.persists).toHaveLength(1);
    node.sync();
    while (node.persists.length > 0) node.sync();
    expect(node.applied).toEqual(['x', 'y']);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['committed', 'committed']);
    expect(outcomes[0]?.kind === 'committed' && outcomes[0].entry.payload).toBe('x');
  });

  it('ready driver - a failed write answers every proposal "unknown" and stops the driver', () => {
    const node = manualNode();
    node.becomeOwner();
    const outcomes: ProposalOutcome<Payload>[] = [];
    node.driver.propose(0, 'x', (outcome) => outcomes.push(outcome));
    node.driver.pump();
    node.sync(new Error('disk full'));
    expect(outcomes).toEqual([{ kind: 'unknown', reason: 'failed', ownerHint: null, error: expect.any(Error) }]);
    expect(node.failures).toHaveLength(1);
    expect(node.driver.serving(0)).toBe(false);
    node.driver.pump();
    expect(node.persists).toHaveLength(0);
  });

  it('ready driver - stop answers open proposals "unknown" once', () => {
    const node = manualNode();
    node.becomeOwner();
    const outcomes: ProposalOutcome<Payload>[] = [];
    node.driver.propose(0, 'x', (outcome) => outcomes.push(outcome));
    node.driver.stop();
    node.driver.stop();
    expect(outcomes).toEqual([{ kind: 'unknown', reason: 'stopped', ownerHint: null }]);
  });

  it('ready driver - late messages leave after the write, with the next Ready\'s early messages', () => {
    const order: string[] = [];
    const readies = [scripted({ early: ['e1'], late: ['l1'] }), scripted({ early: ['e2'], late: ['l2'] })];
    const driver = new ReadyDriver<Payload>({
      core: fakeCore(readies),
      storage: { persist: (ready, done) => { order.push(`persist ${ready.earlyMessages[0]?.to}`); done(); } },
      network: { send: (messages) => order.push(`send ${messages.map((message) => message.to).join(',')}`) },
      application: { apply: () => undefined },
    });
    driver.pump();
    expect(order).toEqual(['send e1', 'persist e1', 'send l1,e2', 'persist e2', 'send l2']);
  });

  it('ready driver - urgent messages (heartbeats, their answers) leave while a Ready is being persisted', () => {
    const order: string[] = [];
    const urgent: OutboundMessage<Payload>[] = [];
    const readies = [scripted({ early: ['e1'], late: ['l1'] })];
    let finishWrite: (() => void) | undefined;
    const driver = new ReadyDriver<Payload>({
      core: fakeCore(readies, undefined, urgent),
      storage: { persist: (_ready, done) => { order.push('persist'); finishWrite = () => done(); } },
      network: { send: (messages) => order.push(`send ${messages.map((message) => message.to).join(',')}`) },
      application: { apply: () => undefined },
    });
    driver.pump();
    expect(driver.busy).toBe(true);
    urgent.push({ to: 'h1', message: { type: 'timeout-now', partition: 0, epoch: 1 } });
    driver.pump();
    expect(order).toEqual(['send e1', 'persist', 'send h1']);
    finishWrite?.();
    expect(order).toEqual(['send e1', 'persist', 'send h1', 'send l1']);
  });

  it('ready driver - applies before acting on ownership, so a proposal committed as the owner steps down is answered committed', () => {
    const events: string[] = [];
    const entry = { position: 7, epoch: 3, kind: 'command' as const, payload: 'x' };
    const ready = scripted({
      applies: [{ partition: 0, entries: [entry] }],
      ownershipChanges: [{ partition: 0, epoch: 4, role: 'follower', owner: 'b', ready: false, reason: 'higher-epoch' }],
    });
    const driver = new ReadyDriver<Payload>({
      core: fakeCore([ready], { position: 7, epoch: 3 }),
      storage: { persist: (_ready, done) => done() },
      network: { send: () => undefined },
      application: { apply: () => events.push('apply'), ownershipChanged: () => events.push('ownership') },
    });
    const outcomes: ProposalOutcome<Payload>[] = [];
    driver.propose(0, 'x', (outcome) => outcomes.push(outcome));
    driver.pump();
    expect(events).toEqual(['apply', 'ownership']);
    expect(outcomes).toEqual([{ kind: 'committed', entry }]);
  });

  it('ready driver - a proposal whose position another epoch took is "lost"; one still open when ownership moves is "unknown"', () => {
    const ready = scripted({
      applies: [{ partition: 0, entries: [{ position: 7, epoch: 4, kind: 'noop' as const }] }],
      ownershipChanges: [{ partition: 0, epoch: 4, role: 'follower', owner: 'b', ready: false, reason: 'higher-epoch' }],
    });
    const core = fakeCore([ready], { position: 7, epoch: 3 });
    const driver = new ReadyDriver<Payload>({ core, storage: { persist: (_ready, done) => done() }, network: { send: () => undefined }, application: { apply: () => undefined } });
    const outcomes: ProposalOutcome<Payload>[] = [];
    driver.propose(0, 'x', (outcome) => outcomes.push(outcome));
    (core as unknown as { nextPosition: number }).nextPosition = 8;
    driver.propose(0, 'y', (outcome) => outcomes.push(outcome));
    driver.pump();
    expect(outcomes).toEqual([{ kind: 'lost' }, { kind: 'unknown', reason: 'ownership', ownerHint: 'b', ownershipReason: 'higher-epoch' }]);
  });

  it('ready driver - an owner deposed with its proposal overwritten answers "lost" or "unknown", never "committed"', () => {
    const h = new Harness(ids);
    const owner = h.waitForOwner();
    const [next] = ids.filter((id) => id !== owner) as [string];
    const outcomes: ProposalOutcome<Payload>[] = [];
    h.isolate(owner);
    (h.node(owner).driver as ReadyDriver<Payload>).propose(0, 'orphan', (outcome) => outcomes.push(outcome));
    h.process(owner);
    forceCampaign(h, next);
    h.deliverAll();
    h.advance(100);
    expect(h.status(next).ready).toBe(true);
    h.core(next).propose(0, 'winner');
    h.process(next);
    h.deliverAll();
    h.heal();
    h.advance(500);
    expect(outcomes).toHaveLength(1);
    expect(['lost', 'unknown']).toContain(outcomes[0]?.kind);
    expect(h.committedPayloads(owner)).toContain('winner');
    expect(h.committedPayloads(owner)).not.toContain('orphan');
  });

  it('ready driver - serves a partition only as the ready owner that applied up to where it became ready', () => {
    const h = new Harness(ids);
    const leader = h.waitForOwner();
    expect((h.node(leader).driver as ReadyDriver<Payload>).serving(0)).toBe(true);
    for (const id of ids.filter((id) => id !== leader)) expect((h.node(id).driver as ReadyDriver<Payload>).serving(0)).toBe(false);
    // Deposed: no longer serving, even before it hears of the new owner's entries.
    const [next] = ids.filter((id) => id !== leader) as [string];
    // The ring now prefers `next`, so the old owner does not take ownership back at once.
    for (const id of ids) h.core(id).setReplicaSet(0, [next, ...ids.filter((other) => other !== next)]);
    forceCampaign(h, next);
    h.deliverAll();
    h.advance(100);
    expect((h.node(next).driver as ReadyDriver<Payload>).serving(0)).toBe(true);
    expect((h.node(leader).driver as ReadyDriver<Payload>).serving(0)).toBe(false);
  });
});

/** A Ready built from a script; `early`/`late` list destinations of placeholder messages. */
function scripted(script: {
  early?: string[];
  late?: string[];
  applies?: Ready<Payload>['applies'];
  ownershipChanges?: Ready<Payload>['ownershipChanges'];
}): Ready<Payload> {
  const message = (to: string): OutboundMessage<Payload> => ({ to, message: { type: 'timeout-now', partition: 0, epoch: 1 } });
  return {
    writes: [],
    earlyMessages: (script.early ?? []).map(message),
    messages: (script.late ?? []).map(message),
    applies: script.applies ?? [],
    ownershipChanges: script.ownershipChanges ?? [],
    readStates: [],
  };
}

/** Just enough of a core to hand the driver scripted Readies. */
function fakeCore(readies: Ready<Payload>[], proposal = { position: 1, epoch: 1 }, urgent: OutboundMessage<Payload>[] = []): ReplicationNode<Payload> {
  const fake = {
    nextPosition: proposal.position,
    takeUrgentMessages: () => urgent.splice(0),
    hasReady: () => readies.length > 0,
    ready: () => readies[0],
    advance: () => readies.shift(),
    propose: () => ({ ok: true, position: fake.nextPosition, epoch: proposal.epoch }),
    status: () => ({ role: 'follower', ready: false, epoch: 0, commit: 0 }),
  };
  return fake as unknown as ReplicationNode<Payload>;
}
