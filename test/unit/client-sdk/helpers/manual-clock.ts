/**
 * A manual Clock for tests: time moves only when the test calls `advance`, and timers due in
 * that span run in due order, with pending promise work settled between them (so async steps
 * such as a token fetch complete before the next timer fires).
 */
import type { Clock, TimerHandle } from '../../../../client-sdk/src/index.ts';

interface Timer {
  readonly atMs: number;
  readonly order: number;
  readonly callback: () => void;
}

export class ManualClock implements Clock {
  #nowMs = 0;
  #nextId = 1;
  #order = 0;
  readonly #timers = new Map<number, Timer>();

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { atMs: this.#nowMs + Math.max(0, delayMs), order: this.#order++, callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimerCount(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due. */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    await settle();
    for (;;) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      const [id, timer] = next;
      this.#timers.delete(id);
      this.#nowMs = timer.atMs;
      timer.callback();
      await settle();
    }
    this.#nowMs = targetMs;
  }

  #nextDue(targetMs: number): [number, Timer] | undefined {
    let best: [number, Timer] | undefined;
    for (const entry of this.#timers) {
      const timer = entry[1];
      if (timer.atMs > targetMs) continue;
      if (best === undefined || timer.atMs < best[1].atMs || (timer.atMs === best[1].atMs && timer.order < best[1].order)) {
        best = entry;
      }
    }
    return best;
  }
}

/** Lets every queued microtask (and the chains they start) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
