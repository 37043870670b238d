/**
 * Lets the promise callbacks of production code finish between two simulation events.
 *
 * In Node every promise callback (microtask) runs before the next I/O callback. The
 * simulation's run loop is one async function, so it must yield for them to run. A
 * setImmediate turn does that, but each costs a trip round the event loop (a poll syscall,
 * about 4 us) and a seed takes thousands. Instead a V8 promise hook counts the promise jobs
 * that run (reactions, `await` resumptions and the jobs that adopt a returned promise); the
 * loop awaits a resolved promise, whose continuation joins the back of the queue, until its own
 * continuation was the only job that ran meanwhile. Nothing else runs while it waits, so the
 * queue is then empty: every callback has finished, as after a setImmediate turn. This relies
 * on the simulated production code queueing its asynchronous work only through promises (no
 * queueMicrotask, nextTick or timers outside the injected LogTimers).
 *
 * The count is process-wide: two simulations awaiting in one process would each count the
 * other's continuation. While more than one is running, each takes setImmediate turns.
 */
import { promiseHooks } from 'node:v8';

let jobsRun = 0;
let drainsRunning = 0;
let stopHook: (() => void) | null = null;

function countJob(): void {
  jobsRun += 1;
}

export class MicrotaskDrain {
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    drainsRunning += 1;
    if (stopHook === null) {
      const stop = promiseHooks.onBefore(countJob);
      stopHook = () => stop();
    }
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    drainsRunning -= 1;
    if (drainsRunning === 0 && stopHook !== null) {
      stopHook();
      stopHook = null;
    }
  }

  /** Resolves once every promise callback queued so far, and every one they queue, has run. */
  async drain(): Promise<void> {
    if (!this.started || drainsRunning > 1) {
      await new Promise((resolve) => setImmediate(resolve));
      return;
    }
    for (;;) {
      const before = jobsRun;
      await null;
      const ran = jobsRun - before;
      // Its own continuation always counts: a count of 0 means the hook does not see jobs.
      if (ran === 0) throw new Error('MicrotaskDrain: the promise hook counted no job');
      if (ran === 1) return;
    }
  }
}
