/**
 * The fault schedule of one simulation run.
 *
 * Two modes, chosen per seed:
 * - `bounded` (most seeds): at most one node is unavailable at any time, counting a crashed,
 *   paused, isolated or one-way-cut node, and a node restarted with a wiped disk until every
 *   partition readmitted it. With replication factor 3 (f = 1) this is the regime in which
 *   S1 promises no acknowledged write is lost.
 * - `chaos`: any number of crashes, pauses and (one-way) splits at once, so quorums come and
 *   go. Disks keep what was synced, so S1-S4 must still hold; only one disk wipe happens per
 *   run, because losing two disks of one replica set can lose data under any protocol.
 * Message loss, duplication and reordering are asynchrony, not failures: both modes have them.
 *
 * With failure domains (`--domains`: the nodes declare hosts, or zones), the unit of failure is
 * a domain: `domain-crash` crashes every node of one host (or zone) at once and `domain-isolate`
 * cuts them all off from the others, and the bounded budget counts unavailable domains instead
 * of nodes (two nodes of one host down at once is one failure, as the ring places at most one
 * copy per domain). Runs without domains never draw these kinds, so every earlier seed draws
 * what it always drew.
 */
import type { NodeId } from '../replication/index.ts';
import type { Prng } from './prng.ts';
import type { SimNode } from './sim-node.ts';

export type FaultMode = 'bounded' | 'chaos';

export const FAULT_KINDS = [
  'crash',
  'crash-after-sync',
  'wipe',
  'isolate',
  'one-way',
  'pause',
  'split',
  'join',
  'leave',
  'transfer',
  'domain-crash',
  'domain-isolate',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What the fault scheduler may do to the cluster. */
export interface FaultTarget {
  readonly nowMs: number;
  schedule(delayMs: number, run: () => void): void;
  liveNodes(): SimNode[];
  allNodes(): SimNode[];
  ringMembers(): readonly NodeId[];
  restart(node: SimNode, wipe: boolean): void;
  blockLink(from: NodeId, to: NodeId): void;
  unblockLink(from: NodeId, to: NodeId): void;
  join(): void;
  leave(node: SimNode): void;
  transferSomeOwnership(prng: Prng): boolean;
  /** A node that currently owns some partition, if any. */
  someOwner(prng: Prng): SimNode | null;
  /** The failure domain a node counts in: its host or zone, or the node itself without localities. */
  domainOf(nodeId: NodeId): string;
  /** True when the nodes declare localities and the domain faults may be drawn. */
  readonly domainFaults: boolean;
  nodeCountMax: number;
  trace(text: () => string): void;
}

/** `crash-after-sync` is not drawn here: nodes ask `crashAfterSync` after each fsync. */
const WEIGHTS: Readonly<Record<FaultKind, number>> = {
  crash: 6,
  'crash-after-sync': 0,
  wipe: 2,
  isolate: 4,
  'one-way': 3,
  pause: 3,
  split: 3,
  join: 1,
  leave: 1,
  transfer: 2,
  'domain-crash': 0,
  'domain-isolate': 0,
};

/** Added to WEIGHTS in runs with failure domains. */
const DOMAIN_WEIGHTS: Readonly<Partial<Record<FaultKind, number>>> = { 'domain-crash': 4, 'domain-isolate': 3 };

export class FaultScheduler {
  readonly counts: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  private readonly target: FaultTarget;
  private readonly prng: Prng;
  private readonly mode: FaultMode;
  private readonly intervalMinMs: number;
  private readonly intervalMaxMs: number;
  /** Nodes currently cut off by an isolation or one-way fault (bounded mode budget). */
  private readonly cutOff = new Set<NodeId>();
  private readonly crashed = new Map<NodeId, boolean>();
  private wipes = 0;
  private stopped = false;

  constructor(target: FaultTarget, prng: Prng, mode: FaultMode, intervalMinMs: number, intervalMaxMs: number) {
    this.target = target;
    this.prng = prng;
    this.mode = mode;
    this.intervalMinMs = intervalMinMs;
    this.intervalMaxMs = intervalMaxMs;
  }

  start(): void {
    this.scheduleNext();
  }

  /** Stops injecting; the caller heals what is still broken. */
  stop(): void {
    this.stopped = true;
  }

  /** Nodes crashed by a fault and not restarted yet, with whether they restart wiped. */
  crashedNodes(): ReadonlyMap<NodeId, boolean> {
    return this.crashed;
  }

  private scheduleNext(): void {
    this.target.schedule(this.prng.int(this.intervalMinMs, this.intervalMaxMs), () => {
      if (this.stopped) return;
      this.inject();
      this.scheduleNext();
    });
  }

  /** Failure domains (nodes without localities) with a node down, paused, wiped and not readmitted, or cut off. */
  private unavailableCount(): number {
    const domains = new Set<string>();
    for (const node of this.target.allNodes()) {
      if (node.decommissioned) continue;
      if (!node.isUp || node.paused || node.wipedUnrecovered || this.cutOff.has(node.id)) domains.add(this.target.domainOf(node.id));
    }
    return domains.size;
  }

  private weight(kind: FaultKind): number {
    return WEIGHTS[kind] + (this.target.domainFaults ? (DOMAIN_WEIGHTS[kind] ?? 0) : 0);
  }

  private pickKind(): FaultKind {
    let total = 0;
    for (const kind of FAULT_KINDS) total += this.weight(kind);
    let draw = this.prng.float() * total;
    for (const kind of FAULT_KINDS) {
      draw -= this.weight(kind);
      if (draw < 0) return kind;
    }
    return 'crash';
  }

  private inject(): void {
    const kind = this.pickKind();
    const disruptive = kind !== 'join' && kind !== 'leave' && kind !== 'transfer';
    if (disruptive && this.mode === 'bounded' && this.unavailableCount() > 0) return;
    const live = this.target.liveNodes().filter((node) => !node.paused && !node.leaving);
    switch (kind) {
      case 'crash':
      case 'wipe': {
        if (live.length === 0) return;
        const wipe = kind === 'wipe' && (this.mode === 'bounded' || this.wipes === 0);
        if (kind === 'wipe' && !wipe) return;
        if (wipe) this.wipes += 1;
        this.crashAndRestart(this.pickTarget(live), wipe);
        break;
      }
      case 'isolate':
      case 'one-way': {
        if (live.length === 0) return;
        const node = this.pickTarget(live);
        const others = this.target.allNodes().filter((other) => other.id !== node.id).map((other) => other.id);
        const inbound = kind === 'isolate' || this.prng.chance(0.5);
        const outbound = kind === 'isolate' || !inbound;
        const links: [NodeId, NodeId][] = [];
        for (const other of others) {
          if (inbound) links.push([other, node.id]);
          if (outbound) links.push([node.id, other]);
        }
        this.cutLinks(links, [node.id], kind);
        break;
      }
      case 'domain-crash':
      case 'domain-isolate': {
        if (live.length === 0) return;
        const domain = this.target.domainOf(this.pickTarget(live).id);
        const members = this.target.allNodes().filter((node) => !node.decommissioned && this.target.domainOf(node.id) === domain);
        if (kind === 'domain-crash') {
          this.target.trace(() => `fault: domain-crash ${domain} (${members.map((node) => node.id).join(', ')})`);
          this.crashAll(members.filter((node) => node.isUp));
          break;
        }
        const inside = new Set(members.map((node) => node.id));
        const outside = this.target.allNodes().filter((node) => !inside.has(node.id)).map((node) => node.id);
        const links: [NodeId, NodeId][] = [];
        for (const id of inside) {
          for (const other of outside) links.push([id, other], [other, id]);
        }
        this.cutLinks(links, [...inside], kind);
        break;
      }
      case 'split': {
        if (this.mode !== 'chaos') return;
        const nodes = this.target.allNodes().map((node) => node.id);
        const side = new Set(nodes.filter(() => this.prng.chance(0.5)));
        const oneWay = this.prng.chance(0.3);
        const links: [NodeId, NodeId][] = [];
        for (const a of side) {
          for (const b of nodes) {
            if (side.has(b)) continue;
            links.push([a, b]);
            if (!oneWay) links.push([b, a]);
          }
        }
        if (links.length === 0) return;
        this.cutLinks(links, [], kind);
        break;
      }
      case 'pause': {
        if (live.length === 0) return;
        const node = this.pickTarget(live);
        node.pause();
        this.target.trace(() => `fault: pause ${node.id}`);
        this.target.schedule(this.prng.int(100, 2000), () => node.resume());
        break;
      }
      case 'join': {
        const active = this.target.allNodes().filter((node) => !node.decommissioned && !node.leaving);
        if (active.length >= this.target.nodeCountMax) return;
        this.target.join();
        break;
      }
      case 'leave': {
        const members = this.target.ringMembers();
        if (members.length <= 3) return;
        // With domains, the last member of a domain stays: fewer domains than copies would put
        // a majority of some partition in one domain, and a domain fault would then stop it.
        const domainMembers = (id: NodeId): number => members.filter((member) => this.target.domainOf(member) === this.target.domainOf(id)).length;
        const candidates = this.target.domainFaults ? members.filter((member) => domainMembers(member) > 1) : members;
        if (candidates.length === 0) return;
        const id = this.prng.pick(candidates);
        const node = this.target.allNodes().find((candidate) => candidate.id === id);
        if (node === undefined) return;
        this.target.leave(node);
        break;
      }
      case 'transfer':
        if (!this.target.transferSomeOwnership(this.prng)) return;
        break;
    }
    this.counts[kind] += 1;
  }

  /**
   * Called by a node right after an fsync completed, before it sends what depended on it
   * (votes, acknowledgements): crashing there probes the narrowest windows of the protocol.
   * True when the node was crashed.
   */
  crashAfterSync(node: SimNode, rate: number): boolean {
    if (this.stopped || rate === 0 || node.leaving || !this.prng.chance(rate)) return false;
    if (this.mode === 'bounded' && this.unavailableCount() > 0) return false;
    this.counts['crash-after-sync'] += 1;
    this.crashAndRestart(node, false);
    return true;
  }

  private crashAndRestart(node: SimNode, wipe: boolean): void {
    this.crashAll([node], wipe);
  }

  /** Crashes `nodes` at once (one host's power, one zone's outage), and restarts them together after a while. */
  private crashAll(nodes: readonly SimNode[], wipe = false): void {
    for (const node of nodes) {
      node.crash();
      this.crashed.set(node.id, wipe);
    }
    // Some restarts are quick, to catch a node coming back inside an election.
    const downMs = this.prng.chance(0.3) ? this.prng.int(5, 150) : this.prng.int(150, 3000);
    this.target.schedule(downMs, () => {
      for (const node of nodes) {
        if (!this.crashed.has(node.id) || this.stopped) continue;
        this.crashed.delete(node.id);
        this.target.restart(node, wipe);
      }
    });
  }

  /** Half the time an owner: faults at owners exercise failover. */
  private pickTarget(live: readonly SimNode[]): SimNode {
    const owner = this.prng.chance(0.5) ? this.target.someOwner(this.prng) : null;
    return owner !== null && live.includes(owner) ? owner : this.prng.pick(live);
  }

  /** Blocks `links` for a while; `nodes` (none for a split) count as cut off meanwhile. */
  private cutLinks(links: readonly [NodeId, NodeId][], nodes: readonly NodeId[], kind: FaultKind): void {
    for (const [from, to] of links) this.target.blockLink(from, to);
    for (const node of nodes) this.cutOff.add(node);
    const durationMs = this.prng.int(200, 3000);
    this.target.trace(() => `fault: ${kind} ${nodes.length > 0 ? nodes.join(',') : links.map(([from, to]) => `${from}>${to}`).join(' ')} for ${durationMs} ms`);
    this.target.schedule(durationMs, () => {
      for (const [from, to] of links) this.target.unblockLink(from, to);
      for (const node of nodes) this.cutOff.delete(node);
    });
  }
}
