import kafkajs, { type Kafka as KafkaClient } from 'kafkajs';
import { uniqueName } from '../helpers/unique.js';

const { Kafka, logLevel } = kafkajs;

/** A kafkajs client for `address`, quiet unless something is wrong. */
export function kafkaClient(address: string, clientId = uniqueName('broker-test')): KafkaClient {
  return new Kafka({ brokers: [address], clientId, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

/** One consumed message, keys and values as strings. */
export interface Consumed {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string | null;
}

/**
 * Consumes `topic` from the beginning with a fresh group until `expected` messages arrived (or
 * `timeoutMs` passed), then disconnects. Returns what it got, so the caller asserts on content.
 * `expected` may also be a predicate over what arrived so far. kafkajs reads read_committed
 * unless `readUncommitted` is set.
 */
export async function consumeAll(
  kafka: KafkaClient,
  topic: string,
  expected: number | ((got: readonly Consumed[]) => boolean),
  timeoutMs = 30_000,
  options: { readUncommitted?: boolean } = {},
): Promise<Consumed[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('broker-test-g'), maxWaitTimeInMs: 200, readUncommitted: options.readUncommitted ?? false });
  const done = typeof expected === 'number' ? (got: readonly Consumed[]) => got.length >= expected : expected;
  const got: Consumed[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null });
          if (done(got)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}
