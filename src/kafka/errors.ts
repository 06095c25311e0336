import { PyramidError } from '../errors.js';

/**
 * Wraps a client error as `KAFKA_UNAVAILABLE`, keeping the client's own verdict on whether a retry
 * can help (kafkajs marks its errors `retriable`); anything unknown counts as retriable, since a
 * broker that is restarting looks the same as one that is gone.
 */
export function kafkaError(action: string, err: unknown): PyramidError {
  if (err instanceof PyramidError) return err;
  const retriable = (err as { retriable?: unknown } | null)?.retriable;
  const message = err instanceof Error ? err.message : String(err);
  return new PyramidError('KAFKA_UNAVAILABLE', `kafka ${action} failed: ${message}`, {
    retriable: typeof retriable === 'boolean' ? retriable : true,
    cause: err,
  });
}
