/** Small helpers for benchmarks that run servers as child processes. */
import type { ChildProcess } from 'node:child_process';
import { sleep } from './load-phases.ts';

/** Resolves once `url` answers 2xx; throws after about 30 s. */
export async function waitHttp(url: string): Promise<void> {
  for (let tries = 0; tries < 300; tries += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

/** SIGTERM and wait for the exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
