import type { Instrumentation } from '../instrumentation.js';
import type { PyramidProducer } from '../kafka/producer.js';
import { partitionKey, type OutgoingRecord } from '../kafka/types.js';
import type { StateStore } from '../state/store.js';
import { SerialChains } from './serial.js';
import type { TierChangeEncoder } from './tier-change-encoder.js';

export interface OutboxRelayOptions {
  store: StateStore;
  /** Idempotent producer: a retried send cannot duplicate or reorder. */
  producer: PyramidProducer;
  /** The tier-changes topic. */
  topic: string;
  encoder: TierChangeEncoder;
  instrumentation?: Instrumentation;
  /** Outbox entries per produce request; default {@link DEFAULT_RELAY_CHUNK}. */
  chunk?: number;
}

/** What one flush did. */
export interface FlushResult {
  published: number;
  /** False when `shouldContinue` stopped it before the outbox was empty. */
  complete: boolean;
}

/** Publishes a partition's outbox to the tier-changes topic, then trims what the broker acked. */
export interface OutboxRelay {
  /**
   * Publishes every pending change of one input partition, in outbox order, keyed by customerId.
   * An entry is trimmed only after the broker acknowledged it, so a crash between the two re-sends
   * it: downstream sees the same event id with the same content (at-least-once, deduplicable).
   * The outbox is written only by the partition's fenced commits, so entries never change.
   * Flushes of one partition never overlap (a batch, the sweeper and an assignment may all ask).
   * `shouldContinue` is checked before each produce request (stale batch: stop publishing).
   * @throws PyramidError REDIS_UNAVAILABLE / KAFKA_UNAVAILABLE; the caller retries.
   */
  flush(topic: string, partition: number, shouldContinue?: () => boolean): Promise<FlushResult>;
}

/** Outbox entries per produce request: large enough that a burst of changes costs few round trips. */
export const DEFAULT_RELAY_CHUNK = 5000;

/** Builds the relay. */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { store, producer, encoder, instrumentation } = options;
  const chunk = options.chunk ?? DEFAULT_RELAY_CHUNK;
  const chains = new SerialChains();

  async function drain(topic: string, partition: number, shouldContinue: () => boolean): Promise<FlushResult> {
    let published = 0;
    // An empty read means an empty outbox; otherwise the last trim says what is left.
    let pending = 0;
    for (;;) {
      if (!shouldContinue()) return { published, complete: false };
      const entries = await store.readOutbox(topic, partition, '-', chunk);
      if (entries.length === 0) {
        pending = 0;
        break;
      }
      const records: OutgoingRecord[] = entries.map(({ change }) => ({ key: change.customerId, value: encoder.encode(change) }));
      await producer.send(options.topic, records);
      const last = entries[entries.length - 1];
      if (last !== undefined) pending = (await store.trimOutbox(topic, partition, last.id)).remaining;
      published += entries.length;
      for (const { change } of entries) {
        instrumentation?.emit('tier.change', {
          from: change.previousTier,
          to: change.newTier,
          cause: change.cause,
          topic,
          partition,
          effectiveAt: change.effectiveAt,
          policyVersion: change.policyVersion,
        });
      }
      if (entries.length < chunk) break;
    }
    instrumentation?.emit('outbox.pending', { topic, partition, pending });
    return { published, complete: true };
  }

  return {
    flush(topic, partition, shouldContinue = () => true) {
      return chains.run(partitionKey(topic, partition), () => drain(topic, partition, shouldContinue));
    },
  };
}
