/**
 * Every error pyramid raises on purpose. Codes are a closed union so callers can switch on them
 * exhaustively; `retriable` tells the consumer loop whether backing off and trying again can help.
 */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'POLICY_INVALID',
  'STATE_SCRIPT_FAILED',
  'STATE_LAYOUT_MISMATCH',
  /**
   * A partition commit was refused: its stored state is not the one this owner last read or
   * wrote (another owner claimed it, an earlier commit was lost, or the state is gone). Nothing
   * was written; the owner drops what it cached and resumes from what Redis holds.
   */
  'STATE_FENCED',
  /**
   * The input topic is not the one the stored state was built from (re-created, or truncated):
   * its log starts elsewhere, its first record differs, or it ends before the stored watermark.
   */
  'TOPIC_INCARNATION_MISMATCH',
  /**
   * Kafka no longer holds the offsets a partition needs next (retention deleted them): applying
   * from where the log starts now would skip records silently, so the partition stops.
   */
  'KAFKA_OFFSETS_GONE',
  'REDIS_UNAVAILABLE',
  'DECODE_FAILED',
  'VALIDATION_FAILED',
  'SCHEMA_REGISTRY_UNAVAILABLE',
  /** The registry refused a schema (incompatible with the subject, or malformed). */
  'SCHEMA_REJECTED',
  'KAFKA_UNAVAILABLE',
  /**
   * A newer producer instance claimed this transactional id (or the broker aborted this one's
   * transaction past its timeout and fenced it): this instance may never publish again. Not
   * retriable; the owner of the partition's relay is elsewhere now.
   */
  'KAFKA_PRODUCER_FENCED',
  /**
   * The broker refused a transaction for a reason retrying cannot fix (invalid transaction state,
   * timeout above the broker's maximum, not authorised for the transactional id). Not retriable.
   */
  'KAFKA_TRANSACTION_FAILED',
  'PREREQUISITE_MISSING',
  /** The ops HTTP server could not bind its host and port (taken, privileged, not local). */
  'HTTP_LISTEN_FAILED',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The optional parts of a {@link PyramidError}. */
export interface PyramidErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Structured context for logs; never customer data. */
  details?: Record<string, unknown>;
}

/**
 * The error type of every failure pyramid raises on purpose: a closed `code` to switch on,
 * `retriable` for the retry loop, the underlying `cause` when there is one.
 */
export class PyramidError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: PyramidErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PyramidError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/**
 * True when backing off and trying again can help: a PyramidError marked retriable, or any other
 * error carrying `retriable: true` (kafkajs marks its own errors so).
 */
export function isRetriable(err: unknown): boolean {
  return isPyramidError(err) ? err.retriable : (err as { retriable?: unknown } | null)?.retriable === true;
}

/** True when `err` is a PyramidError with the given code. */
export function isPyramidError(err: unknown, code?: ErrorCode): err is PyramidError {
  return err instanceof PyramidError && (code === undefined || err.code === code);
}
