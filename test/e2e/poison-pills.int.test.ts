import avro from 'avsc';
import { describe, expect, inject, it } from 'vitest';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import type { KafkaRecord, OutgoingRecord } from '../../src/kafka/types.js';
import { writeSchemaFrame } from '../../src/kafka/wire-format.js';
import { DLQ_HEADERS } from '../../src/pipeline/dlq.js';
import { loadContract, valueSubject } from '../../src/pipeline/decode-schemas.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const DAY = 86_400_000;

function tx(i: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { transactionId: `t-${i}`, customerId: `c-${i % 7}`, kind: 'PURCHASE', amountMinor: 10_000 + i, currency: 'CNY', eventTime: Date.now() - 10 * DAY + i, ...overrides };
}

const header = (record: KafkaRecord, name: string): string | undefined => record.headers[name]?.toString();

/** Records the scorer has scored so far (counted from its instrumentation from the start on). */
function scoredCounter(scorer: Scorer): () => number {
  let scored = 0;
  scorer.instrumentation.on('consumer.records', (e) => {
    if (e.outcome === 'scored') scored += e.count;
  });
  return () => scored;
}

describe('poison pills go to the DLQ with their reason; everything valid around them is scored', () => {
  const e2e = useE2eStack();

  it('Avro input: no magic byte, unknown schema id, negative / absurd amounts, far-future time; v1 and v2 mixed', async () => {
    const names = uniqueNames('poison-avro');
    await createTopics(e2e.stack.brokers, [names.transactions], 1);
    const registry = createSchemaRegistryClient({ url: e2e.stack.registryUrl });
    const v1Id = await registry.registerAvro(valueSubject(names.transactions), loadContract('transaction-v1'));
    const v2Id = await registry.registerAvro(valueSubject(names.transactions), loadContract('transaction-v2'));
    const v1 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v1')) as avro.Schema);
    const v2 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v2')) as avro.Schema);
    const asV1 = (t: Record<string, unknown>): Buffer => writeSchemaFrame(v1Id, v1.toBuffer(t));
    const asV2 = (t: Record<string, unknown>): Buffer => writeSchemaFrame(v2Id, v2.toBuffer({ channel: 'POS', merchantCategory: '5411', ...t }));

    const records: OutgoingRecord[] = [];
    const expectedReasons: string[] = [];
    let valid = 0;
    const poison = (value: Buffer | string, reason: string): void => {
      records.push({ key: 'poison', value });
      expectedReasons.push(reason);
    };
    for (let i = 0; i < 60; i++) {
      records.push({ key: `c-${i % 7}`, value: i % 2 === 0 ? asV1(tx(i)) : asV2(tx(i)) });
      valid += 1;
      if (i === 5) poison(Buffer.from(JSON.stringify(tx(1000))), 'NO_MAGIC_BYTE');
      if (i === 12) poison(writeSchemaFrame(987_654, v2.toBuffer({ ...tx(1001), channel: null, merchantCategory: null })), 'UNKNOWN_SCHEMA_ID');
      if (i === 20) poison(asV2(tx(1002, { amountMinor: -5 })), 'VALIDATION_FAILED');
      if (i === 30) poison(asV1(tx(1003, { amountMinor: 10 ** 15 })), 'VALIDATION_FAILED');
      if (i === 40) poison(asV2(tx(1004, { eventTime: Date.now() + 365 * DAY })), 'VALIDATION_FAILED');
      if (i === 50) poison(Buffer.from([0, 0, 0]), 'NO_MAGIC_BYTE');
    }
    const producer = testKafka(e2e.stack.brokers).createProducer();
    await producer.send(names.transactions, records);
    await producer.disconnect();

    const scorer = e2e.track(createScorer(testConfig({ brokers: e2e.stack.brokers, registryUrl: e2e.stack.registryUrl, redisUrl: inject('redisUrl'), names, overrides: { inputFormat: 'avro', outputFormat: 'avro', clock: 'event' } })));
    const scored = scoredCounter(scorer);
    await scorer.start();
    const dlq = await readTopic(e2e.stack.brokers, names.dlq, (r) => r.length >= expectedReasons.length, 30_000);
    expect(dlq.map((r) => header(r, DLQ_HEADERS.errorClass))).toEqual(expectedReasons);
    for (const record of dlq) {
      expect(header(record, DLQ_HEADERS.sourceTopic)).toBe(names.transactions);
      expect(header(record, DLQ_HEADERS.errorMessage)).not.toContain('c-');
    }
    expect(header(dlq[2]!, DLQ_HEADERS.errorMessage)).toContain('amountMinor');
    expect(header(dlq[2]!, DLQ_HEADERS.sourceOffset)).toBe('23');
    expect(header(dlq[4]!, DLQ_HEADERS.errorMessage)).toContain('eventTime');
    expect(await waitFor(async () => scored() === valid, 30_000)).toBe(true);
    // The tier changes went out as Avro in the registry's wire format.
    const changes = await readTopic(e2e.stack.brokers, names.tierChanges, (r) => r.length >= 7, 30_000);
    expect(changes.length).toBeGreaterThanOrEqual(7);
    expect(changes.every((r) => r.value![0] === 0)).toBe(true);
    // Written with tier-change-v2 (what the encoder registers); the registry id in the frame says so.
    const tierChange = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v2')) as avro.Schema);
    const first = tierChange.fromBuffer(changes[0]!.value!.subarray(5)) as { eventId: string; direction: string; previousPolicyVersion: string | null };
    expect(first.direction).toBe('NEW');
    expect(first.previousPolicyVersion).toBeNull();
    // v2 is BACKWARD compatible only (schemas/README.md): a reader pinned to v1 cannot resolve its
    // cause enum (BALANCE), so such readers must move to v2 first; the frame's id names v2.
    const v1Reader = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v1')) as avro.Schema);
    expect(() => v1Reader.createResolver(tierChange)).toThrow(/TierChangeCause/);
  });

  it('JSON input: invalid JSON, negative / non-integer / absurd amounts, far-future time, wrong currency', async () => {
    const names = uniqueNames('poison-json');
    await createTopics(e2e.stack.brokers, [names.transactions], 1);
    const records: OutgoingRecord[] = [];
    const expectedReasons: string[] = [];
    let valid = 0;
    const poison = (value: string, reason: string): void => {
      records.push({ key: 'poison', value });
      expectedReasons.push(reason);
    };
    for (let i = 0; i < 40; i++) {
      records.push({ key: `c-${i % 7}`, value: JSON.stringify(tx(i)) });
      valid += 1;
      if (i === 3) poison('{"transactionId": "t-x", ', 'INVALID_JSON');
      if (i === 8) poison(JSON.stringify(tx(2000, { amountMinor: -100 })), 'VALIDATION_FAILED');
      if (i === 13) poison(JSON.stringify(tx(2001, { amountMinor: 12.5 })), 'VALIDATION_FAILED');
      if (i === 18) poison(JSON.stringify(tx(2002, { amountMinor: 1e17 })), 'VALIDATION_FAILED');
      if (i === 23) poison(JSON.stringify(tx(2003, { eventTime: Date.now() + 30 * DAY })), 'VALIDATION_FAILED');
      if (i === 28) poison(JSON.stringify(tx(2004, { currency: 'USD' })), 'VALIDATION_FAILED');
      if (i === 33) poison('[1,2,3]', 'INVALID_JSON');
    }
    // The batch ends in a poison pill: the position must still move past it (no endless re-fetch).
    poison('not json at all', 'INVALID_JSON');
    const producer = testKafka(e2e.stack.brokers).createProducer();
    await producer.send(names.transactions, records);
    await producer.disconnect();

    const scorer = e2e.track(createScorer(testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names })));
    const scored = scoredCounter(scorer);
    await scorer.start();
    const dlq = await readTopic(e2e.stack.brokers, names.dlq, (r) => r.length >= expectedReasons.length, 30_000);
    expect(dlq.map((r) => header(r, DLQ_HEADERS.errorClass))).toEqual(expectedReasons);
    expect(dlq[0]!.value!.toString()).toBe('{"transactionId": "t-x", ');
    expect(await waitFor(async () => scored() === valid, 30_000)).toBe(true);
    expect(await scorer.nextOffset(0)).toBe(String(records.length));
    // Nothing is dead-lettered twice while the scorer keeps running.
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await readTopic(e2e.stack.brokers, names.dlq, (r) => r.length > expectedReasons.length, 2_000);
    expect(again.length).toBe(expectedReasons.length);
  });
});
