/**
 * One load-test run: simulated players (real SDK clients) ramp up, act on an open-loop
 * schedule, watch their aggregates, and ride through the chaos the run injects; afterwards
 * the oracle reads back every aggregate it appended to.
 */
import { performance } from 'node:perf_hooks';
import { RingstateError, type RingstateClient } from '@ringstate/client-sdk';
import type { GameSchema } from '../../../server/example-game/index.ts';
import type { NetnsLab } from '../cluster/netns-lab.ts';
import { requestLeave, waitPlacement } from '../cluster/admin-client.ts';
import type { ProcessCluster } from '../cluster/process-cluster.ts';
import { failoverClient } from '../driver/failover-client.ts';
import type { AckedGive } from '../oracle/bank.ts';
import type { AckedAppend } from '../oracle/compare.ts';
import type { LiveSecond } from './live-interval.ts';
import { arenaOf, nextCommand, zipfTable, type BankPlan, type ScenarioContext, type ScenarioName } from './scenarios.ts';
import { Timeline, newHistogram, type ChaosEvent } from './timeline.ts';

export interface ChaosPlan {
  readonly killAtSeconds?: number;
  readonly killNode?: string;
  readonly killEverySeconds?: number;
  readonly restartAfterSeconds?: number;
  readonly pauseAtSeconds?: number;
  readonly pauseForSeconds?: number;
  /** Cut one node off from the others (network namespaces + iptables) at S, heal after `partitionForSeconds`. */
  readonly partitionAtSeconds?: number;
  readonly partitionForSeconds?: number;
  /** Start one more node at S; it joins the ring and partitions move to it (scale-out). */
  readonly joinAtSeconds?: number;
  /** Ask a node (`leaveNode`, else one at random) to leave the ring at S; it moves its replicas away and exits (scale-in). */
  readonly leaveAtSeconds?: number;
  readonly leaveNode?: string;
}

/** Bounds of the scale-out and scale-in steps (see the join and leave below). */
const SCALE_COMPLETE_TIMEOUT_MS = 90_000;
const LEAVE_REFUSED_TIMEOUT_MS = 30_000;
const LEAVE_RETRY_MS = 500;

export interface RunOptions {
  readonly hosts: readonly string[];
  readonly players: number;
  readonly rampSeconds: number;
  readonly ratePerPlayer: number;
  readonly durationSeconds: number;
  readonly scenario: ScenarioName;
  /** Accounts and contention of the bank scenario (needed for it). */
  readonly bank?: BankPlan;
  readonly chaos: ChaosPlan;
  /** Needed for chaos: the processes to kill and pause. */
  readonly cluster?: ProcessCluster;
  /** Needed for partition faults: the namespaces the cluster runs in. */
  readonly netns?: NetnsLab;
  /** For admin calls (a leave) when nodes are not on loopback. */
  readonly adminToken?: string;
  /** Called once per closed second; the caller decides how often to print (see live-interval.ts). */
  readonly onSecond?: (second: LiveSecond) => void;
}

export interface RunResult {
  readonly players: number;
  readonly durationSeconds: number;
  readonly commandsSent: number;
  readonly commandsAcked: number;
  readonly commandsRejected: number;
  readonly commandsFailed: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  readonly errorsByCode: Record<string, number>;
  readonly reconnects: number;
  readonly stateUpdates: { expected: number; delivered: number };
  readonly failover: { kills: number; playersAffected: number; recoveryMs: { p50: number; p99: number; max: number } };
  readonly acked: Map<string, AckedAppend[]>;
  /** Gives the cluster acknowledged (bank scenario), for the bank oracle. */
  readonly gives: readonly AckedGive[];
  readonly timeline: Timeline;
  /** Chaos or scale steps that could not be carried out, with why: the run did not test what was asked. */
  readonly chaosFailures: readonly string[];
  readonly generatorUtilisation: number;
}

interface Player {
  readonly id: string;
  readonly index: number;
  readonly client: RingstateClient<GameSchema>;
  counter: number;
  online: boolean;
  ackTimes: number[];
  reconnectTimes: number[];
  /** When the player came online first (run seconds); its schedule starts there, not at 0. */
  startedAtSeconds: number | undefined;
  /** Seq the player's watched aggregates reached through state sync, and their first seq. */
  watched: Map<string, { startSeq: number; seq: number }>;
}

