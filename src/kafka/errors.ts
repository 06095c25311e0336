import { PyramidError } from '../errors.js';

/**
 * Whether the failure at the root of a kafkajs error is worth another try. kafkajs wraps a
 * retriable error it gave up on (its retry budget ran out, maybe in a nested retrier: a send
 * retrying a broker connect) in `KafkaJSNumberOfRetriesExceeded` or `KafkaJSNonRetriableError`,
 * both marked not retriable, with the original as `cause`. For a caller with its own, longer
 * patience (a broker restarting takes longer than kafkajs's budget) the original's verdict counts.
 */
function rootVerdict(err: unknown): boolean | undefined {
  let verdict: boolean | undefined;
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const retriable = (current as { retriable?: unknown }).retriable;
    if (typeof retriable === 'boolean') verdict = retriable;
    current = current.cause;
  }
  return verdict;
}

/**
 * Wraps a client error as `KAFKA_UNAVAILABLE`, keeping the client's own verdict on whether a retry
 * can help, as given for the original failure (see `rootVerdict`); anything unknown counts as
 * retriable, since a broker that is restarting looks the same as one that is gone.
 */
export function kafkaError(action: string, err: unknown): PyramidError {
  if (err instanceof PyramidError) return err;
  const retriable = rootVerdict(err);
  const message = err instanceof Error ? err.message : String(err);
  return new PyramidError('KAFKA_UNAVAILABLE', `kafka ${action} failed: ${message}`, {
    retriable: typeof retriable === 'boolean' ? retriable : true,
    cause: err,
  });
}

/**
 * The kafkajs error `type`s (protocol error names such as `INVALID_PRODUCER_EPOCH`) along `err`'s
 * cause chain, outermost first: kafkajs wraps the protocol error that ended its retries in a
 * KafkaJSNonRetriableError (`cause`) or a retrier error (`originalError`).
 */
export function kafkaErrorTypes(err: unknown): string[] {
  const types: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') types.push(type);
    current = (current as { cause?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return types;
}
