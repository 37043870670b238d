/**
 * Seeds that once broke a property, kept as regression tests. Each group names the bug the
 * simulator found and its fix. The first seeds of a group fail with today's simulator when the
 * fix is reverted; the others are the seeds that found the bug originally (earlier simulator
 * versions drew random numbers differently, so they may now replay other scenarios). Each
 * bug also has a targeted unit test under test/unit/replication.
 *
 * Since the simulator runs the account workflows (issue 15) some of these seeds replay other
 * scenarios than when they were found; they still run every check.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../server/src/simulation/simulation.ts';

interface Regression {
  readonly bug: string;
  readonly seeds: readonly number[];
}

const regressions: readonly Regression[] = [
  {
    bug: 'replicate state stalled when every append of a full in-flight window was lost (fix: a heartbeat answer frees one slot)',
    seeds: [1, 4, 7, 2, 5, 9, 12],
  },
  {
    bug: 'compaction asserted while a snapshot from the owner was not yet persisted (fix: a pending snapshot covers it)',
    seeds: [261, 471, 14],
  },
  {
    bug: 'a replica wiped again before its readmission was readmitted by the earlier fence (fix: amnesia episode ids)',
    seeds: [9660, 4311, 5906, 7478, 7661],
  },
  {
    bug: "a heartbeat meant for a wiped replica's previous run advanced its commit past its log (fix: trust heartbeat commits only up to the verified log)",
    seeds: [218, 3360, 6343, 15369, 17889, 16614],
  },
  {
    bug: 'simulator: a node was decommissioned on an uncommitted removal, then lost with the owner (fix: wait for membershipPending false)',
    seeds: [15585],
  },
  {
    bug: 'a wiped replica was readmitted once its fence committed elsewhere, before it held the fence, and its empty log voted in a candidate missing committed entries (fix: readmit only a replica that acknowledged the fence)',
    seeds: [27388, 73138],
  },
  {
    bug: 'runtime: an aggregate activated while every other active one had a command in flight evicted itself, so its next command took the same seq (fix: never evict the aggregate being activated)',
    seeds: [112, 96, 228, 288],
  },
  {
    bug: 'runtime: an aggregate discarded after a failed commit was activated again from the store while its earlier entries were still in flight, so its next command took a seq one of them held (fix: not activated until they settle)',
    seeds: [8707, 9419],
  },
  {
    bug: 'ring membership: a node that had joined was dropped by a change computed elsewhere from a record without it, and stayed out (fix: RingMembership.join keeps the node a member, joining again)',
    seeds: [175],
  },
  {
    bug: "simulator: an operator's leave ignored the leaving node's own ring size, shrinking below the replication factor (fix: shrinkRefusal on the node's record)",
    seeds: [225],
  },
  {
    bug: 'a lost snapshot range request stalled catch-up for 10 s while the other voter was amnesiac (fix: 3 s request timeout)',
    seeds: [289],
  },
  {
    bug: "peer requests: an answer to a request of a node's previous run settled a request of its new run with the same id, acknowledging a command that never committed (fix: request ids start per run: random in production, per boot in the simulator)",
    seeds: [79524],
  },
  {
    bug: 'snapshot transfer fetched from the commit position + 1 while committed entries below it were only in memory; the install dropped them and the store write failed on the gap, stopping the replica (fix: fetch from the stored log end if earlier)',
    seeds: [75429],
  },
  {
    bug: "runtime: an aggregate whose snapshot made its entry exceed entryBytesMax failed every later command with an assertion (fix: the snapshot is left out; an entry too large even so is refused with ENTRY_TOO_LARGE)",
    seeds: [49520, 79840],
  },
  {
    bug: 'ring membership: a node restarted with an old record admitted a join on it, and that record won the tie against a leave of the same generation, bringing back a node that had left and stopped (fix: a restarted node admits joins only after a peer showed it its record; records remember who left, and a node that sees a departed member come back without its own join takes it out again)',
    seeds: [1507, 48216],
  },
  {
    bug: 'ring membership: a leave loop re-applied its removal on a record that had shrunk since (other leaves, a dropped joiner) and left two members, where one lost disk stopped a partition for good (fix: a leave waits rather than go below replicationFactor)',
    seeds: [1634],
  },
  {
    bug: 'liveness: an answer to a heartbeat sent early (before the write in progress) reported a readmission that was not durable yet; the replica could restart amnesiac after all, a voter its owner counted on that cannot vote, and a partition stayed without an owner (fix: answers leave early only while the whole hard state is durable)',
    seeds: [4805],
  },
  {
    bug: 'ring membership: a leaving node stopped while the only holders of its leave record were itself and nodes that were down; a member that came back with an older record listing it spread that record, and the ring kept a member that never returned (fix: a leaving node stops only once every live member of its ring holds its record or a newer one without it)',
    seeds: [59074],
  },
];

describe('simulation regressions', () => {
  for (const { bug, seeds } of regressions) {
    it(`simulation regressions - ${bug}`, async () => {
      for (const seed of seeds) {
        const { violations } = await runSimulation(seed);
        expect(violations.map((violation) => `seed ${seed}: ${violation.property}: ${violation.message}`)).toEqual([]);
      }
    }, 30_000);
  }
});
