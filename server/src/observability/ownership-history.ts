/**
 * The last ownership changes of partitions as this node saw them, for the dashboard and the
 * admin API (GET /v1/admin/stats). A bounded ring buffer: a flapping cluster cannot grow it, and
 * the oldest entries are overwritten first.
 */

export interface OwnershipEvent {
  readonly atMs: number;
  readonly partition: number;
  readonly epoch: number;
  /** This node's role in the partition after the change. */
  readonly role: string;
  /** The owner this node knows of after the change, if any. */
  readonly owner: string | null;
  readonly ready: boolean;
  readonly reason: string;
}

export const OWNERSHIP_HISTORY_LENGTH_DEFAULT = 100;

export class OwnershipHistory {
  private readonly entries: Array<OwnershipEvent | undefined>;
  private next = 0;
  private total = 0;

  constructor(readonly lengthMax: number = OWNERSHIP_HISTORY_LENGTH_DEFAULT) {
    if (!Number.isInteger(lengthMax) || lengthMax < 1) throw new Error(`ownership history length must be a positive integer, got ${lengthMax}`);
    this.entries = new Array<OwnershipEvent | undefined>(lengthMax);
  }

  record(event: OwnershipEvent): void {
    this.entries[this.next] = event;
    this.next = (this.next + 1) % this.lengthMax;
    this.total += 1;
  }

  /** Changes recorded since start, including those already overwritten. */
  get recordedCount(): number {
    return this.total;
  }

  /** Newest first, at most `limit`. */
  recent(limit: number = this.lengthMax): OwnershipEvent[] {
    const out: OwnershipEvent[] = [];
    const held = Math.min(this.total, this.lengthMax, limit);
    for (let back = 1; back <= held; back += 1) {
      const event = this.entries[(this.next - back + this.lengthMax) % this.lengthMax];
      if (event !== undefined) out.push(event);
    }
    return out;
  }
}

/**
 * One partition's way from one steady state to the next, as this node saw it, or several
 * partitions that took the same way at about the same time. A steady state is "owner and ready"
 * or "follower that knows its owner"; the steps between (pre-vote, campaign, elected, an owner
 * lost) are what one failover or election is made of. Listing each step as its own row made one
 * election look like several copies of the same row (their shown fields differ only in the
 * reason, or only in the partition when a node's death moves many at once); the dashboard shows
 * these instead, and `changeCount` keeps every change accounted for.
 */
export interface OwnershipTransition {
  /** Ascending, each at most once. */
  readonly partitions: readonly number[];
  readonly firstAtMs: number;
  readonly lastAtMs: number;
  /**
   * The epochs where it ended: partitions keep their own epochs, so one node's death leaves the
   * partitions it moved at several.
   */
  readonly epochMin: number;
  readonly epochMax: number;
  /** Where it ended. */
  readonly role: string;
  readonly owner: string | null;
  readonly ready: boolean;
  /** False when it has not reached a steady state (still under way, or the node lost track). */
  readonly steady: boolean;
  /** Oldest first; a step repeated in a row is shown once with its count (`pre-vote ×3`). */
  readonly steps: readonly string[];
  /** The ownership changes it covers, over all its partitions. */
  readonly changeCount: number;
}

/** Partitions whose same transition ended within this long of each other share a row. */
export const TRANSITION_GROUP_WINDOW_MS = 1_000;
/** Distinct steps kept per transition; a flapping pre-vote loop is cut from the front. */
export const TRANSITION_STEPS_MAX = 8;

function isSteady(event: OwnershipEvent): boolean {
  return (event.role === 'owner' && event.ready) || (event.role === 'follower' && event.owner !== null);
}

function stepOf(event: OwnershipEvent): string {
  // 'campaign' names both the pre-vote round (no epoch change) and the election proper.
  if (event.reason === 'campaign') return event.role === 'pre-candidate' ? 'pre-vote' : 'campaign';
  return event.reason;
}

function stepsOf(events: readonly OwnershipEvent[]): string[] {
  const runs: Array<{ step: string; count: number }> = [];
  for (const event of events) {
    const step = stepOf(event);
    const last = runs[runs.length - 1];
    if (last !== undefined && last.step === step) last.count += 1;
    else runs.push({ step, count: 1 });
  }
  const shown = runs.map((run) => (run.count > 1 ? `${run.step} ×${run.count}` : run.step));
  return shown.length > TRANSITION_STEPS_MAX ? ['…', ...shown.slice(-(TRANSITION_STEPS_MAX - 1))] : shown;
}

function transitionOf(events: readonly OwnershipEvent[]): OwnershipTransition {
  const first = events[0];
  const last = events[events.length - 1];
  if (first === undefined || last === undefined) throw new Error('a transition needs at least one ownership change');
  return {
    partitions: [last.partition],
    firstAtMs: first.atMs,
    lastAtMs: last.atMs,
    epochMin: last.epoch,
    epochMax: last.epoch,
    role: last.role,
    owner: last.owner,
    ready: last.ready,
    steady: isSteady(last),
    steps: stepsOf(events),
    changeCount: events.length,
  };
}

/** Each partition's changes cut after every steady state, oldest first by their last change. */
function transitionsPerPartition(events: readonly OwnershipEvent[]): OwnershipTransition[] {
  const open = new Map<number, OwnershipEvent[]>();
  const done: OwnershipTransition[] = [];
  for (const event of [...events].sort((a, b) => a.atMs - b.atMs)) {
    const steps = open.get(event.partition) ?? [];
    steps.push(event);
    open.set(event.partition, steps);
    if (isSteady(event)) {
      done.push(transitionOf(steps));
      open.delete(event.partition);
    }
  }
  for (const steps of open.values()) done.push(transitionOf(steps));
  return done.sort((a, b) => a.lastAtMs - b.lastAtMs);
}

function sameWay(a: OwnershipTransition, b: OwnershipTransition): boolean {
  return a.role === b.role && a.owner === b.owner && a.ready === b.ready && a.steady === b.steady && a.steps.join('\n') === b.steps.join('\n');
}

/**
 * The changes (any order) as transitions, newest first (ties: lowest partition first): one row per
 * way a partition went, shared by the partitions that went the same way within
 * TRANSITION_GROUP_WINDOW_MS.
 */
export function ownershipTransitions(events: readonly OwnershipEvent[]): OwnershipTransition[] {
  const rows: OwnershipTransition[] = [];
  for (const transition of transitionsPerPartition(events)) {
    const partition = transition.partitions[0] as number;
    const index = rows.findIndex(
      (row) => transition.lastAtMs - row.lastAtMs <= TRANSITION_GROUP_WINDOW_MS && !row.partitions.includes(partition) && sameWay(row, transition),
    );
    const row = rows[index];
    if (row === undefined) {
      rows.push(transition);
      continue;
    }
    rows[index] = {
      ...row,
      partitions: [...row.partitions, partition].sort((a, b) => a - b),
      firstAtMs: Math.min(row.firstAtMs, transition.firstAtMs),
      lastAtMs: Math.max(row.lastAtMs, transition.lastAtMs),
      epochMin: Math.min(row.epochMin, transition.epochMin),
      epochMax: Math.max(row.epochMax, transition.epochMax),
      changeCount: row.changeCount + transition.changeCount,
    };
  }
  return rows.sort((a, b) => b.lastAtMs - a.lastAtMs || (a.partitions[0] ?? 0) - (b.partitions[0] ?? 0));
}
