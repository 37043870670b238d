/**
 * The one configuration schema: every setting with its default, unit and meaning.
 *
 * Settings are loaded once (file, then environment, then flags; later sources win), validated
 * here, frozen, and handed to the composition root. Nothing else reads `process.env`.
 * docs/configuration.md is generated from this schema (`npm run docs:generate`) and a test
 * checks that the committed file matches.
 */
import { z } from 'zod';
import { DEV_CLUSTER_KEY, DEV_TOKEN_KEY } from './dev-secrets.ts';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
/** A zone or host name; '' (an unset downward-API variable) means unknown. */
const localityName = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, dot, underscore and dash only')
  .optional();

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
      .describe('Enables the dev token issuer POST /v1/dev/token and lets the node run on the public built-in dev secrets (it logs a warning). Never enable in production: outside dev mode a node refuses to start without its own secrets (docs/security.md).'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
    partitionCount: positiveInt.max(4096).default(64).describe('Number of partitions; fixed when a cluster is created.'),
    replicationFactor: positiveInt.max(7).default(3).describe('Replicas per partition (owner + successors); 2f+1 tolerates f failures.'),
    durability: z
      .enum(['fsync', 'os'])
      .default('fsync')
      .describe(
        'When a log write counts as durable. fsync: flushed to disk before acknowledging (survives power loss). os: handed to the OS page cache (survives kill -9 of the process, not power loss: a node whose machine went down while it ran under os refuses to start with UNCLEAN_POWER_LOSS; docs/storage.md).',
      ),
    indexBatchEntries: positiveInt
      .max(65_536)
      .default(2048)
      .describe('Applied log entries whose aggregate-index and dedupe records are deferred in memory and written to the store together (rebuilt from the log after a restart); 1 writes them with every entry. Larger batches cost less CPU per command and more memory and start-up reading.'),
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
          .default([{ ...DEV_TOKEN_KEY }])
          .describe('HMAC-SHA256 verification keys (secret at least 32 chars). The first signs dev tokens; all verify, which allows key rotation. The default is a public dev key, refused outside dev mode.'),
        lifetimeMaxMs: positiveInt
          .default(24 * 60 * 60 * 1000)
          .describe('Longest lifetime a player token may claim (exp - iat, or exp - now without iat), in ms rounded up to whole seconds; a longer-lived token is refused with AUTH_INVALID_TOKEN, so a leaked token stops working within this.'),
        devTokenTtlMs: positiveInt.default(24 * 60 * 60 * 1000).describe('Lifetime of dev-mode tokens (ms); at most tokens.lifetimeMaxMs.'),
        clockSkewMs: z
          .number()
          .int()
          .min(0)
          .max(5 * 60 * 1000)
          .default(30_000)
          .describe('How far the token issuer\'s clock may be off from this node\'s (ms): a token is accepted up to this long past its exp, and its lifetime may exceed tokens.lifetimeMaxMs by this much (an issuer whose clock runs ahead stamps iat in the node\'s future).'),
      })
      .strict()
      .superRefine((value, context) => {
        if (value.devTokenTtlMs > value.lifetimeMaxMs) context.addIssue({ code: 'custom', path: ['devTokenTtlMs'], message: `must not exceed tokens.lifetimeMaxMs (${value.lifetimeMaxMs})` });
      })
      .prefault({})
      .describe('Player token verification.'),
    limits: z
      .object({
        frameBytesMax: positiveInt.default(16 * 1024).describe('Largest WebSocket frame accepted (bytes); larger ones get FRAME_TOO_LARGE, and frames over 4x this close the connection.'),
        messagesPerSecondMax: positiveInt.default(200).describe('Sustained messages per second per connection (token bucket, burst of twice this).'),
        commandsInFlightMax: z
          .number()
          .int()
          .min(0)
          .default(1024)
          .describe('Commands a node accepts at once (from its clients and forwarded by other nodes) before it answers OVERLOADED (retryable): bounds queueing under overload so replication heartbeats stay on time. 0: no limit.'),
        admissionDelayTargetMs: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .default(0)
          .describe('Queueing delay a node aims to keep under (ms): the number of commands it admits at once adapts (at most commandsInFlightMax) so that the fastest command of each 100 ms takes at most this much longer than the fastest of the last 10 s; beyond it, OVERLOADED. 0: the count alone.'),
        rateViolationsBeforeClose: positiveInt.default(200).describe('Rate-limited messages tolerated before the connection is closed with 4008.'),
        subscriptionsPerConnectionMax: positiveInt.default(64).describe('Aggregates one connection may subscribe to at once.'),
        outgoingBufferBytesMax: positiveInt.default(1024 * 1024).describe('Outgoing bytes buffered per connection before it is closed as a slow consumer (4009).'),
        handshakeTimeoutMs: positiveInt.default(10_000).describe('Time a new connection has to complete HELLO.'),
        handshakesInFlightMax: positiveInt
          .default(256)
          .describe('WebSocket connections that have not completed HELLO, per node; further upgrades get HTTP 503 OVERLOADED. Bounds what strangers can make the node hold: each such connection may buffer one frame of up to 16 MiB for at most limits.handshakeTimeoutMs.'),
        idleTimeoutSeconds: positiveInt.min(8).default(60).describe('Connection closed after this long without any message (the SDK pings well within it).'),
        heartbeatMs: positiveInt.default(15_000).describe('Ping interval suggested to clients in WELCOME.'),
        httpBodyBytesMax: positiveInt.default(16 * 1024).describe('Largest HTTP request body accepted (bytes).'),
        invalidFramesBeforeClose: positiveInt.default(20).describe('Malformed frames tolerated on one connection before it is closed with 4002.'),
        connectionsPerIpMax: z
          .number()
          .int()
          .min(0)
          .default(1000)
          .describe('Open WebSocket connections accepted from one IP address (0: no limit); further upgrades get HTTP 429 RATE_LIMITED. Loopback is exempt: a proxy or load generator on the same host speaks for many clients.'),
      })
      .strict()
      .prefault({})
      .describe('Limits that protect the node from clients.'),
    locality: z
      .object({
        zone: localityName.describe('Failure domain this node runs in, widest first: a zone of a cloud region (e.g. eu-west-1a; Kubernetes: the node label topology.kubernetes.io/zone). Replica sets spread over distinct zones first. Empty or absent: unknown (all such nodes count as one zone).'),
        host: localityName.describe('The machine this node runs on (e.g. the instance or Kubernetes node name). Nodes with the same zone and host share a machine, and replica sets spread over distinct hosts after zones. Set it when several nodes run on one machine. Empty or absent: the node counts as a machine of its own.'),
      })
      .strict()
      .prefault({})
      .describe('Where this node runs (docs/cluster.md, "Failure domains"). Every member learns every member\'s locality through the ring record; a change takes effect as a new ring generation and moves the partitions whose replica sets change.'),
    advertisedHost: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/)
      .optional()
      .describe('host:port clients should use for this node (a DNS name in production). Defaults to host:port.'),
    hosts: z
      .object({
        ttlSeconds: positiveInt.max(86_400).default(60).describe('How long clients may treat a GET /v1/hosts answer as current (they refresh it on every connect anyway).'),
        pollIntervalMs: positiveInt.min(100).max(60_000).default(1000).describe('How often a node asks the other nodes for their advertised host and load while clients ask it for hosts (ms).'),
        overloadRatio: z.number().min(1).max(100).default(1.5).describe('A partition owner holding more than this times the average connection count (plus 64) is overloaded: GET /v1/hosts suggests the least loaded node instead.'),
        connectionsSoftMax: positiveInt.default(50_000).describe('A node with at least this many client connections is overloaded and only suggested when no healthy node has fewer.'),
      })
      .strict()
      .prefault({})
      .describe('The host-suggestion service GET /v1/hosts (docs/protocol.md).'),
    admin: z
      .object({
        token: z
          .string()
          .min(32)
          .optional()
          .describe('Bearer token (`Authorization: Bearer <token>`) for /v1/admin/* and the data the dashboard polls. Required outside dev mode, where every admin request needs it, from loopback too (a proxy on the same host makes every client loopback). In dev mode loopback clients need none and remote clients need it.'),
      })
      .strict()
      .prefault({})
      .describe('Operator endpoints.'),
    cluster: z
      .object({
        enabled: z.boolean().default(false).describe('Run as a member of a replicated cluster (otherwise one node serves every partition alone).'),
        members: z
          .array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/))
          .default([])
          .describe('Node ids of the founding members: a new cluster builds its first ring over them, and every founder must list the same ids. Afterwards the ring is kept in each node\'s data and changes when nodes join or leave (docs/operations.md); a node whose id is not listed never founds, it joins an existing cluster. Empty: a lone node founds a one-node cluster, unless cluster.bootstrap names peers, in which case it only joins.'),
        peerHost: z.string().min(1).default('127.0.0.1').describe('Interface the node-to-node (libp2p) port binds to.'),
        peerPort: port.default(7001).describe('Node-to-node port (libp2p TCP, encrypted with Noise, private network keyed by cluster.key).'),
        advertisedPeerAddress: z.string().optional().describe('host:port peers dial to reach this node. Defaults to peerHost:peerPort.'),
        bootstrap: z.array(z.string().min(1)).default([]).describe('Peer addresses (host:port, hostnames allowed) contacted at start.'),
        key: z
          .string()
          .min(16)
          .default(DEV_CLUSTER_KEY)
          .describe('Shared secret of the cluster: a process without it cannot connect to any node. The default is a public dev key: outside dev mode a node with cluster.enabled refuses to start without its own.'),
        heartbeatIntervalMs: positiveInt.default(200).describe('Peer heartbeat interval (ms).'),
        failureTimeoutMs: positiveInt.default(800).describe('Silence after which a peer is considered down (ms). Shorter detects failures sooner but risks false suspicion under load or GC pauses.'),
        electionTimeoutMinMs: positiveInt.default(500).describe('Lower bound of the randomized election timeout of a partition\'s replicas (ms).'),
        electionTimeoutMaxMs: positiveInt.default(1000).describe('Upper bound of the randomized election timeout (ms). Failover takes about this plus one round trip.'),
        replicationHeartbeatMs: positiveInt.default(100).describe('How often a partition owner heartbeats its replicas (ms); well below electionTimeoutMinMs.'),
        tickIntervalMs: positiveInt.default(20).describe('Timer resolution of the replication driver (ms).'),
        replicaApplyDelayMs: z
          .number()
          .int()
          .min(0)
          .default(40)
          .describe('How long a replica may defer applying committed entries before it writes them to its aggregate index in a store transaction of their own (ms); until then they ride along with its next store write. Fewer synced transactions per command, at the price of up to this much later state updates to clients subscribed through a replica. 0: at once.'),
        forwardTimeoutMs: positiveInt.default(5000).describe('Deadline of a command forwarded to the partition owner (ms).'),
        compactEveryEntries: z
          .number()
          .int()
          .min(0)
          .default(10_000)
          .describe('A replica compacts its replication log every this many applied entries of a partition, so a replica that falls further behind catches up by snapshot transfer (a bulk copy of the committed entries) instead of entry by entry. Entries stay on disk as event history. 0: never compact.'),
        leaveOnStop: z
          .boolean()
          .default(false)
          .describe('SIGTERM (graceful stop) makes the node leave the ring first: its replicas move to the other members before it exits, for scale-in by stopping a node. Off: a stop is a restart (it hands over what it owns and stays a member). Bounded by leaveTimeoutMs.'),
        leaveTimeoutMs: positiveInt.default(120_000).describe('How long a stop with leaveOnStop waits for the replicas to move before it exits anyway (ms). Keep it under the platform\'s termination grace period.'),
        autoJoin: z.boolean().default(true).describe('A node that starts outside the ring (a new node, or one that left) asks the cluster to add it. Off: it only forwards commands until an operator changes the ring.'),
        ringSyncIntervalMs: positiveInt.default(1000).describe('How often a node pushes its ring membership record to one random live peer (ms); changes are also pushed to all peers at once.'),
        bootstrapWaitMs: positiveInt.default(30_000).describe('How long a node with an empty disk waits to hear from a majority of members before it decides whether it founds the cluster (ms).'),
      })
      .strict()
      .prefault({})
      .describe('Replication across nodes.'),
    outbox: z
      .object({
        pollMs: positiveInt.max(10_000).default(50).describe('How often the courier checks which partitions this node owns and which timers are due (ms): a timer fires at most about this late on a healthy owner.'),
        retryMinMs: positiveInt.default(100).describe('First wait before delivering again after a retryable answer (target unavailable, overloaded); doubles per attempt, with jitter (ms).'),
        retryMaxMs: positiveInt.default(5_000).describe('Longest wait between delivery attempts (ms). Deliveries never give up: only an answer from the target ends them.'),
        inFlightMax: positiveInt.default(256).describe('Deliveries in flight at once from this node; more wait for the next poll.'),
      })
      .strict()
      .prefault({})
      .describe('Delivery of commands aggregates send each other, and of timers (docs/game-developers.md). The target\'s dedupeRetentionMs must outlast the longest outage a delivery waits through.'),
    secondLife: z
      .object({
        enabled: z.boolean().default(false).describe('Serves the Second Life HTTP API under /v1/sl/ (docs/second-life.md). Requires `secondLife.masterKey`.'),
        masterKey: z
          .string()
          .min(32)
          .optional()
          .describe('Secret (at least 32 chars) every object secret is derived from: secret = HMAC-SHA256(masterKey, objectId). Same on every node; changing it revokes every object. Required when enabled.'),
        revokedObjectIds: z.array(z.string().min(1).max(128)).max(100_000).default([]).describe('Object ids refused even with a valid signature (revocation denylist).'),
        signatureWindowSeconds: positiveInt.max(3600).default(120).describe('A signed request\'s unix timestamp may differ from the node\'s clock by at most this many seconds.'),
        nonceCachePerObjectMax: positiveInt.max(100_000).default(512).describe('Nonces remembered per object within the signature window; an object that exceeds it is refused (RATE_LIMITED) rather than forgetting nonces.'),
        nonceCacheObjectsMax: positiveInt.default(20_000).describe('Objects whose nonces are remembered at once; when full of live entries new objects get OVERLOADED.'),
        requestsPerSecondPerObjectMax: positiveInt.default(4).describe('Sustained signed requests per second per object (token bucket, burst of twice this); LSL itself sends about 1/s.'),
        longPollWaitMs: positiveInt.min(100).max(25_000).default(20_000).describe('Longest time an events long-poll is held open (ms). At most 25 s so both llHTTPRequest\'s 60 s timeout and llHTTPResponse\'s 25 s rule hold.'),
        longPollsPerObjectMax: positiveInt.max(64).default(2).describe('Long-polls one object may hold open at once.'),
        longPollsMax: positiveInt.default(10_000).describe('Long-polls held open on this node at once.'),
        eventsBehindMax: positiveInt.default(1000).describe('A reader further behind than this many seqs gets `reset` (read the state, resume from its seq) instead of the backlog.'),
        commandTimeoutMs: positiveInt.min(100).max(25_000).default(20_000).describe('Longest wait for a command to commit before answering UNAVAILABLE (retry with the same id).'),
        pushRegistrationTtlSeconds: positiveInt.min(10).max(3600).default(120).describe('An HTTP-in push registration expires after this long unless renewed (scripts renew at half of it).'),
        pushRegistrationsPerObjectMax: positiveInt.max(64).default(4).describe('Aggregates one object may register a push URL for.'),
        pushRegistrationsMax: positiveInt.default(10_000).describe('Push registrations held by this node.'),
        pushTimeoutMs: positiveInt.min(100).max(25_000).default(10_000).describe('A push POST not answered within this is a timeout, and the URL is dropped at once.'),
        pushFailuresBeforeDrop: positiveInt.max(100).default(3).describe('Consecutive failed pushes (non-2xx, refused) after which a URL is dropped.'),
        allowPrivatePushTargets: z
          .boolean()
          .default(false)
          .describe('Allows push URLs on loopback and private networks. For tests and local development only: otherwise a push URL could probe the node\'s own network.'),
      })
      .strict()
      // masterKey is required while enabled, and outside dev mode must not be the dev value: checked with the other secrets (secrets.ts).
      .prefault({})
      .describe('The Second Life HTTP API (docs/second-life.md).'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
