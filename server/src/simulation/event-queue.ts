/**
 * The simulator's agenda: callbacks ordered by virtual time, ties broken by insertion order
 * so that a seed always replays the same interleaving. A binary min-heap.
 */
interface ScheduledEvent {
  readonly atMs: number;
  readonly order: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap: ScheduledEvent[] = [];
  private nextOrder = 0;
  nowMs = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Runs `run` `delayMs` from now (0: after everything already due now). */
  schedule(delayMs: number, run: () => void): void {
    const event: ScheduledEvent = { atMs: this.nowMs + Math.max(0, delayMs), order: this.nextOrder++, run };
    const heap = this.heap;
    heap.push(event);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentEvent = heap[parent] as ScheduledEvent;
      if (!before(event, parentEvent)) break;
      heap[index] = parentEvent;
      index = parent;
    }
    heap[index] = event;
  }

  /** Runs the next event if it is due at or before `untilMs`; false when none is. */
  runNext(untilMs: number): boolean {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined || top.atMs > untilMs) return false;
    const last = heap.pop() as ScheduledEvent;
    if (heap.length > 0) {
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right] as ScheduledEvent, heap[left] as ScheduledEvent) ? right : left;
        const childEvent = heap[child] as ScheduledEvent;
        if (!before(childEvent, last)) break;
        heap[index] = childEvent;
        index = child;
      }
      heap[index] = last;
    }
    this.nowMs = top.atMs;
    top.run();
    return true;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}
