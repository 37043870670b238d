/** The load tester's --base-port / --peer-base-port: validated before any node starts. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pinnedPorts, portsInUse } from '../../../loadtest/src/cluster/pinned-ports.ts';

describe('loadtest - pinned ports', () => {
  it('pinned ports - the peer range defaults to 100 above the client range; both must fit and must not overlap', () => {
    expect(pinnedPorts(9001, undefined, 4)).toEqual({ basePort: 9001, peerBasePort: 9101 });
    expect(pinnedPorts(9001, 7001, 3)).toEqual({ basePort: 9001, peerBasePort: 7001 });
    expect(pinnedPorts(9001, 9004, 3)).toEqual({ basePort: 9001, peerBasePort: 9004 });
    expect(pinnedPorts(9001, 9003, 3)).toEqual({ error: 'client ports 9001-9003 and peer ports 9003-9005 overlap (3 nodes)' });
    expect(pinnedPorts(9004, 9001, 4)).toMatchObject({ error: expect.stringMatching(/overlap/) });
    expect(pinnedPorts(65_533, 7001, 3)).toEqual({ basePort: 65_533, peerBasePort: 7001 });
    expect(pinnedPorts(65_534, 7001, 3)).toMatchObject({ error: expect.stringMatching(/^--base-port must be .* got 65534$/) });
    expect(pinnedPorts(65_500, undefined, 3)).toMatchObject({ error: expect.stringMatching(/^--peer-base-port .* got 65600 \(derived as --base-port \+ 100; pass --peer-base-port\)$/) });
    expect(pinnedPorts(0, 7001, 3)).toMatchObject({ error: expect.stringMatching(/^--base-port/) });
    expect(pinnedPorts(9001.5, 7001, 3)).toMatchObject({ error: expect.stringMatching(/^--base-port/) });
  });

  it('pinned ports - a port something already listens on is reported', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    try {
      expect(await portsInUse('127.0.0.1', [port])).toEqual([port]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await portsInUse('127.0.0.1', [port])).toEqual([]);
  });
});
