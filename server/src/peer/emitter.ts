/**
 * A tiny typed event emitter, so the peer layer does not depend on Node's `events` and its
 * listeners are checked against the event's payload type.
 */
export class TypedEmitter<Events extends { [name: string]: unknown }> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();
  readonly #onListenerError: (event: keyof Events, err: unknown) => void;

  /** `onListenerError` receives what a listener threw; the other listeners still run. */
  constructor(onListenerError: (event: keyof Events, err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (err) {
        this.#onListenerError(event, err);
      }
    }
  }
}
