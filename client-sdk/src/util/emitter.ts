/**
 * A tiny typed event emitter.
 *
 * The SDK runs in browsers and React Native, so it cannot use Node's `events` module; it also
 * should not inherit EventEmitter's habit of throwing on an unhandled 'error' event. Each event
 * carries one payload. A listener that throws is reported through `onListenerError` and does
 * not stop the other listeners or the client.
 */
export type Listener<Payload> = (payload: Payload) => void;

/** Removes the listener it was returned for; calling it twice is harmless. */
export type Unlisten = () => void;

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #onListenerError: (error: unknown, event: keyof Events) => void;

  constructor(onListenerError: (error: unknown, event: keyof Events) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): Unlisten {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): Unlisten {
    const unlisten = this.on(event, (payload) => {
      unlisten();
      listener(payload);
    });
    return unlisten;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    // Copy so that listeners may add or remove listeners while being called.
    for (const listener of [...set] as Listener<Events[K]>[]) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
