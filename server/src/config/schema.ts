/**
 * The one configuration schema: every setting with its default, unit and meaning.
 *
 * Settings are loaded once (file, then environment, then flags; later sources win), validated
 * here, frozen, and handed to the composition root. Nothing else reads `process.env`.
 * docs/configuration.md is generated from this schema (`npm run docs:generate`) and a test
 * checks that the committed file matches.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

export const configSchema = z
  .object({
    nodeId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/)
      .default('node-1')
      .describe('Stable name of this node within the cluster; used in logs, metrics and the data directory.'),
    host: z.string().min(1).default('127.0.0.1').describe('Interface the client port (WebSocket + HTTP) binds to.'),
    port: port.default(9001).describe('Client port: WebSocket at /v1/ws and the HTTP API on the same port.'),
    dataDir: z.string().min(1).default('./data/node-1').describe('Directory holding this node\'s durable log (LMDB).'),
    devMode: z
      .boolean()
      .default(false)
      .describe('Enables the dev token issuer POST /v1/dev/token. Never enable in production.'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
    partitionCount: positiveInt.max(4096).default(64).describe('Number of partitions; fixed when a cluster is created.'),
    replicationFactor: positiveInt.max(7).default(3).describe('Replicas per partition (owner + successors); 2f+1 tolerates f failures.'),
    durability: z
      .enum(['fsync', 'os'])
      .default('fsync')
      .describe(
        'When a log write counts as durable. fsync: flushed to disk before acknowledging (survives power loss). os: handed to the OS page cache (survives kill -9 of the process, not power loss).',
      ),
    snapshotEveryEvents: positiveInt.default(100).describe('An aggregate snapshot is written into the log every this many events, bounding activation replay.'),
    dedupeRetentionMs: positiveInt.default(24 * 60 * 60 * 1000).describe('How long command ids are remembered for deduplication (ms). Retries must happen within this window.'),
    aggregateIdleMs: positiveInt.default(5 * 60 * 1000).describe('An aggregate with no command or subscriber for this long is passivated (ms).'),
    docResidentMs: positiveInt.default(10_000).describe('An active aggregate\'s Yjs document unused for this long is kept encoded instead of resident, to bound memory (ms).'),
    activeAggregatesMax: positiveInt.default(200_000).describe('Upper bound on aggregates held in memory; the least recently used idle ones are passivated beyond it.'),
    commandQueueMax: positiveInt.default(1000).describe('Commands waiting per aggregate before new ones are refused with OVERLOADED.'),
    tokens: z
      .object({
        issuer: z.string().min(1).default('ringstate-dev').describe('Expected `iss` claim of player tokens.'),
        audience: z.string().min(1).default('ringstate').describe('Expected `aud` claim of player tokens.'),
        keys: z
          .array(z.object({ kid: z.string().min(1), secret: z.string().min(32) }))
          .min(1)
          .default([{ kid: 'dev', secret: 'dev-secret-change-me-dev-secret-change-me' }])
          .describe('HMAC-SHA256 verification keys (secret at least 32 chars). The first signs dev tokens; all verify, which allows key rotation.'),
        devTokenTtlMs: positiveInt.default(24 * 60 * 60 * 1000).describe('Lifetime of dev-mode tokens (ms).'),
      })
      .strict()
      .prefault({})
      .describe('Player token verification.'),
    limits: z
      .object({
        frameBytesMax: positiveInt.default(16 * 1024).describe('Largest WebSocket frame accepted (bytes); larger ones get FRAME_TOO_LARGE, and frames over 4x this close the connection.'),
        messagesPerSecondMax: positiveInt.default(200).describe('Sustained messages per second per connection (token bucket, burst of twice this).'),
        rateViolationsBeforeClose: positiveInt.default(200).describe('Rate-limited messages tolerated before the connection is closed with 4008.'),
        subscriptionsPerConnectionMax: positiveInt.default(64).describe('Aggregates one connection may subscribe to at once.'),
        outgoingBufferBytesMax: positiveInt.default(1024 * 1024).describe('Outgoing bytes buffered per connection before it is closed as a slow consumer (4009).'),
        handshakeTimeoutMs: positiveInt.default(10_000).describe('Time a new connection has to complete HELLO.'),
        idleTimeoutSeconds: positiveInt.min(8).default(60).describe('Connection closed after this long without any message (the SDK pings well within it).'),
        heartbeatMs: positiveInt.default(15_000).describe('Ping interval suggested to clients in WELCOME.'),
        httpBodyBytesMax: positiveInt.default(16 * 1024).describe('Largest HTTP request body accepted (bytes).'),
        invalidFramesBeforeClose: positiveInt.default(20).describe('Malformed frames tolerated on one connection before it is closed with 4002.'),
      })
      .strict()
      .prefault({})
      .describe('Limits that protect the node from clients.'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