export async function runLoad(options: RunOptions): Promise<RunResult> {
  const timeline = new Timeline();
  const latency = newHistogram();
  const errorsByCode: Record<string, number> = {};
  const acked = new Map<string, AckedAppend[]>();
  const gives: AckedGive[] = [];
  const context: ScenarioContext = {
    players: options.players,
    random: Math.random,
    ...(options.bank === undefined ? {} : { bank: { plan: options.bank, table: zipfTable(options.bank.accounts, options.bank.alpha) } }),
  };
  const committedSeq = new Map<string, number>();
  let sent = 0;
  let ackedCount = 0;
  let rejected = 0;
  let failed = 0;
  let reconnects = 0;
  const startMs = performance.now();
  const elapsedSeconds = (): number => (performance.now() - startMs) / 1000;
  const endSeconds = options.durationSeconds;
  const players: Player[] = [];
  const pending: Array<Promise<void>> = [];
  let stopped = false;
  const killTimes: number[] = [];

  const addPlayer = (index: number): void => {
    const id = `player-${index}`;
    const client = failoverClient(id, options.hosts, index);
    const player: Player = { id, index, client, counter: 0, online: false, ackTimes: [], reconnectTimes: [], startedAtSeconds: undefined, watched: new Map() };
    client.on('state', ({ state, previous }) => {
      player.online = state === 'online';
      if (player.online && player.startedAtSeconds === undefined) player.startedAtSeconds = elapsedSeconds();
      if (state === 'reconnecting' && previous === 'online') {
        reconnects += 1;
        player.reconnectTimes.push(performance.now());
        timeline.recordReconnect();
      }
    });
    players.push(player);
    pending.push(
      client.connect().then(() => {
        watch(player, options.scenario === 'bank' ? 'wallet' : 'player', id);
        if (options.scenario === 'traders') watch(player, 'arena', arenaOf(index));
      }, () => undefined),
    );
  };

  const watch = (player: Player, type: 'player' | 'arena' | 'wallet', id: string): void => {
    const subscription = player.client.subscribe(type, id);
    const key = `${type}/${id}`;
    subscription.whenReady().then(
      () => {
        const entry = { startSeq: subscription.seq, seq: subscription.seq };
        player.watched.set(key, entry);
        subscription.on('change', () => {
          entry.seq = Math.max(entry.seq, subscription.seq);
        });
      },
      () => undefined,
    );
  };

  const sendOne = (player: Player): void => {
    const next = nextCommand(options.scenario, player.id, player.index, player.counter, context);
    player.counter += 1;
    if (next === undefined) return;
    sent += 1;
    const sentMs = performance.now();
    const promise =
      next.aggregate === 'player'
        ? player.client.send('player', next.id, next.command, { timeoutMs: 20_000 })
        : next.aggregate === 'arena'
          ? player.client.send('arena', next.id, next.command, { timeoutMs: 20_000 })
          : player.client.send('wallet', next.id, next.command, { timeoutMs: 20_000 });
    pending.push(
      promise.then(
        (result) => {
          const latencyMs = performance.now() - sentMs;
          ackedCount += 1;
          latency.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
          timeline.recordAck(latencyMs);
          player.ackTimes.push(performance.now());
          const key = `${next.aggregate}/${next.id}`;
          committedSeq.set(key, Math.max(committedSeq.get(key) ?? 0, result.seq));
          if (next.aggregate === 'player' && next.appendValue !== undefined && !result.duplicate) {
            let list = acked.get(next.id);
            if (list === undefined) {
              list = [];
              acked.set(next.id, list);
            }
            list.push({ value: next.appendValue, seq: result.seq });
          }
          // A duplicate answer carries the seq of the first application: the oracle counts each give once.
          if (next.aggregate === 'wallet') gives.push({ from: next.id, seq: result.seq, to: next.command.to, amount: next.command.amount });
        },
        (error: unknown) => {
          const code = error instanceof RingstateError ? error.code : 'INTERNAL';
          errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
          timeline.recordError();
          if (error instanceof RingstateError && error.code === 'REJECTED') rejected += 1;
          else failed += 1;
        },
      ),
    );
  };

  // Chaos schedule.
  const chaos = options.chaos;
  const cluster = options.cluster;
  const chaosTimers: Array<ReturnType<typeof setTimeout>> = [];
  // Steps still running when the load ends (a leave waiting for its join) are waited for, so
  // that none of them overlaps the oracle; each is bounded.
  const chaosRunning = new Set<Promise<void>>();
  const chaosFailures: string[] = [];
  const at = (seconds: number, action: () => Promise<void>): void => {
    chaosTimers.push(
      setTimeout(() => {
        const step = action().catch((error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          chaosFailures.push(message);
          console.error(`chaos failed: ${message}`);
        });
        chaosRunning.add(step);
        void step.finally(() => chaosRunning.delete(step));
      }, seconds * 1000),
    );
  };
  const pickNode = (): string => {
    if (chaos.killNode !== undefined) return chaos.killNode;
    const alive = cluster?.members.filter((member) => member.child !== undefined) ?? [];
    const member = alive[Math.floor(Math.random() * alive.length)];
    if (member === undefined) throw new Error('no node to kill');
    return member.nodeId;
  };
  const killAndMaybeRestart = async (): Promise<void> => {
    if (cluster === undefined) return;
    const node = pickNode();
    killTimes.push(performance.now());
    timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'kill', node });
    await cluster.kill(node, 'SIGKILL');
    if (chaos.restartAfterSeconds !== undefined) {
      at(chaos.restartAfterSeconds, async () => {
        timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'restart', node });
        await cluster.start(node);
      });
    }
  };
  if (chaos.killAtSeconds !== undefined) at(chaos.killAtSeconds, killAndMaybeRestart);
  if (chaos.killEverySeconds !== undefined) {
    for (let t = chaos.killEverySeconds; t < endSeconds; t += chaos.killEverySeconds) at(t, killAndMaybeRestart);
  }
  if (chaos.pauseAtSeconds !== undefined && cluster !== undefined) {
    at(chaos.pauseAtSeconds, async () => {
      const node = pickNode();
      killTimes.push(performance.now());
      timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'pause', node });
      await cluster.kill(node, 'SIGSTOP');
      at(chaos.pauseForSeconds ?? 5, async () => {
        timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'resume', node });
        await cluster.kill(node, 'SIGCONT');
      });
    });
  }

  if (chaos.partitionAtSeconds !== undefined && cluster !== undefined && options.netns !== undefined) {
    const lab = options.netns;
    at(chaos.partitionAtSeconds, async () => {
      const node = pickNode();
      const index = cluster.members.findIndex((member) => member.nodeId === node);
      killTimes.push(performance.now());
      timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'partition', node });
      lab.isolate(index);
      at(chaos.partitionForSeconds ?? 5, async () => {
        timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'heal', node });
        lab.heal();
      });
    });
  }

  // Scale events are not faults: players should not notice them, so they do not count as kills.
  // A join is complete when every running node agrees on the ring with the new member and every
  // partition's owner has the ring's replica set as voters with no learner left (the new
  // replicas caught up). A later leave depends on that: before it, the ring may still count
  // too few members for the leaver to go (409 MEMBERSHIP_REFUSED), or the leave would pull
  // replicas out while others are still being copied in. A leave is complete in the same way
  // over the remaining members, and once the leaver exited: what comes after it (the oracle
  // reads every voter of each partition) must not see replicas still being copied.
  const left = new Set<string>();
  const waitSettled = async (scaling: ProcessCluster, step: string): Promise<void> => {
    const members = scaling.members.filter((member) => !left.has(member.nodeId));
    const hosts = members.filter((member) => member.child !== undefined).map((member) => `${member.host}:${member.port}`);
    await waitPlacement(hosts, members.map((member) => member.nodeId), SCALE_COMPLETE_TIMEOUT_MS, options.adminToken).catch((error: unknown) => {
      throw new Error(`${step} did not complete within ${SCALE_COMPLETE_TIMEOUT_MS} ms: ${error instanceof Error ? error.message : String(error)}`);
    });
  };
  let joined: Promise<void> | undefined;
  if (chaos.joinAtSeconds !== undefined && cluster !== undefined) {
    at(chaos.joinAtSeconds, async () => {
      joined = (async () => {
        const added = await cluster.add();
        timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'join', node: added.nodeId });
        await waitSettled(cluster, `the join of ${added.nodeId}`);
      })();
      await joined;
    });
  }
  if (chaos.leaveAtSeconds !== undefined && cluster !== undefined) {
    at(chaos.leaveAtSeconds, async () => {
      const node = chaos.leaveNode ?? pickNode();
      const member = cluster.members.find((candidate) => candidate.nodeId === node);
      if (member === undefined) throw new Error(`no node ${node}`);
      // `joined` is set when the join started earlier (timers fire in order): wait for it.
      if (joined !== undefined) {
        await joined.catch((error: unknown) => {
          throw new Error(`the leave of ${node} was not asked for, it waits for the join before it: ${error instanceof Error ? error.message : String(error)}`);
        });
      }
      const leaveOptions = { timeoutMs: LEAVE_REFUSED_TIMEOUT_MS, retryMs: LEAVE_RETRY_MS, ...(options.adminToken === undefined ? {} : { adminToken: options.adminToken }) };
      await requestLeave(`${member.host}:${member.port}`, leaveOptions);
      left.add(node);
      timeline.chaos.push({ second: Math.floor(elapsedSeconds()), kind: 'leave', node });
      const deadlineMs = Date.now() + SCALE_COMPLETE_TIMEOUT_MS;
      await waitSettled(cluster, `the leave of ${node}`);
      while (member.child !== undefined) {
        if (Date.now() > deadlineMs) throw new Error(`${node} moved its replicas away but did not exit within ${SCALE_COMPLETE_TIMEOUT_MS} ms of its leave`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  }

  // Ramp and open-loop schedule: a 10 ms scheduler sends whatever is due.
  const intervalMs = options.ratePerPlayer > 0 ? 1000 / options.ratePerPlayer : Number.POSITIVE_INFINITY;
  const eluStart = performance.eventLoopUtilization();
  let eluMark = performance.eventLoopUtilization();
  let lastSecond = 0;
  await new Promise<void>((resolve) => {
    const scheduler = setInterval(() => {
      const now = elapsedSeconds();
      const wanted = options.rampSeconds <= 0 ? options.players : Math.min(options.players, Math.ceil((now / options.rampSeconds) * options.players));
      while (players.length < wanted) addPlayer(players.length);
      if (now < endSeconds) {
        for (const player of players) {
          if (player.startedAtSeconds === undefined) continue;
          const due = Math.floor(((now - player.startedAtSeconds) * 1000) / intervalMs) + 1;
          while (player.online && player.counter < due) sendOne(player);
        }
      }
      const second = Math.floor(now);
      if (second > lastSecond) {
        // Chaos events since the previous tick: a stalled loop can skip a second, its events must not be lost.
        const fromSecond = lastSecond;
        lastSecond = second;
        const { sample, latency } = timeline.tick(second, players.filter((player) => player.online).length);
        const elu = performance.eventLoopUtilization(eluMark);
        eluMark = performance.eventLoopUtilization();
        options.onSecond?.({
          fromSecond,
          second,
          online: sample.online,
          acked: sample.acked,
          errors: sample.errors,
          reconnects: sample.reconnects,
          latency,
          chaos: timeline.chaos.filter((event) => event.second >= fromSecond && event.second < second),
          generatorUtilisation: elu.utilization,
        });
      }
      if (now >= endSeconds && !stopped) {
        stopped = true;
        clearInterval(scheduler);
        resolve();
      }
    }, 10);
  });
  for (const timer of chaosTimers) clearTimeout(timer);
  while (chaosRunning.size > 0) await Promise.all(chaosRunning);
  // Let in-flight commands settle (each has its own deadline).
  await Promise.all(pending);
  const generatorUtilisation = performance.eventLoopUtilization(eluStart).utilization;
  // Give state sync a moment to deliver the last updates, then count.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  let expected = 0;
  let delivered = 0;
  for (const player of players) {
    for (const [key, watched] of player.watched) {
      const committed = Math.max(committedSeq.get(key) ?? 0, watched.seq);
      expected += Math.max(0, committed - watched.startSeq);
      delivered += Math.max(0, watched.seq - watched.startSeq);
    }
  }
  for (const player of players) player.client.close();

  const recovery: number[] = [];
  let affected = 0;
  for (const killMs of killTimes) {
    for (const player of players) {
      const before = player.ackTimes.filter((time) => time < killMs).at(-1);
      const after = player.ackTimes.find((time) => time >= killMs);
      if (before === undefined || after === undefined) continue;
      // Affected: the fault cut this player's connection, or stalled it well beyond its spacing.
      const disconnected = player.reconnectTimes.some((time) => time >= killMs && time - killMs < 10_000);
      if (disconnected || after - before > Math.max(3 * intervalMs, 250)) {
        affected += 1;
        recovery.push(after - killMs);
      }
    }
  }
  recovery.sort((a, b) => a - b);
  const pct = (p: number): number => (recovery.length === 0 ? 0 : Math.round(recovery[Math.min(recovery.length - 1, Math.floor((recovery.length - 1) * p))] ?? 0));
  return {
    players: options.players,
    durationSeconds: options.durationSeconds,
    commandsSent: sent,
    commandsAcked: ackedCount,
    commandsRejected: rejected,
    commandsFailed: failed,
    latencyMs: {
      p50: latency.getValueAtPercentile(50) / 1000,
      p90: latency.getValueAtPercentile(90) / 1000,
      p99: latency.getValueAtPercentile(99) / 1000,
      p999: latency.getValueAtPercentile(99.9) / 1000,
      max: latency.maxValue / 1000,
    },
    errorsByCode,
    reconnects,
    stateUpdates: { expected, delivered },
    failover: { kills: killTimes.length, playersAffected: affected, recoveryMs: { p50: pct(0.5), p99: pct(0.99), max: recovery.length === 0 ? 0 : Math.round(recovery.at(-1) ?? 0) } },
    acked,
    gives,
    timeline,
    chaosFailures,
    generatorUtilisation,
  };
}
