/**
 * Runs the deterministic cluster simulator over a fixed range of seeds (1..1200): whole
 * clusters under crashes, disk wipes, pauses, partitions, membership changes and a lossy,
 * reordering network, checked for S1-S5 and liveness. A failing seed prints how to replay it.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../server/src/simulation/simulation.ts';
import { SimulationSummary } from '../../server/src/simulation/summary.ts';

// Eight blocks of 150: each seed runs the production runtime and partition log (about 5x the
// cost of the core alone), and a block must stay well within its timeout on a loaded machine.
const BLOCK_SEEDS = 150;
const BLOCK_TIMEOUT_MS = 60_000;

async function runSeeds(first: number, count: number, options: { domains?: boolean } = {}): Promise<SimulationSummary> {
  const summary = new SimulationSummary();
  for (let seed = first; seed < first + count; seed += 1) summary.add(await runSimulation(seed, options));
  return summary;
}

function report(summary: SimulationSummary, flags = ''): string {
  return summary.failed
    .map(({ seed, violations }) =>
      [
        `seed ${seed}: ${violations.map((violation) => `${violation.property}: ${violation.message.split('\n')[0] ?? ''}`).join('; ')}`,
        `  replay: npx tsx server/src/simulation/cli.ts --seed ${seed}${flags} --verbose`,
      ].join('\n'),
    )
    .join('\n');
}

describe('simulation', () => {
  for (let block = 0; block < 8; block += 1) {
    const first = block * BLOCK_SEEDS + 1;
    const last = first + BLOCK_SEEDS - 1;
    it(
      `simulation - seeds ${first}-${last} keep S1-S5 and converge after healing`,
      async () => {
        const summary = await runSeeds(first, BLOCK_SEEDS);
        expect(report(summary)).toBe('');
        // The runs did exercise the system: faults happened and clients got answers.
        expect(summary.appends.ok).toBeGreaterThan(BLOCK_SEEDS * 10);
        expect(summary.faults.crash + summary.faults.wipe + summary.faults.isolate).toBeGreaterThan(BLOCK_SEEDS);
        // The workflows ran: transfers delivered, refusals compensated, timers fired.
        expect(summary.workflows.delivered).toBeGreaterThan(BLOCK_SEEDS * 5);
        expect(summary.workflows.compensated).toBeGreaterThan(BLOCK_SEEDS / 2);
        expect(summary.workflows.timersFired).toBeGreaterThan(BLOCK_SEEDS * 2);
      },
      BLOCK_TIMEOUT_MS,
    );
  }

  it('simulation - a seed replays exactly', async () => {
    const first = await runSimulation(4242);
    const second = await runSimulation(4242);
    expect(second).toEqual(first);
  });
});

describe('simulation - failure domains', () => {
  it(
    `simulation - six nodes in three hosts or zones: seeds 1-${BLOCK_SEEDS} with whole domains crashed or cut off keep S1-S5 and converge after healing`,
    async () => {
      const summary = await runSeeds(1, BLOCK_SEEDS, { domains: true });
      expect(report(summary, ' --domains')).toBe('');
      expect(summary.appends.ok).toBeGreaterThan(BLOCK_SEEDS * 10);
      expect(summary.faults['domain-crash']).toBeGreaterThan(BLOCK_SEEDS / 2);
      expect(summary.faults['domain-isolate']).toBeGreaterThan(BLOCK_SEEDS / 2);
    },
    BLOCK_TIMEOUT_MS,
  );

  it('simulation - a seed with failure domains replays exactly', async () => {
    const first = await runSimulation(4242, { domains: true });
    expect(first.scenario.domainCount).toBe(3);
    expect(await runSimulation(4242, { domains: true })).toEqual(first);
  });
});
