/**
 * The logging hook. A single function keeps the SDK independent of any logging library:
 * route it to console, pino, Sentry breadcrumbs or a test spy. Fields are structured data,
 * never interpolated into the message.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export const silentLogger: Logger = () => {};

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes to `console` at `minLevel` and above. */
export function consoleLogger(minLevel: LogLevel = 'info'): Logger {
  return (level, message, fields) => {
    if (levelRank[level] < levelRank[minLevel]) return;
    const line = `[ringstate] ${message}`;
    if (fields === undefined) console[level](line);
    else console[level](line, fields);
  };
}
