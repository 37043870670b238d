/**
 * A worker thread of the seed pool (seed-pool.ts): runs each seed it is sent, one at a time,
 * and posts back its result; `null` ends it. `workerData.domains` runs the seeds with failure domains.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runSimulation } from './simulation.ts';

const port = parentPort;
if (port === null) throw new Error('seed-worker.ts runs only as a worker thread (see seed-pool.ts)');
port.on('message', (seed: number | null) => {
  if (seed === null) {
    port.close();
    return;
  }
  runSimulation(seed, { domains: (workerData as { domains?: boolean } | null)?.domains === true }).then(
    (result) => port.postMessage(result),
    (error: unknown) => {
      throw error;
    },
  );
});
