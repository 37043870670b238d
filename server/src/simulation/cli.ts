/**
 * Runs the deterministic cluster simulator over many seeds.
 *
 *   npx tsx server/src/simulation/cli.ts --seeds 10000          seeds 1..10000
 *   npx tsx server/src/simulation/cli.ts --seeds 500 --seed 7   seeds 7..506
 *   npx tsx server/src/simulation/cli.ts --seed 1234 --verbose  one seed, with its trace
 *
 * Exits 1 when any seed violates a property, naming the seeds and how to replay one.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DRIVER_MODULE } from '../replication/index.ts';
import { runSimulation } from './simulation.ts';
import { SimulationSummary } from './summary.ts';

const USAGE = 'usage: cli.ts [--seeds N] [--seed S] [--verbose] [--fail-fast]';
/** How many failing seeds are listed in full. */
const FAILED_SEEDS_SHOWN = 10;

async function main(): Promise<number> {
  let values: { seeds?: string; seed?: string; verbose?: boolean; 'fail-fast'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        'fail-fast': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const count = parseCount(values.seeds, values.seed === undefined ? 100 : 1);
  const first = parseCount(values.seed, 1);
  if (count === null || first === null) {
    process.stderr.write(`--seeds and --seed take non-negative integers\n${USAGE}\n`);
    return 2;
  }
  const verbose = values.verbose === true;
  process.stdout.write(`driver: ReadyDriver from ${relative(process.cwd(), fileURLToPath(DRIVER_MODULE))} (the one production runs)\n`);
  const summary = new SimulationSummary();
  const started = performance.now();
  const progressEvery = count >= 2000 ? 1000 : 0;
  for (let seed = first; seed < first + count; seed += 1) {
    const result = await runSimulation(seed, verbose ? { trace: (line) => process.stdout.write(`[seed ${seed}] ${line}\n`) } : {});
    summary.add(result);
    for (const violation of result.violations) {
      process.stdout.write(`seed ${seed}: ${violation.property} violation at ${violation.atMs.toFixed(1)} ms: ${violation.message}\n`);
    }
    if (result.violations.length > 0 && values['fail-fast'] === true) break;
    if (progressEvery > 0 && summary.seeds % progressEvery === 0) {
      process.stderr.write(`... ${summary.seeds}/${count} seeds, ${summary.violations} violations, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
  }
  process.stdout.write(`${summary.format(performance.now() - started)}\n`);
  if (summary.failed.length === 0) return 0;
  const shown = summary.failed.slice(0, FAILED_SEEDS_SHOWN).map((failed) => failed.seed);
  process.stdout.write(`FAILED seeds: ${shown.join(' ')}${summary.failed.length > shown.length ? ' ...' : ''}\n`);
  process.stdout.write(`repro: npx tsx server/src/simulation/cli.ts --seed ${shown[0] ?? first} --verbose\n`);
  return 1;
}

function parseCount(text: string | undefined, fallback: number): number | null {
  if (text === undefined) return fallback;
  return /^\d+$/.test(text) ? Number(text) : null;
}

process.exitCode = await main();
