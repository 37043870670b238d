/**
 * Runs the deterministic cluster simulator over a fixed range of seeds (1..1200): whole
 * clusters under crashes, disk wipes, pauses, partitions, membership changes and a lossy,
 * reordering network, checked for S1-S4 and liveness. A failing seed prints how to replay it.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../server/src/simulation/simulation.ts';
import { SimulationSummary } from '../../server/src/simulation/summary.ts';

const BLOCK_SEEDS = 300;
const BLOCK_TIMEOUT_MS = 60_000;

function runSeeds(first: number, count: number): SimulationSummary {
  const summary = new SimulationSummary();
  for (let seed = first; seed < first + count; seed += 1) summary.add(runSimulation(seed));
  return summary;
}

function report(summary: SimulationSummary): string {
  return summary.failed
    .map(({ seed, violations }) =>
      [
        `seed ${seed}: ${violations.map((violation) => `${violation.property}: ${violation.message.split('\n')[0] ?? ''}`).join('; ')}`,
        `  replay: npx tsx server/src/simulation/cli.ts --seed ${seed} --verbose`,
      ].join('\n'),
    )
    .join('\n');
}

describe('simulation', () => {
  for (let block = 0; block < 4; block += 1) {
    const first = block * BLOCK_SEEDS + 1;
    const last = first + BLOCK_SEEDS - 1;
    it(
      `simulation - seeds ${first}-${last} keep S1-S4 and converge after healing`,
      () => {
        const summary = runSeeds(first, BLOCK_SEEDS);
        expect(report(summary)).toBe('');
        // The runs did exercise the system: faults happened and clients got answers.
        expect(summary.appends.ok).toBeGreaterThan(BLOCK_SEEDS * 10);
        expect(summary.faults.crash + summary.faults.wipe + summary.faults.isolate).toBeGreaterThan(BLOCK_SEEDS);
      },
      BLOCK_TIMEOUT_MS,
    );
  }

  it('simulation - a seed replays exactly', () => {
    const first = runSimulation(4242);
    const second = runSimulation(4242);
    expect(second).toEqual(first);
  });
});
