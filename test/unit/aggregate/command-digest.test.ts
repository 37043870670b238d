import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { COMMAND_DIGEST_BYTES, commandDigest, sameDigest } from '../../../server/src/aggregate/command-digest.ts';

const digest = (command: unknown, type = 'player', id = 'p1'): Uint8Array => commandDigest(type, id, command);
const same = (a: unknown, b: unknown): boolean => sameDigest(digest(a), digest(b));

describe('command digest', () => {
  it('digest - 16 bytes; another body, aggregate type or aggregate id is another digest', () => {
    expect(digest({ type: 'move', x: 1 }).byteLength).toBe(COMMAND_DIGEST_BYTES);
    expect(same({ type: 'move', x: 1 }, { type: 'move', x: 2 })).toBe(false);
    expect(same({ type: 'move', x: 1 }, { type: 'move', x: '1' })).toBe(false);
    expect(same(['a', 'b'], ['ab'])).toBe(false);
    expect(same({ a: 'b' }, ['a', 'b'])).toBe(false);
    expect(same({ ab: '' }, { a: 'b' })).toBe(false);
    expect(sameDigest(digest({ type: 'x' }, 'player', 'p1'), digest({ type: 'x' }, 'player', 'p2'))).toBe(false);
    expect(sameDigest(digest({ type: 'x' }, 'play', 'erp1'), digest({ type: 'x' }, 'player', 'p1'))).toBe(false);
  });

  it('digest - blind to what the codecs change: key order, undefined keys, -0, Buffer vs Uint8Array, a msgpack round trip', () => {
    expect(same({ type: 'move', x: 1, y: 2 }, { y: 2, x: 1, type: 'move' })).toBe(true);
    expect(same({ type: 'move', note: undefined }, { type: 'move' })).toBe(true);
    expect(same({ n: -0 }, { n: 0 })).toBe(true);
    expect(same({ blob: new Uint8Array([1, 2]) }, { blob: Buffer.from([1, 2]) })).toBe(true);
    const command = { type: 'pick-up', item: { id: 'sword', kind: 'weapon', tags: ['a', 1.5, null, true] }, at: new Date(1_700_000_000_000), blob: new Uint8Array([9]) };
    const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });
    expect(same(command, packr.unpack(packr.pack(command)))).toBe(true);
    expect(same({ type: 'move', x: 1 }, JSON.parse(JSON.stringify({ x: 1, type: 'move' })))).toBe(true);
  });

  it('digest - a __proto__ key from JSON (the Second Life API) matches the same command relayed as msgpack, which renames it', () => {
    const json = JSON.parse('{"type":"set","bag":{"__proto__":{"x":1}}}') as unknown;
    const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });
    const relayed = packr.unpack(packr.pack(json)) as unknown;
    expect(same(json, relayed)).toBe(true);
    expect(same(json, JSON.parse('{"type":"set","bag":{"__proto__":{"x":2}}}'))).toBe(false);
  });
});
