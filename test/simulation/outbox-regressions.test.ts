/**
 * Seeds that broke S5 (issue 15) through a production bug the simulator found on 2026-12-05,
 * fixed the same day; they fail without the fix.
 *
 * A node removed from a partition's replica set while it was cut off never learns of its
 * removal: it keeps its old membership (itself included) and pre-campaigns for ever.
 * `ReplicatedPartitionLog.ownership` (server/src/replicated-log/replicated-partition-log.ts)
 * then answers `quorumLost` with no owner hint, although the ring's replica set has a live,
 * ready owner, and `ringHint` gives none because the stale membership names this node. So its
 * router refuses every command for that partition with NO_QUORUM instead of forwarding it. A
 * client goes to another node; the outbox courier cannot: it delivers from the sending
 * partition's owner, so when that node is the removed replica, deliveries to the partition wait
 * for ever (the item stays pending, the transfer's money stays in flight). In seed 32, n2 owns
 * partition 1 and was removed from partition 2 (now n5,n1,n6); its membership of partition 2
 * still reads n5,n1,n2,n6. The liveness violation names the case (REMOVED_REPLICA_REFUSES).
 * The fix: `ownership` consults the ring first; a node outside the ring's replica set hints the
 * owner it knows or the ring's first live replica, so its router forwards.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../server/src/simulation/simulation.ts';

const SEEDS = [32, 50, 51, 55, 102, 170, 184, 210];

describe('simulation outbox regressions', () => {
  it('simulation outbox regressions - a replica removed while cut off still forwards deliveries to the partition owner', async () => {
    for (const seed of SEEDS) {
      const { violations } = await runSimulation(seed);
      expect(violations.map((violation) => `seed ${seed}: ${violation.property}: ${violation.message}`)).toEqual([]);
    }
  }, 60_000);
});
