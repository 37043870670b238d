/**
 * Runs seeds on several worker threads at once. A seed's result depends on the seed alone
 * (each run builds its cluster, clock and PRNG from it), not on the thread or on what ran
 * before, so splitting the seeds changes nothing but the wall time and the order in which
 * results arrive. Each worker runs one simulation at a time.
 *
 * The workers load TypeScript through tsx, as the CLI does (tsx's hooks are not inherited by
 * worker threads on Node 20, so each worker registers them before importing its entry).
 */
import { Worker } from 'node:worker_threads';
import type { SimulationResult } from './simulation.ts';

const WORKER_ENTRY = new URL('./seed-worker.ts', import.meta.url).href;

/**
 * Runs seeds first .. first + count - 1 on `jobs` workers; `onResult` gets each result as it
 * arrives and returns false to stop handing out seeds (those already running still finish).
 */
export async function runSeedPool(first: number, count: number, jobs: number, onResult: (result: SimulationResult) => boolean, options: { domains?: boolean } = {}): Promise<void> {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER_ENTRY)}); });`;
  let next = first;
  let stopped = false;
  const end = first + count;
  const runWorker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(boot, { eval: true, workerData: { domains: options.domains === true } });
      const handOut = (): void => {
        if (stopped || next >= end) {
          worker.postMessage(null);
          return;
        }
        worker.postMessage(next);
        next += 1;
      };
      worker.on('message', (result: SimulationResult) => {
        if (!onResult(result)) stopped = true;
        handOut();
      });
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed worker exited with code ${code}`))));
      handOut();
    });
  await Promise.all(Array.from({ length: Math.min(jobs, count) }, runWorker));
}
