import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { DecodeError } from '../../src/pipeline/decode-error.js';
import { createDlqPublisher } from '../../src/pipeline/dlq-publisher.js';
import { DLQ_HEADERS } from '../../src/pipeline/dlq.js';
import { uniqueName } from '../helpers/unique.js';
import { consumeBatches, startEmbeddedKafka, type EmbeddedKafka } from '../kafka/embedded-broker.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});

describe('DLQ publisher', () => {
  it('writes rejected records with original bytes and failure headers, then reports them', async () => {
    const dlqTopic = uniqueName('tx-dlq');
    const admin = env.kafka.createAdmin();
    const producer = env.kafka.createProducer();
    await admin.connect();
    try {
      await admin.ensureTopics([{ topic: dlqTopic, numPartitions: 1 }]);
      const instrumentation = new Instrumentation();
      const reported: string[] = [];
      instrumentation.on('consumer.dlq', (event) => reported.push(`${event.topic}/${event.partition}:${event.reason}`));
      const publisher = createDlqPublisher({ producer, topic: dlqTopic, instrumentation, now: () => new Date(Date.UTC(2026, 0, 2)) });

      const bad = (offset: string, value: Buffer | null): KafkaRecord => ({ topic: 'transactions', partition: 4, offset, key: Buffer.from('c-9'), value, headers: {}, timestamp: 0 });
      const binary = Buffer.from([0, 0, 0, 0, 7, 0xff, 0xfe]);
      await publisher.publish([
        { record: bad('10', Buffer.from('{not json')), error: new DecodeError('INVALID_JSON', 'value is not valid UTF-8 JSON') },
        { record: bad('11', binary), error: new DecodeError('UNKNOWN_SCHEMA_ID', 'schema id 7 is not in the registry') },
      ]);
      await publisher.publish([]);

      expect(reported).toEqual(['transactions/4:INVALID_JSON', 'transactions/4:UNKNOWN_SCHEMA_ID']);
      const { batches } = await consumeBatches(env.kafka, dlqTopic, 2);
      const records = batches.flatMap((b) => b.records);
      expect(records.map((r) => r.value)).toEqual([Buffer.from('{not json'), binary]);
      expect(records.map((r) => r.key?.toString())).toEqual(['c-9', 'c-9']);
      const headers = records.map((r) => Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString()])));
      expect(headers[1]).toEqual({
        [DLQ_HEADERS.errorClass]: 'UNKNOWN_SCHEMA_ID',
        [DLQ_HEADERS.errorMessage]: 'schema id 7 is not in the registry',
        [DLQ_HEADERS.sourceTopic]: 'transactions',
        [DLQ_HEADERS.sourcePartition]: '4',
        [DLQ_HEADERS.sourceOffset]: '11',
        [DLQ_HEADERS.failedAt]: '2026-01-02T00:00:00.000Z',
      });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
