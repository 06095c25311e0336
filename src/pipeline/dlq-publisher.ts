import type { Instrumentation } from '../instrumentation.js';
import type { PyramidProducer } from '../kafka/producer.js';
import type { KafkaRecord } from '../kafka/types.js';
import type { DecodeError } from './decode-error.js';
import { buildDlqRecord } from './dlq.js';

/** A rejected record and why. */
export interface Rejection {
  record: KafkaRecord;
  error: DecodeError;
}

export interface DlqPublisherOptions {
  producer: PyramidProducer;
  /** The DLQ topic (config `topics.dlq`). */
  topic: string;
  instrumentation?: Instrumentation;
  /** Clock for `pyramid.failed.at`; tests pass a fixed one. */
  now?: () => Date;
}

/** Sends a batch's rejected records to the DLQ topic. */
export interface DlqPublisher {
  /**
   * Publishes all rejections of one batch in one produce request and emits `consumer.dlq` per
   * record once the broker has them. Resolves only when the DLQ holds them, so the loop can then
   * advance past them: the partition keeps flowing and nothing is lost.
   * @throws PyramidError KAFKA_UNAVAILABLE (retriable per the client) when the DLQ write fails.
   */
  publish(rejections: readonly Rejection[]): Promise<void>;
}

/** Builds the DLQ publisher on top of a (preferably idempotent) producer. */
export function createDlqPublisher(options: DlqPublisherOptions): DlqPublisher {
  const now = options.now ?? (() => new Date());
  return {
    async publish(rejections) {
      if (rejections.length === 0) return;
      const failedAt = now();
      await options.producer.send(
        options.topic,
        rejections.map(({ record, error }) => buildDlqRecord(record, error, failedAt)),
      );
      for (const { record, error } of rejections) {
        options.instrumentation?.emit('consumer.dlq', { topic: record.topic, partition: record.partition, reason: error.reason });
      }
    },
  };
}
