/**
 * Timeout failure detector: a node is up while something was heard from it within
 * `failureTimeoutMs`, and down otherwise. Pure: the caller passes the time in, so the same
 * logic runs under a virtual clock in tests and the simulator.
 *
 * A timeout detector rather than phi-accrual because the cluster runs on a LAN or loopback
 * with fixed heartbeats: a fixed timeout is easy to reason about (detection latency is at most
 * `failureTimeoutMs` plus one tick) and easy to configure.
 */
import { assert } from '../replication/index.ts';

export type MemberTransition = { readonly nodeId: string; readonly status: 'up' | 'down' };

interface Tracked {
  alive: boolean;
  /** When the node was last heard from; null if never. */
  lastHeardMs: number | null;
}

export class FailureDetector {
  readonly #failureTimeoutMs: number;
  readonly #nodes = new Map<string, Tracked>();

  constructor(settings: { readonly failureTimeoutMs: number }) {
    assert(Number.isFinite(settings.failureTimeoutMs) && settings.failureTimeoutMs > 0, 'failureTimeoutMs must be positive');
    this.#failureTimeoutMs = settings.failureTimeoutMs;
  }

  /** Starts tracking a node that is known (e.g. from gossip) but not heard from yet: down. */
  track(nodeId: string): void {
    if (!this.#nodes.has(nodeId)) this.#nodes.set(nodeId, { alive: false, lastHeardMs: null });
  }

  /** Records that `nodeId` was heard from at `nowMs`; returns the `up` transition if any. */
  heard(nodeId: string, nowMs: number): MemberTransition | null {
    const node = this.#nodes.get(nodeId);
    if (node === undefined) {
      this.#nodes.set(nodeId, { alive: true, lastHeardMs: nowMs });
      return { nodeId, status: 'up' };
    }
    // Events may be reported slightly out of order (different streams); time never goes back.
    node.lastHeardMs = node.lastHeardMs === null ? nowMs : Math.max(node.lastHeardMs, nowMs);
    if (node.alive) return null;
    node.alive = true;
    return { nodeId, status: 'up' };
  }

  /** Marks every node not heard from within the timeout as down; returns those transitions. */
  tick(nowMs: number): MemberTransition[] {
    const transitions: MemberTransition[] = [];
    for (const [nodeId, node] of this.#nodes) {
      if (!node.alive) continue;
      assert(node.lastHeardMs !== null, 'an alive node has been heard from');
      if (nowMs - node.lastHeardMs >= this.#failureTimeoutMs) {
        node.alive = false;
        transitions.push({ nodeId, status: 'down' });
      }
    }
    return transitions;
  }

  /** Forces a node down now (e.g. its identity was taken over); returns the transition if any. */
  suspect(nodeId: string): MemberTransition | null {
    const node = this.#nodes.get(nodeId);
    if (node === undefined || !node.alive) return null;
    node.alive = false;
    return { nodeId, status: 'down' };
  }

  isAlive(nodeId: string): boolean {
    return this.#nodes.get(nodeId)?.alive ?? false;
  }

  lastHeardMs(nodeId: string): number | null {
    return this.#nodes.get(nodeId)?.lastHeardMs ?? null;
  }

  nodeIds(): string[] {
    return [...this.#nodes.keys()];
  }
}
