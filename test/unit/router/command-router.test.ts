import { describe, expect, it } from 'vitest';
import { RingstateError } from '@ringstate/protocol';
import type { CommandRequest, CommandResult, Placement } from '../../../server/src/aggregate/index.ts';
import { CommandRouter, FORWARD_HOPS_MAX, InFlightCommands, type Forwarder } from '../../../server/src/router/index.ts';

const request: CommandRequest = { aggregateType: 'player', aggregateId: 'ann', playerId: 'ann', commandId: 'c1', command: { type: 'move' } };
const elsewhere = (ownerHint?: string): Placement => ({ here: false, ...(ownerHint === undefined ? {} : { ownerHint }), refusal: new RingstateError('UNAVAILABLE', 'not here') });

function router(placement: Placement, options: { forwarder?: Forwarder; admission?: InFlightCommands } = {}) {
  const executed: CommandRequest[] = [];
  const forwarded: Array<{ owner: string; forwards: number }> = [];
  let refused = 0;
  const runtime = {
    placement: () => placement,
    execute: async (command: CommandRequest): Promise<CommandResult> => {
      executed.push(command);
      return { seq: 1, duplicate: false };
    },
  };
  const forwarder: Forwarder = options.forwarder ?? {
    forward: async (owner, _request, forwards) => {
      forwarded.push({ owner, forwards });
      return { seq: 2, duplicate: false };
    },
  };
  const admission = options.admission ?? new InFlightCommands(0);
  const routed = new CommandRouter({ runtime, admission, forwarder, onAdmissionRefused: () => (refused += 1) });
  return { routed, executed, forwarded, admission, refused: () => refused };
}

describe('command router', () => {
  it('router - executes a command whose partition is served here', async () => {
    const { routed, executed, forwarded } = router({ here: true });
    await expect(routed.route(request)).resolves.toEqual({ seq: 1, duplicate: false });
    expect(executed).toHaveLength(1);
    expect(forwarded).toHaveLength(0);
  });

  it('router - forwards to the owner hint, counting forwards, and passes a forwarded command on once more', async () => {
    const { routed, forwarded } = router(elsewhere('node-2'));
    await expect(routed.route(request)).resolves.toEqual({ seq: 2, duplicate: false });
    await expect(routed.route(request, { forwards: 1, from: 'node-3' })).resolves.toEqual({ seq: 2, duplicate: false });
    expect(forwarded).toEqual([{ owner: 'node-2', forwards: 0 }, { owner: 'node-2', forwards: 1 }]);
  });

  it('router - never forwards back to the sender, past the hop limit, or without a hint: the placement\'s refusal instead', async () => {
    const { routed, forwarded } = router(elsewhere('node-2'));
    await expect(routed.route(request, { forwards: 1, from: 'node-2' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(routed.route(request, { forwards: FORWARD_HOPS_MAX, from: 'node-3' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(forwarded).toHaveLength(0);
    await expect(router(elsewhere()).routed.route(request)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const noQuorum: Placement = { here: false, refusal: new RingstateError('NO_QUORUM', 'no quorum') };
    await expect(router(noQuorum).routed.route(request)).rejects.toMatchObject({ code: 'NO_QUORUM' });
  });

  it('router - admission refuses beyond its limit with OVERLOADED, and a forward holds its slot until answered', async () => {
    let answer: ((result: CommandResult) => void) | undefined;
    const slow: Forwarder = { forward: () => new Promise((resolve) => (answer = resolve)) };
    const admission = new InFlightCommands(1);
    const { routed, refused } = router(elsewhere('node-2'), { forwarder: slow, admission });
    const first = routed.route(request);
    await expect(routed.route(request)).rejects.toMatchObject({ code: 'OVERLOADED', retryable: true });
    expect(refused()).toBe(1);
    expect(admission.current).toBe(1);
    answer?.({ seq: 3, duplicate: false });
    await expect(first).resolves.toEqual({ seq: 3, duplicate: false });
    expect(admission.current).toBe(0);
  });

  it('router - refusal() counts a refusal only when admission is full, and takes no slot either way', () => {
    const admission = new InFlightCommands(1);
    const { routed, refused } = router({ here: true }, { admission });
    expect(routed.refusal()).toBeUndefined();
    expect(admission.current).toBe(0);
    expect(refused()).toBe(0);
    expect(admission.admit()).toBeUndefined();
    expect(routed.refusal()).toMatchObject({ code: 'OVERLOADED', retryable: true });
    expect(refused()).toBe(1);
    expect(admission.current).toBe(1);
  });

  it('router - an OVERLOADED refusal carries a retry hint: the smoothed service time times the overload factor of the last second', () => {
    let now = 0;
    const admission = new InFlightCommands(1, () => now);
    expect(admission.admit()).toBeUndefined();
    admission.release(10);
    expect(admission.admit()).toBeUndefined();
    // 2 admitted, 1 refused: 10 ms x 3/2, raised to the 20 ms floor.
    expect(admission.admit()?.retryAfterMs).toBe(20);
    admission.admit();
    // 2 admitted, 3 refused: 10 ms x 5/2.
    expect(admission.admit()?.retryAfterMs).toBe(25);
    // The next second still counts the last one: 2 admitted of 6 offered.
    now = 1_500;
    expect(admission.admit()?.retryAfterMs).toBe(30);
    // After a quiet gap the factor starts over; a slow service time is capped at 5 s.
    now = 10_000;
    admission.release(1_000_000);
    expect(admission.admit()).toBeUndefined();
    expect(admission.admit()?.retryAfterMs).toBe(5_000);
  });

  it('router - with a delay target the admission limit shrinks while commands queue beyond the no-queue floor, and grows back when they do not', () => {
    let now = 0;
    const admission = new InFlightCommands(1_000, () => now, 50);
    const interval = (elapsedMs: number, admits: number) => {
      for (let n = 0; n < admits; n += 1) admission.admit();
      for (let n = 0; n < admits; n += 1) admission.release(elapsedMs);
      now += 100;
      admission.release(elapsedMs);
    };
    // A slow disk is not a queue: 80 ms per command from the start keeps the ceiling.
    for (let n = 0; n < 20; n += 1) interval(80, 10);
    expect(admission.currentLimit).toBe(1_000);
    // Then a queue forms: even the fastest command waits 200 ms more than the floor.
    for (let n = 0; n < 10; n += 1) interval(280, 10);
    const shrunk = admission.currentLimit;
    expect(shrunk).toBeLessThan(1_000 * 0.9 ** 9);
    expect(admission.admit()).toBeUndefined();
    // The queue drains; refusals at the limit with the queue under the target grow it again.
    for (let n = 0; n < 10; n += 1) {
      for (let k = 0; k < admission.currentLimit; k += 1) admission.admit();
      expect(admission.admit()?.code).toBe('OVERLOADED');
      const taken = admission.current;
      for (let k = 0; k < taken; k += 1) admission.release(90);
      now += 100;
      admission.release(90);
    }
    expect(admission.currentLimit).toBeGreaterThan(shrunk);
    // Without a target the count alone applies.
    const plain = new InFlightCommands(4, () => now);
    for (let n = 0; n < 50; n += 1) {
      plain.admit();
      plain.release(5_000);
      now += 100;
    }
    expect(plain.currentLimit).toBe(4);
  });
});
