/** The load tester's scale-in request: a refusal while a ring change settles is asked again, within a bound. */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { requestLeave } from '../../../loadtest/src/cluster/admin-client.ts';

const REFUSED = JSON.stringify({ error: { code: 'MEMBERSHIP_REFUSED', message: 'removing node-1 leaves 2 members, fewer than replicationFactor 3' } });
let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))));

/** A node whose POST /v1/admin/leave answers from `answers` in turn (the last one repeats); returns its host:port and the request count. */
async function node(answers: ReadonlyArray<[number, string]>): Promise<{ host: string; requests: () => number }> {
  let requests = 0;
  server = createServer((request, response) => {
    const [status, body] = answers[Math.min(requests, answers.length - 1)] ?? [500, ''];
    requests += 1;
    expect(`${request.method} ${request.url}`).toBe('POST /v1/admin/leave');
    response.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  const port = await new Promise<number>((resolve) => server?.listen(0, '127.0.0.1', () => resolve((server?.address() as { port: number }).port)));
  return { host: `127.0.0.1:${port}`, requests: () => requests };
}

describe('loadtest - scale-in request', () => {
  it('request leave - refused while the ring still lacks the new member, asked again until accepted', async () => {
    const target = await node([[409, REFUSED], [409, REFUSED], [202, '{"leaving":true}']]);
    await requestLeave(target.host, { timeoutMs: 5_000, retryMs: 20 });
    expect(target.requests()).toBe(3);
  });

  it('request leave - still refused when the bound passes: fails with the node\'s answer', async () => {
    const target = await node([[409, REFUSED]]);
    const startedMs = Date.now();
    await expect(requestLeave(target.host, { timeoutMs: 300, retryMs: 50 })).rejects.toThrow(/refused the leave \d+ times over 300 ms; last answer: 409 .*MEMBERSHIP_REFUSED/);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
    expect(target.requests()).toBeGreaterThan(2);
  });

  it('request leave - any other answer fails at once', async () => {
    const target = await node([[403, '{"error":{"code":"FORBIDDEN"}}']]);
    await expect(requestLeave(target.host, { timeoutMs: 5_000, retryMs: 20 })).rejects.toThrow(/did not accept the leave: 403/);
    expect(target.requests()).toBe(1);
  });
});
