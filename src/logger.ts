import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactSecret, SECRET_CONFIG_PATHS } from './config/redact.js';

export type { Logger } from 'pino';

/**
 * How deep a config object may sit in a log object and still be redacted: at the top level,
 * under one key (`{ config }`) or under two (`{ scorer: { config } }`). pino's paths are exact,
 * so each secret needs one path per depth.
 */
const CONFIG_DEPTHS = ['', '*.', '*.*.'];

/**
 * Paths pino blanks out wherever they appear in a log object. Secrets reach the logger through
 * config dumps and client errors; redaction here means no call site has to remember. The generic
 * names catch client option objects (kafkajs logs `{ sasl: { password } }`); the config's own
 * secrets come from `SECRET_CONFIG_PATHS` at every depth in `CONFIG_DEPTHS`.
 */
export const REDACTED_PATHS: readonly string[] = [
  ...new Set([
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
    ...SECRET_CONFIG_PATHS.flatMap((path) => CONFIG_DEPTHS.map((depth) => depth + path)),
  ]),
];

/** Options of {@link createLogger}; all optional. */
export interface CreateLoggerOptions {
  /** Default: PYRAMID_LOG_LEVEL, else `info` (the one log-level variable of every command). */
  level?: LoggerOptions['level'];
  name?: string;
  /** Where to write; defaults to stdout. Tests pass a stream to capture output. */
  destination?: NodeJS.WritableStream;
}

/**
 * The one way pyramid builds a logger: JSON lines, ISO time, secrets redacted (URLs keep their
 * host and lose only their password, so a logged Redis URL still says where it points).
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? (process.env.PYRAMID_LOG_LEVEL || 'info'),
    base: { name: options.name ?? 'pyramid' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: (value, path) => redactSecret(path[path.length - 1], value) },
  };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

/** A logger that writes nothing, for library callers and tests that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });
