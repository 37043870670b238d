/**
 * Runs the deterministic cluster simulator over many seeds.
 *
 *   npx tsx server/src/simulation/cli.ts --seeds 10000          seeds 1..10000
 *   npx tsx server/src/simulation/cli.ts --seeds 500 --seed 7   seeds 7..506
 *   npx tsx server/src/simulation/cli.ts --seed 1234 --verbose  one seed, with its trace
 *   npx tsx server/src/simulation/cli.ts --seeds 10000 --jobs 1 on this thread only
 *   npx tsx server/src/simulation/cli.ts --seeds 1000 --domains six nodes as three hosts, host faults
 *
 * Many seeds run on worker threads, one per core (`--jobs`, at most one per SEEDS_PER_JOB_MIN
 * seeds, since a worker takes a few seconds to load); a seed's result does not depend on
 * where it runs. Exits 1 when any seed violates a property, naming the seeds and how to
 * replay one.
 */
import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DRIVER_MODULE } from '../replication/index.ts';
import { runSeedPool } from './seed-pool.ts';
import { runSimulation, type SimulationResult } from './simulation.ts';
import { SimulationSummary } from './summary.ts';

const USAGE = 'usage: cli.ts [--seeds N] [--seed S] [--jobs J] [--domains] [--verbose] [--fail-fast]';
/** How many failing seeds are listed in full. */
const FAILED_SEEDS_SHOWN = 10;
/** By default a worker thread is started per this many seeds (up to one per core). */
const SEEDS_PER_JOB_MIN = 1000;

async function main(): Promise<number> {
  let values: { seeds?: string; seed?: string; jobs?: string; domains?: boolean; verbose?: boolean; 'fail-fast'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        jobs: { type: 'string', short: 'j' },
        domains: { type: 'boolean' },
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
  const verbose = values.verbose === true;
  const domains = values.domains === true;
  // A trace is one seed's story, told in order: on this thread.
  const jobs = verbose ? 1 : parseCount(values.jobs, Math.max(1, Math.min(availableParallelism(), Math.floor((count ?? 0) / SEEDS_PER_JOB_MIN))));
  if (count === null || first === null || jobs === null || jobs === 0) {
    process.stderr.write(`--seeds and --seed take non-negative integers, --jobs a positive one\n${USAGE}\n`);
    return 2;
  }
  process.stdout.write(`driver: ReadyDriver from ${relative(process.cwd(), fileURLToPath(DRIVER_MODULE))} (the one production runs)\n`);
  const summary = new SimulationSummary();
  const started = performance.now();
  const progressEvery = count >= 2000 ? 1000 : 0;
  /** Takes one seed's result (in seed order on this thread, as they finish on workers); false stops the run. */
  const onResult = (result: SimulationResult): boolean => {
    summary.add(result);
    for (const violation of result.violations) {
      process.stdout.write(`seed ${result.seed}: ${violation.property} violation at ${violation.atMs.toFixed(1)} ms: ${violation.message}\n`);
    }
    if (progressEvery > 0 && summary.seeds % progressEvery === 0) {
      process.stderr.write(`... ${summary.seeds}/${count} seeds, ${summary.violations} violations, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
    return result.violations.length === 0 || values['fail-fast'] !== true;
  };
  if (jobs > 1) {
    await runSeedPool(first, count, jobs, onResult, { domains });
  } else {
    for (let seed = first; seed < first + count; seed += 1) {
      const result = await runSimulation(seed, { domains, ...(verbose ? { trace: (line: string) => process.stdout.write(`[seed ${seed}] ${line}\n`) } : {}) });
      if (!onResult(result)) break;
    }
  }
  process.stdout.write(`${summary.format(performance.now() - started)}${jobs > 1 ? ` on ${jobs} worker threads` : ''}\n`);
  if (summary.failed.length === 0) return 0;
  const shown = [...summary.failed].sort((a, b) => a.seed - b.seed).slice(0, FAILED_SEEDS_SHOWN).map((failed) => failed.seed);
  process.stdout.write(`FAILED seeds: ${shown.join(' ')}${summary.failed.length > shown.length ? ' ...' : ''}\n`);
  process.stdout.write(`repro: npx tsx server/src/simulation/cli.ts --seed ${shown[0] ?? first}${domains ? ' --domains' : ''} --verbose\n`);
  return 1;
}

function parseCount(text: string | undefined, fallback: number): number | null {
  if (text === undefined) return fallback;
  return /^\d+$/.test(text) ? Number(text) : null;
}

process.exitCode = await main();
