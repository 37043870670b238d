#!/usr/bin/env node
/**
 * The `ringstate` command line.
 *
 *   ringstate start [options]   start one node (production: pass --config and its secrets)
 *   ringstate dev   [options]   start one node with the example game in dev mode
 *   ringstate check  --data DIR  check a stopped node's store against its log (store-commands.ts)
 *   ringstate repair --data DIR  rebuild a stopped node's derived records from its log, then check
 *
 * Outside dev mode a node without its own secrets (tokens.keys, admin.token, cluster.key in a
 * cluster, secondLife.masterKey with that API) prints one line naming them and exits 2. So does
 * a node whose data directory another process has open (DATA_DIR_IN_USE); one whose port another
 * process listens on prints one line naming it and that process (PORT_IN_USE) and exits 1.
 *
 * Flags override the config file and RINGSTATE_* environment variables. `--print-config`
 * prints the effective configuration (secrets redacted) and exits.
 */
import './polyfills.ts';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import type { AggregateDefinition } from './aggregate/index.ts';
import { ConfigError, DEV_SECOND_LIFE_MASTER_KEY, loadConfig, redactConfig, type Config } from './config/index.ts';
import { GameNode } from './game-node.ts';
import { DirectoryInUseError, StoreDamagedError, UncleanPowerLossError } from './log/index.ts';
import { describePortHolder, firstBusyPort } from './port-in-use.ts';
import { runCheck, runRepair, type StoreCommandFlags } from './store-commands.ts';

interface StartFlags {
  config?: string;
  nodeId?: string;
  host?: string;
  port?: number;
  dataDir?: string;
  game?: string;
  logLevel?: string;
  printConfig?: boolean;
}

const program = new Command('ringstate').description('Replicated, event-sourced game session server').showHelpAfterError();

function withStartOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'JSON config file')
    .option('--node-id <id>', 'node id (nodeId)')
    .option('--host <host>', 'client interface to bind (host)')
    .addOption(new Option('--port <port>', 'client port (port)').argParser(parsePort))
    .option('--data-dir <dir>', 'data directory (dataDir)')
    .option('--log-level <level>', 'log level (logLevel)')
    .option('--game <module>', 'module whose default export is an array of aggregate definitions (default: the example game)')
    .option('--print-config', 'print the effective configuration and exit');
}

withStartOptions(program.command('start').description('start one node')).action((flags: StartFlags) => run(flags, {}));
withStartOptions(program.command('dev').description('start one node with the example game in dev mode (dev token issuer on)')).action((flags: StartFlags) =>
  run(flags, {
    devMode: true,
    replicationFactor: 1,
    // A well-known key, like the dev token key: dev objects are forgeable by anyone who reads it.
    secondLife: { enabled: true, masterKey: DEV_SECOND_LIFE_MASTER_KEY, allowPrivatePushTargets: true },
  }),
);

function withStoreOptions(command: Command): Command {
  return command
    .requiredOption('--data <dir>', 'the data directory (dataDir) of a stopped node')
    .addOption(new Option('--dedupe-retention-ms <ms>', 'the node\'s dedupeRetentionMs: older entries need no dedupe record').argParser(parseCount))
    .addOption(new Option('--findings-max <n>', 'findings listed at most (all are counted)').default(1000).argParser(parseCount));
}

withStoreOptions(program.command('check').description('check a stopped node\'s store: log continuity, aggregate index, dedupe and outbox records against the log; exit 0 when clean')).action(
  (flags: StoreCommandFlags) => {
    process.exitCode = runCheck(flags, writeLine(process.stdout), writeLine(process.stderr));
  },
);
withStoreOptions(program.command('repair').description('rebuild a stopped node\'s derived records (aggregate index, dedupe, outbox) from its log in one transaction, then check it')).action(
  async (flags: StoreCommandFlags) => {
    process.exitCode = await runRepair(flags, writeLine(process.stdout), writeLine(process.stderr));
  },
);

await program.parseAsync(process.argv);

function writeLine(stream: NodeJS.WriteStream): (line: string) => void {
  return (line) => {
    stream.write(`${line}\n`);
  };
}

function parseCount(value: string): number {
  const count = Number(value);
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`expected a non-negative integer, got ${value}`);
  return count;
}

async function run(flags: StartFlags, presets: Record<string, unknown>): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig({
      ...(flags.config === undefined ? {} : { file: flags.config }),
      env: process.env,
      overrides: { ...presets, ...flagOverrides(flags) },
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (flags.printConfig === true) {
    process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
    return;
  }
  const aggregates = await loadGame(flags.game);
  // After POST /v1/admin/leave moved this node's replicas away, the process stops like on SIGTERM.
  let node: GameNode;
  try {
    node = new GameNode({ config, aggregates, onLeft: () => shutdown('leave') });
  } catch (error) {
    // The store's own refusals (another process has the directory open; a power loss under
    // durability "os"; a log its deferred records cannot be rebuilt from) are one line with their
    // code and what to do, not a stack trace; the exit status is a configuration refusal's.
    if (error instanceof DirectoryInUseError || error instanceof UncleanPowerLossError || error instanceof StoreDamagedError) {
      process.stderr.write(`${config.nodeId}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let stopping = false;
  function shutdown(signal: string): void {
    if (stopping) return;
    stopping = true;
    node.logger.info({ signal }, 'stopping');
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        node.logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  }
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await node.start();
  } catch (error) {
    await exitIfPortBusy(config);
    throw error;
  }
}

/**
 * A failed bind is one line naming the port, the process that holds it and the setting that
 * moves it, not a stack trace. Ports are bound exclusively (port-in-use.ts), so a second node on
 * a port ends here instead of sharing it.
 */
async function exitIfPortBusy(config: Readonly<Config>): Promise<void> {
  const busy = await firstBusyPort([
    { role: 'client port', host: config.host, port: config.port, setting: '--port or "port" in the config file' },
    ...(config.cluster.enabled ? [{ role: 'peer port', host: config.cluster.peerHost, port: config.cluster.peerPort, setting: '"cluster.peerPort" in the config file' }] : []),
  ]);
  if (busy === undefined) return;
  process.stderr.write(`${config.nodeId}: PORT_IN_USE: ${busy.role} ${busy.port} on ${busy.host} is in use by ${describePortHolder(busy.port)}; choose another with ${busy.setting}\n`);
  process.exit(1);
}

function flagOverrides(flags: StartFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flags.nodeId !== undefined) out['nodeId'] = flags.nodeId;
  if (flags.host !== undefined) out['host'] = flags.host;
  if (flags.port !== undefined) out['port'] = flags.port;
  if (flags.dataDir !== undefined) out['dataDir'] = flags.dataDir;
  if (flags.logLevel !== undefined) out['logLevel'] = flags.logLevel;
  return out;
}

async function loadGame(modulePath: string | undefined): Promise<ReadonlyArray<AggregateDefinition<any, any, any>>> {
  if (modulePath === undefined) return (await import('../example-game/index.ts')).exampleGame;
  const loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as { default?: unknown };
  if (!Array.isArray(loaded.default)) throw new Error(`${modulePath} must default-export an array of aggregate definitions`);
  return loaded.default as Array<AggregateDefinition<any, any, any>>;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${value}`);
  return port;
}
