import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log object. Secrets reach the logger through
 * config dumps and client errors; redaction here means no call site has to remember.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'sasl.password',
  '*.sasl.password',
  'redis.url',
  '*.redis.url',
  'registry.password',
  '*.registry.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

export interface CreateLoggerOptions {
  level?: LoggerOptions['level'];
  name?: string;
  /** Where to write; defaults to stdout. Tests pass a stream to capture output. */
  destination?: NodeJS.WritableStream;
}

/** The one way pyramid builds a logger: JSON lines, ISO time, secrets redacted. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { name: options.name ?? 'pyramid' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

/** A logger that writes nothing, for library callers and tests that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });
