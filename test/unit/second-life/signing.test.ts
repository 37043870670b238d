import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, lslEscape, mintObjectId, objectSecret, parseObjectId, sign, verifySignature } from '../../../server/src/second-life/index.ts';

describe('second-life signing', () => {
  it('signing - lslEscape escapes every byte but A-Z a-z 0-9 like llEscapeURL, upper-case hex', () => {
    expect(lslEscape('http://wiki.secondlife.com/')).toBe('http%3A%2F%2Fwiki%2Esecondlife%2Ecom%2F');
    expect(lslEscape('a-b_c.d~e f')).toBe('a%2Db%5Fc%2Ed%7Ee%20f');
    expect(lslEscape('é')).toBe('%C3%A9');
  });

  it('signing - the canonical query sorts by name then value, whatever order and encoding arrived', () => {
    const received = new URLSearchParams('wait=20&i=alice%2Bbob&after=5&a=player');
    expect(canonicalQuery(received)).toBe('a=player&after=5&i=alice%2Bbob&wait=20');
    expect(canonicalQuery(new URLSearchParams('k=b&k=a'))).toBe('k=a&k=b');
    expect(canonicalQuery(new URLSearchParams(''))).toBe('');
  });

  it('signing - a signature is llHMAC over METHOD, PATH, TIME, NONCE and the payload, joined by newlines', () => {
    const parts = { method: 'GET', path: '/v1/sl/events', timeSeconds: 1_700_000_000, nonce: 'abcd1234', payload: 'a=player&after=0&i=alice' };
    const expected = createHmac('sha256', 'secret').update('GET\n/v1/sl/events\n1700000000\nabcd1234\na=player&after=0&i=alice').digest('base64');
    expect(sign('secret', parts)).toBe(expected);
    expect(verifySignature('secret', parts, expected)).toBe(true);
    expect(verifySignature('other', parts, expected)).toBe(false);
    expect(verifySignature('secret', { ...parts, nonce: 'abcd1235' }, expected)).toBe(false);
    expect(verifySignature('secret', { ...parts, payload: 'a=player&after=1&i=alice' }, expected)).toBe(false);
    expect(verifySignature('secret', parts, 'not base64 at all')).toBe(false);
    // POST bodies are signed as sent, bytes included.
    const body = new TextEncoder().encode('{"id":"x","c":{"type":"move"}}\n');
    expect(verifySignature('secret', { ...parts, method: 'POST', payload: body }, sign('secret', { ...parts, method: 'POST', payload: '{"id":"x","c":{"type":"move"}}\n' }))).toBe(true);
  });

  it('signing - object ids bind a player, secrets derive from the master key and differ per object and per expiry', () => {
    const id = mintObjectId('alice.smith');
    expect(parseObjectId(id)).toEqual({ objectId: id, playerId: 'alice.smith' });
    expect(parseObjectId('alice')).toBeUndefined();
    expect(parseObjectId('alice.short')).toBeUndefined();
    expect(parseObjectId('.AAAAAAAAAAAAAAAA')).toBeUndefined();
    const key = 'k'.repeat(32);
    const exp = 1_800_000_000;
    expect(objectSecret(key, id, exp)).toBe(createHmac('sha256', key).update(`${id}\n${exp}`).digest('base64url'));
    expect(objectSecret(key, id, exp)).not.toBe(objectSecret(key, mintObjectId('alice.smith'), exp));
    expect(objectSecret(key, id, exp)).not.toBe(objectSecret('j'.repeat(32), id, exp));
    // The expiry is bound: an object cannot extend its credential by sending a later one.
    expect(objectSecret(key, id, exp + 1)).not.toBe(objectSecret(key, id, exp));
  });
});
