/**
 * Time as a dependency: the client reads the time and sets timers only through a Clock, so
 * tests (and a simulator) can drive reconnects, heartbeats and deadlines without waiting.
 */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since an arbitrary origin; only differences are used. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};
