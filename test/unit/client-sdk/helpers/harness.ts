/** Builds a client wired to a FakeServer and a ManualClock, with logs captured. */
import { RingstateClient } from '../../../../client-sdk/src/index.ts';
import type { ClientOptions, LogLevel, SchemaShape, LooseSchema } from '../../../../client-sdk/src/index.ts';
import { FakeServer } from './fake-server.ts';
import { ManualClock } from './manual-clock.ts';

export interface LogRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

export interface Harness<S extends SchemaShape<S>> {
  readonly server: FakeServer;
  readonly clock: ManualClock;
  readonly client: RingstateClient<S>;
  readonly logs: LogRecord[];
}

export function harness<S extends SchemaShape<S> = LooseSchema>(options: Partial<ClientOptions> = {}): Harness<S> {
  const server = new FakeServer();
  const clock = new ManualClock();
  const logs: LogRecord[] = [];
  let counter = 0;
  const base: ClientOptions = {
    url: 'ws://test.local/v1/ws',
    WebSocket: server.WebSocket,
    clock,
    random: () => 0.5,
    // Deterministic ids make failures easy to read: prefix 0001020304050607.
    randomBytes: (length) => Uint8Array.from({ length }, () => counter++),
    logger: (level, message, fields) => logs.push({ level, message, fields }),
  };
  const token = options.getToken === undefined ? { token: 'alice' } : {};
  const client = new RingstateClient<S>({ ...base, ...token, ...options });
  return { server, clock, client, logs };
}
