/**
 * S4 across a failover: a new owner knows the commands its predecessor committed well enough
 * to tell a retry (same id, same body: duplicate) from a reused id (another body:
 * COMMAND_ID_REUSED), for commands that decided events and for one that decided none. The
 * digest that makes the difference travels in the replicated log entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingstateError } from '@ringstate/protocol';
import type { CommandRequest, CommandResult } from '../../server/src/aggregate/index.ts';
import { startTestCluster, type ClusterMember, type TestCluster } from '../support/in-process-cluster.ts';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster(3);
}, 60_000);
afterAll(async () => {
  await cluster?.stopAll();
});

const AGGREGATE = 'reuse-1';
const command = (commandId: string, body: unknown): CommandRequest => ({ aggregateType: 'player', aggregateId: AGGREGATE, playerId: AGGREGATE, commandId, command: body });

async function ownerAmong(members: readonly ClusterMember[]): Promise<ClusterMember> {
  let owner: ClusterMember | undefined;
  await expect
    .poll(
      () => {
        owner = members.find((member) => member.node.log.ownership(member.node.runtime.partitionOf('player', AGGREGATE)).serving);
        return owner !== undefined;
      },
      { timeout: 15_000, interval: 50 },
    )
    .toBe(true);
  return owner as ClusterMember;
}

/**
 * Runs a command on whichever of `members` owns the aggregate's partition, retrying while the
 * answer is retryable (ownership still settling after founding or a failover, a ownership
 * transfer): re-sending under the same id is what a client does, and is safe.
 */
async function execute(members: readonly ClusterMember[], request: CommandRequest): Promise<CommandResult> {
  const deadlineMs = Date.now() + 15_000;
  for (;;) {
    const owner = await ownerAmong(members);
    try {
      return await owner.node.runtime.execute(request);
    } catch (error) {
      if (!(error instanceof RingstateError) || !error.retryable || Date.now() > deadlineMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('cluster - a command id means one command, after a failover too', () => {
  it('cluster - the new owner answers a retry as a duplicate and a reused id with COMMAND_ID_REUSED', async () => {
    // (An attempt refused as retryable may still have committed: then the retry is a duplicate.)
    expect(await execute(cluster.members, command('scored', { type: 'score', points: 5 }))).toMatchObject({ seq: 1 });
    // The player stands at (0, 0) already: no events, still logged, so its id is taken.
    expect(await execute(cluster.members, command('stayed', { type: 'move', x: 0, y: 0 }))).toMatchObject({ seq: 2 });
    const first = await ownerAmong(cluster.members);
    await expect.poll(() => cluster.members.map((member) => member.node.store.aggregateSeq(`player/${AGGREGATE}`)), { timeout: 10_000 }).toEqual([2, 2, 2]);

    await cluster.stop(first.nodeId);
    const rest = cluster.members.filter((member) => member.nodeId !== first.nodeId);
    await expect(execute(rest, command('scored', { type: 'score', points: 6 }))).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED', retryable: false });
    expect(await execute(rest, command('scored', { type: 'score', points: 5 }))).toEqual({ seq: 1, duplicate: true });
    await expect(execute(rest, command('stayed', { type: 'move', x: 3, y: 4 }))).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED' });
    expect(await execute(rest, command('stayed', { type: 'move', x: 0, y: 0 }))).toEqual({ seq: 2, duplicate: true });
    const next = await ownerAmong(rest);
    expect(next.node.store.aggregateSeq(`player/${AGGREGATE}`)).toBe(2);
    for (const member of rest) member.node.store.verify();
  }, 60_000);
});
