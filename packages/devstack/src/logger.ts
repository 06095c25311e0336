import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The logger every part of the dev stack falls back to when its caller passes none: the broker and
 * the registry are libraries first, and a library that prints unasked pollutes its host's output.
 */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * The logger of the dev stack's own processes (`dev-stack` CLI, the standalone broker): JSON lines
 * with ISO time on `destination` (stdout by default), level from PYRAMID_LOG_LEVEL so one variable
 * sets the verbosity of pyramid and of the stack it talks to.
 */
export function createLogger(name: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level: process.env.PYRAMID_LOG_LEVEL || 'info', base: { name }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination === undefined ? pino(options) : pino(options, destination as pino.DestinationStream);
}
