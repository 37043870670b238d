/**
 * The production `PeerNetwork` interface over the simulated network, one instance per run of a
 * node (a restart gets a new one, as a process gets new connections). One-way messages and
 * request/response both travel through the simulator's lossy, delaying, duplicating,
 * partitionable links; a request times out on the virtual clock.
 *
 * Membership and liveness (`members()`) come from the simulator itself: a peer is alive while
 * it runs, is not paused and the link to it is open. The production failure detector (peer/)
 * is replaced, like the sockets it listens on.
 */
import { PeerUnavailableError, RequestTimeoutError, type MemberInfo, type NodeId, type PeerMessage, type PeerNetwork, type PeerNetworkEvents, type PeerNetworkStats, type RequestHandler, zeroPeerNetworkStats } from '../peer/index.ts';

/** What a node's peer network needs from the simulation. */
export interface PeerHost {
  /** Sends `deliver` over the link from -> to (it may be dropped, delayed or run twice). */
  transmit(from: NodeId, to: NodeId, deliver: (target: SimPeers) => void): void;
  /** Every node the cluster knows of. */
  nodeIds(): readonly NodeId[];
  /** The oracle failure detector: `to` runs, is not paused, and the link from `from` is open. */
  isAlive(from: NodeId, to: NodeId): boolean;
  /** 0 unless isAlive; else `to`'s session, which changes at each of its restarts. */
  liveness(from: NodeId, to: NodeId): number;
  /** Runs `run` on the virtual clock after `delayMs`, unless this run of the node ended. */
  schedule(delayMs: number, run: () => void): void;
  /**
   * Inputs arriving while the process is paused wait (per source, in order). `settles`: `run`
   * may settle promises (a request served or answered), whose callbacks must run before the next event.
   */
  whenRunning(source: string, run: () => void, settles: boolean): void;
  /** Called after every send (the crash points right after a send). */
  afterSend(): void;
  /** False once this run of the node crashed: nothing leaves, nothing is delivered. */
  readonly running: boolean;
}

type Listener = (payload: PeerMessage) => void;

const NO_STATS: PeerNetworkStats = zeroPeerNetworkStats();

export class SimPeers implements PeerNetwork {
  private readonly listeners = new Set<Listener>();
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly pending = new Map<number, { resolve: (answer: unknown) => void; reject: (error: Error) => void }>();
  private nextRequestId: number;

  /**
   * `firstRequestId`: where this run's request ids start, distinct per run of the node. An
   * answer to the previous run's request is delivered to the current run (as a real peer
   * answers over its link to the node id), and must not match a request of this run; the
   * production network starts at a random id for the same reason (peer-network.ts).
   */
  constructor(
    readonly nodeId: NodeId,
    private readonly host: PeerHost,
    firstRequestId = 1,
  ) {
    this.nextRequestId = firstRequestId;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  address(): string {
    return this.nodeId;
  }

  send(toNodeId: NodeId, message: unknown, protocol = 'message'): boolean {
    if (!this.host.running) return false;
    const from = this.nodeId;
    this.host.transmit(from, toNodeId, (target) => target.receive(from, protocol, message));
    this.host.afterSend();
    return true;
  }

  request(toNodeId: NodeId, protocol: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.host.running) return Promise.reject(new PeerUnavailableError(toNodeId, 'stopped'));
    const id = this.nextRequestId++;
    const from = this.nodeId;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.host.transmit(from, toNodeId, (target) => target.serve(from, id, protocol, payload));
    this.host.schedule(timeoutMs, () => this.settle(id, new RequestTimeoutError(toNodeId, protocol, timeoutMs)));
    return answer;
  }

  handle(protocol: string, handler: RequestHandler): void {
    this.handlers.set(protocol, handler);
  }

  liveness(nodeId: NodeId): number {
    return nodeId === this.nodeId ? 1 : this.host.liveness(this.nodeId, nodeId);
  }

  members(): MemberInfo[] {
    return this.host.nodeIds().map((nodeId) => ({
      nodeId,
      address: nodeId,
      alive: nodeId === this.nodeId || this.host.isAlive(this.nodeId, nodeId),
      lastSeenMs: null,
      self: nodeId === this.nodeId,
    }));
  }

  on<K extends keyof PeerNetworkEvents>(event: K, listener: (payload: PeerNetworkEvents[K]) => void): () => void {
    if (event !== 'message') return () => undefined;
    const each = listener as Listener;
    this.listeners.add(each);
    return () => this.listeners.delete(each);
  }

  stats(): Readonly<PeerNetworkStats> {
    return NO_STATS;
  }

  private receive(from: NodeId, protocol: string, message: unknown): void {
    // A replication message is stepped into the core and schedules a pump: no promise involved.
    this.host.whenRunning(from, () => {
      for (const listener of this.listeners) listener({ from, protocol, message });
    }, false);
  }

  private serve(from: NodeId, id: number, protocol: string, payload: unknown): void {
    this.host.whenRunning(from, () => {
      const handler = this.handlers.get(protocol);
      const reply = (answer: unknown): void => {
        if (!this.host.running) return;
        this.host.transmit(this.nodeId, from, (target) => target.answer(this.nodeId, id, answer));
      };
      if (handler === undefined) return;
      void Promise.resolve(handler(payload, from)).then(reply, (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }));
    }, true);
  }

  private answer(from: NodeId, id: number, answer: unknown): void {
    this.host.whenRunning(from, () => this.settle(id, undefined, answer), true);
  }

  private settle(id: number, error: Error | undefined, answer?: unknown): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (error === undefined) pending.resolve(answer);
    else pending.reject(error);
  }
}
