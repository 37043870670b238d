/**
 * Structured logs: pino records with fields, never interpolated strings. Pretty output only when
 * stdout is a TTY (pino-pretty is optional and loaded only then).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; nodeId: string; pretty?: boolean }): Logger {
  const base = { nodeId: options.nodeId };
  return pino({ level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime });
}
