/**
 * The simulated network: every message is delayed by a random amount (so messages reorder),
 * may be dropped or duplicated, and is not delivered across a blocked link. Links are
 * directed, so a one-way partition is a single blocked link. Whether the receiver is up, and
 * whether the sender has restarted since (connections do not survive a restart), is decided
 * by the delivery callback.
 */
import type { EventQueue } from './event-queue.ts';
import type { Prng } from './prng.ts';

export interface NetworkConditions {
  dropRate: number;
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
  /** Chance that a message is held back much longer (it overtakes nothing, others overtake it). */
  longDelayRate: number;
  longDelayMaxMs: number;
}

export interface NetworkStats {
  sent: number;
  dropped: number;
  duplicated: number;
  blocked: number;
}

export const calmNetwork: NetworkConditions = Object.freeze({
  dropRate: 0,
  duplicateRate: 0,
  delayMinMs: 0.2,
  delayMaxMs: 2,
  longDelayRate: 0,
  longDelayMaxMs: 0,
});

export class SimNetwork {
  conditions: NetworkConditions;
  readonly stats: NetworkStats = { sent: 0, dropped: 0, duplicated: 0, blocked: 0 };
  private readonly blockedLinks = new Set<string>();
  private readonly queue: EventQueue;
  private readonly prng: Prng;

  constructor(queue: EventQueue, prng: Prng, conditions: NetworkConditions) {
    this.queue = queue;
    this.prng = prng;
    this.conditions = conditions;
  }

  send(from: string, to: string, deliver: () => void): void {
    this.stats.sent += 1;
    if (this.isBlocked(from, to)) {
      this.stats.blocked += 1;
      return;
    }
    const { dropRate, duplicateRate } = this.conditions;
    if (dropRate > 0 && this.prng.chance(dropRate)) {
      this.stats.dropped += 1;
      return;
    }
    const copies = duplicateRate > 0 && this.prng.chance(duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated += 1;
    for (let copy = 0; copy < copies; copy += 1) {
      this.queue.schedule(this.delayMs(), () => {
        // A link cut while the message was on its way loses it, like a reset connection.
        if (this.isBlocked(from, to)) {
          this.stats.blocked += 1;
          return;
        }
        deliver();
      });
    }
  }

  block(from: string, to: string): void {
    this.blockedLinks.add(`${from}>${to}`);
  }

  unblock(from: string, to: string): void {
    this.blockedLinks.delete(`${from}>${to}`);
  }

  isBlocked(from: string, to: string): boolean {
    return this.blockedLinks.size > 0 && this.blockedLinks.has(`${from}>${to}`);
  }

  blockedCount(): number {
    return this.blockedLinks.size;
  }

  healAll(): void {
    this.blockedLinks.clear();
  }

  private delayMs(): number {
    const { delayMinMs, delayMaxMs, longDelayRate, longDelayMaxMs } = this.conditions;
    let delayMs = delayMinMs + this.prng.float() * (delayMaxMs - delayMinMs);
    if (longDelayRate > 0 && this.prng.chance(longDelayRate)) delayMs += this.prng.float() * longDelayMaxMs;
    return delayMs;
  }
}
