import { describe, expect, it } from 'vitest';
import { encodedSize, fitPayload } from '../../../server/src/replicated-log/payload-size.ts';
import type { CommandPayload } from '../../../server/src/replicated-log/replica-storage.ts';

function payload(updateBytes: number, snapshotBytes?: number): CommandPayload {
  return {
    aggregate: 'list/k1',
    seq: 7,
    commandId: 'c1-7',
    playerId: 'c1',
    events: [{ type: 'appended', value: 7 }],
    eventVersion: 1,
    update: new Uint8Array(updateBytes),
    timestampMs: 1,
    ...(snapshotBytes === undefined ? {} : { snapshot: { seq: 7, state: { values: [] }, doc: new Uint8Array(snapshotBytes), eventVersion: 1 } }),
  } as CommandPayload;
}

describe('payload size', () => {
  it('payload size - an entry within the limit is proposed as it is', () => {
    const small = payload(100, 100);
    expect(fitPayload(small, 4_000)).toEqual({ payload: small, snapshotDropped: false });
  });

  it('payload size - an aggregate snapshot that makes the entry too large is left out (simulator seed 49520)', () => {
    const grown = payload(100, 5_000);
    const fitted = fitPayload(grown, 4_000);
    expect(fitted?.snapshotDropped).toBe(true);
    expect(fitted?.payload.snapshot).toBeUndefined();
    expect(fitted?.payload.update).toBe(grown.update);
    expect(encodedSize(fitted?.payload as CommandPayload)).toBeLessThanOrEqual(4_000);
  });

  it('payload size - an entry too large even without its snapshot cannot be proposed', () => {
    expect(fitPayload(payload(5_000), 4_000)).toBeUndefined();
    expect(fitPayload(payload(5_000, 100), 4_000)).toBeUndefined();
  });
});
