/**
 * Structured logs: pino records with fields, never interpolated strings. Pretty output only when
 * stdout is a TTY (a person watching `npm start`): pino-pretty is loaded only then, and writes
 * one line per record, prefixed with the node id. Anything else (files, journald, a pipe) gets
 * JSON.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; nodeId: string; pretty?: boolean }): Logger {
  const base = { nodeId: options.nodeId };
  const settings = { level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime };
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  return pretty ? pino(settings, prettyStream()) : pino(settings);
}

function prettyStream(): DestinationStream {
  // pino-pretty is CommonJS; required here so a JSON-logging node never loads it.
  const build = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
  return build({
    colorize: true,
    singleLine: true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,nodeId',
    messageFormat: '{nodeId} {msg}',
    // Only real errors (err) get a multi-line stack; error summaries stay on the record's line.
    errorLikeObjectKeys: ['err'],
  });
}
