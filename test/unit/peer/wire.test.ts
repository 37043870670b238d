import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeControlFrame,
  decodeDataFrame,
  encodeControlFrame,
  encodeDataFrame,
  type ControlFrame,
  type DataFrame,
} from '../../../server/src/peer/wire.ts';
import { BadFrameError } from '../../../server/src/peer/index.ts';

const packr = new Packr({ useRecords: false });
const self = { nodeId: 'node-1', address: 'node-1.internal:7000', incarnation: 1_760_000_000_000 };

describe('peer wire', () => {
  it('wire - control frames round-trip', () => {
    const frames: ControlFrame[] = [
      { kind: 'hello', version: 1, self },
      { kind: 'welcome', self },
      { kind: 'refuse', reason: 'node-id-in-use', text: 'node-1 is connected' },
      { kind: 'heartbeat', members: [self, { nodeId: 'node-2', address: '[::1]:7001', incarnation: 5 }] },
      { kind: 'heartbeat', members: [] },
    ];
    for (const frame of frames) expect(decodeControlFrame(encodeControlFrame(frame))).toEqual(frame);
  });

  it('wire - data frames round-trip plain data, bytes included', () => {
    const frames: DataFrame[] = [
      { kind: 'message', message: null },
      { kind: 'request', requestId: 42, payload: ['a', 1, true] },
      { kind: 'response', requestId: 42, payload: { ok: 1 } },
      { kind: 'failure', requestId: 42, reason: 'no-handler', text: 'none' },
    ];
    for (const frame of frames) expect(decodeDataFrame(encodeDataFrame(frame))).toEqual(frame);
    // Bytes come back as a Uint8Array (a Node Buffer, which is one).
    const decoded = decodeDataFrame(encodeDataFrame({ kind: 'message', message: { entries: [{ data: new Uint8Array([1, 2]) }] } }));
    const data = (decoded as { message: { entries: { data: Uint8Array }[] } }).message.entries[0]!.data;
    expect(data).toBeInstanceOf(Uint8Array);
    expect([...data]).toEqual([1, 2]);
  });

  it('wire - the layout is a plain msgpack array led by the frame kind', () => {
    expect(packr.unpack(encodeControlFrame({ kind: 'hello', version: 1, self }))).toEqual([1, 1, 'node-1', 'node-1.internal:7000', self.incarnation]);
    expect(packr.unpack(encodeDataFrame({ kind: 'request', requestId: 7, payload: 'x' }))).toEqual([17, 7, 'x']);
  });

  it('wire - malformed or unknown bodies are refused with BadFrameError', () => {
    const bad = [
      new Uint8Array([0xc1]), // never-used msgpack byte
      packr.pack({ not: 'an array' }),
      packr.pack([]),
      packr.pack([99, 'x']),
      packr.pack([1, 1, 'node-1', 'addr']), // hello missing incarnation
      packr.pack([1, -1, 'node-1', 'addr', 1]),
      packr.pack([1, 1, '', 'addr', 1]),
      packr.pack([4, 'not members']),
      packr.pack([4, [['node-1', 'addr']]]),
      packr.pack([2, 'n', 'a', 1.5]),
    ];
    for (const body of bad) expect(() => decodeControlFrame(body)).toThrow(BadFrameError);
    expect(() => decodeDataFrame(packr.pack([17, 'id', 'x']))).toThrow(BadFrameError);
    expect(() => decodeDataFrame(packr.pack([16]))).toThrow(BadFrameError);
    expect(() => decodeDataFrame(packr.pack([1, 1, 'node-1', 'addr', 1]))).toThrow(BadFrameError);
    expect(() => decodeDataFrame(packr.pack([19, 1, 'x'.repeat(2000), 'text']))).toThrow(BadFrameError);
  });
});
