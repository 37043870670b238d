/**
 * Closed-loop and open-loop load phases over FrameClients, measuring answers per second,
 * latency (HDR histogram, microseconds) and the target process's CPU time per answer.
 *
 * Open loop measures latency from each command's *intended* send time, so a server that falls
 * behind is charged for the queueing it causes (no coordinated omission).
 */
import { performance } from 'node:perf_hooks';
import hdr from 'hdr-histogram-js';
import { MessageType, encodeFrame } from '@ringstate/protocol';
import type { FrameClient } from '../driver/frame-client.ts';
import { processCpuMicros } from './process-cpu.ts';

export interface PhaseResult {
  readonly label: string;
  readonly answered: number;
  readonly rejected: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly serverCpuMicrosPerCommand: number;
  readonly serverCpuPercent: number;
  readonly generatorUtilisation: number;
}

export interface PhaseTarget {
  readonly label: string;
  /** Every server process whose CPU the phase charges (all nodes of a cluster). */
  readonly pids: readonly number[];
  readonly clients: readonly FrameClient[];
  /** Player id of client n (its own aggregate). */
  readonly playerOf: (client: number) => string;
}

function histogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

function commandFrame(target: PhaseTarget, client: number, counter: number): Uint8Array {
  return encodeFrame({ t: MessageType.COMMAND, id: `${client}-${counter}`, a: 'player', i: target.playerOf(client), c: { type: 'move', x: (counter % 100_000) + 1, y: client } });
}

function idOf(message: { t: number; id?: unknown }): string | undefined {
  return typeof message.id === 'string' ? message.id : undefined;
}

/** Called around the measured window (after warm-up), e.g. to read the servers' counters. */
export interface WindowHooks {
  readonly atStart: () => Promise<void>;
  readonly atEnd: () => Promise<void>;
}

/** Each client keeps `window` commands in flight and sends the next as soon as one is answered. */
export async function closedLoop(
  target: PhaseTarget,
  options: { warmupMs: number; durationMs: number; window: number; hooks?: WindowHooks },
): Promise<PhaseResult> {
  const latency = histogram();
  let recording = false;
  let answered = 0;
  let rejected = 0;
  let stopped = false;
  const counters = target.clients.map(() => 0);
  const sentAt = new Map<string, number>();
  target.clients.forEach((client, index) => {
    const sendNext = (): void => {
      const counter = (counters[index] = (counters[index] ?? 0) + 1);
      const id = `${index}-${counter}`;
      sentAt.set(id, performance.now());
      client.send(commandFrame(target, index, counter));
    };
    client.answers((message) => {
      const id = idOf(message as { t: number; id?: unknown });
      if (id === undefined) return;
      const started = sentAt.get(id);
      sentAt.delete(id);
      if (recording && started !== undefined) {
        answered += 1;
        if (message.t === MessageType.REJECT) rejected += 1;
        latency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
      }
      if (!stopped) sendNext();
    });
    for (let n = 0; n < options.window; n += 1) sendNext();
  });
  await sleep(options.warmupMs);
  await options.hooks?.atStart();
  const measured = await measure(target.pids, options.durationMs, () => {
    recording = true;
  });
  recording = false;
  await options.hooks?.atEnd();
  stopped = true;
  await sleep(200);
  return summarise(target.label, latency, answered, rejected, measured);
}

/** Every client sends `ratePerClient` commands per second on a fixed schedule, whatever the answers. */
export async function openLoop(target: PhaseTarget, options: { warmupMs: number; durationMs: number; ratePerClient: number; hooks?: WindowHooks }): Promise<PhaseResult> {
  const latency = histogram();
  let recording = false;
  let answered = 0;
  let rejected = 0;
  const intervalMs = 1000 / options.ratePerClient;
  const intended = new Map<string, number>();
  const startMs = performance.now();
  const phaseOf = target.clients.map((_, index) => (index / target.clients.length) * intervalMs);
  const sentCount = target.clients.map(() => 0);
  target.clients.forEach((client) => {
    client.answers((message) => {
      const id = idOf(message as { t: number; id?: unknown });
      if (id === undefined) return;
      const due = intended.get(id);
      intended.delete(id);
      if (recording && due !== undefined) {
        answered += 1;
        if (message.t === MessageType.REJECT) rejected += 1;
        latency.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
      }
    });
  });
  const endMs = startMs + options.warmupMs + options.durationMs;
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now > endMs) return;
    target.clients.forEach((client, index) => {
      const elapsed = now - startMs - (phaseOf[index] ?? 0);
      const due = Math.floor(elapsed / intervalMs) + 1;
      while ((sentCount[index] ?? 0) < due) {
        const counter = (sentCount[index] = (sentCount[index] ?? 0) + 1);
        intended.set(`${index}-${counter}`, startMs + (phaseOf[index] ?? 0) + (counter - 1) * intervalMs);
        client.send(commandFrame(target, index, counter));
      }
    });
  }, 1);
  await sleep(options.warmupMs);
  await options.hooks?.atStart();
  const measured = await measure(target.pids, options.durationMs, () => {
    recording = true;
  });
  recording = false;
  await options.hooks?.atEnd();
  clearInterval(ticker);
  await sleep(500);
  return summarise(target.label, latency, answered, rejected, measured);
}

interface Measured {
  seconds: number;
  cpuMicros: number;
  generatorUtilisation: number;
}

async function measure(pids: readonly number[], durationMs: number, begin: () => void): Promise<Measured> {
  const cpu = (): number => pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
  const cpuBefore = cpu();
  const eluBefore = performance.eventLoopUtilization();
  const started = performance.now();
  begin();
  await sleep(durationMs);
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    cpuMicros: cpu() - cpuBefore,
    generatorUtilisation: performance.eventLoopUtilization(eluBefore).utilization,
  };
}

function summarise(label: string, latency: ReturnType<typeof histogram>, answered: number, rejected: number, measured: Measured): PhaseResult {
  return {
    label,
    answered,
    rejected,
    seconds: measured.seconds,
    perSecond: answered / measured.seconds,
    p50Ms: latency.getValueAtPercentile(50) / 1000,
    p99Ms: latency.getValueAtPercentile(99) / 1000,
    p999Ms: latency.getValueAtPercentile(99.9) / 1000,
    serverCpuMicrosPerCommand: answered === 0 ? Number.NaN : measured.cpuMicros / answered,
    serverCpuPercent: (measured.cpuMicros / (measured.seconds * 1_000_000)) * 100,
    generatorUtilisation: measured.generatorUtilisation,
  };
}

/**
 * The nodes' admission limits from a benchmark's `--in-flight-max` and `--admission-target-ms`
 * (limits.commandsInFlightMax, limits.admissionDelayTargetMs); the server defaults where absent.
 */
export function admissionLimits(values: { readonly 'in-flight-max'?: string; readonly 'admission-target-ms'?: string }): { commandsInFlightMax?: number; admissionDelayTargetMs?: number } {
  return {
    ...(values['in-flight-max'] === undefined ? {} : { commandsInFlightMax: Number(values['in-flight-max']) }),
    ...(values['admission-target-ms'] === undefined ? {} : { admissionDelayTargetMs: Number(values['admission-target-ms']) }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
