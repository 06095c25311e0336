import { describe, expect, inject, it } from 'vitest';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import { loadContract, valueSubject } from '../../src/pipeline/decode-schemas.js';
import { createAvroTierChangeEncoder } from '../../src/pipeline/tier-change-encoder.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { runSimulator } from '../../src/simulator/run.js';
import { createTopics, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

describe('schema evolution', () => {
  const e2e = useE2eStack();

  it('Transaction v1 and v2 records alternating in one partition are all scored', async () => {
    const names = uniqueNames('evolution');
    await createTopics(e2e.stack.brokers, [names.transactions], 1);
    const producer = testKafka(e2e.stack.brokers).createProducer();
    const registry = createSchemaRegistryClient({ url: e2e.stack.registryUrl });
    const count = 1_000;
    await runSimulator({
      producer,
      registry,
      topic: names.transactions,
      format: 'avro',
      schemaVersion: 'mixed',
      seed: 11,
      customers: 50,
      count,
      startTime: Date.now() - 30 * 86_400_000,
      spacingMs: 60_000,
      duplicateRatio: 0,
      lateRatio: 0,
    });
    await producer.disconnect();

    const config = testConfig({ brokers: e2e.stack.brokers, registryUrl: e2e.stack.registryUrl, redisUrl: inject('redisUrl'), names, overrides: { inputFormat: 'avro', clock: 'event' } });
    let dlq = 0;
    let scored = 0;
    const scorer = e2e.track(createScorer(config));
    scorer.instrumentation.on('consumer.dlq', () => {
      dlq += 1;
    });
    scorer.instrumentation.on('consumer.records', (e) => {
      if (e.outcome === 'scored') scored += e.count;
    });
    await scorer.start();
    expect(await waitFor(async () => scored === count, 30_000)).toBe(true);
    expect(dlq).toBe(0);
    expect((await scorer.store.readMeta(names.transactions, 0))?.lastOffset).toBe(count - 1);
  });

  it('a tier-change subject registered with v1 (an earlier pyramid) accepts the relay\'s v2', async () => {
    const names = uniqueNames('evolution-tiers');
    const registry = createSchemaRegistryClient({ url: e2e.stack.registryUrl });
    const v1 = await registry.registerAvro(valueSubject(names.tierChanges), loadContract('tier-change-v1'));
    const encoder = await createAvroTierChangeEncoder(registry, names.tierChanges);
    const framed = encoder.encode({
      eventId: 'c:2', customerId: 'c', previousTier: 'small', newTier: 'medium', direction: 'UP', cause: 'POLICY', transactionId: null, effectiveAt: 1, policyVersion: 'p2', previousPolicyVersion: 'p1',
      before: { monetary: 5, frequency: 1, recencyMs: 0, lastPurchaseAt: 1 }, after: { monetary: 5, frequency: 1, recencyMs: 0, lastPurchaseAt: 1 },
      boundary: { tier: 'medium', rule: 'r' }, headroom: { toNextTierUp: null, toDowngrade: null },
    });
    // A new schema id: v2 registered next to v1 under the same subject.
    expect(framed.readUInt32BE(1)).not.toBe(v1);
  });
});
