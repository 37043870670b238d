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
