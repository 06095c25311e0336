import { describe, expect, inject, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { inspectCustomer } from '../../src/pipeline/inspect.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { runSimulator } from '../../src/simulator/run.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const EVENTS = 3_000;
const PARTITIONS = 3;

describe('simulator → pyramid → tier-change topic', () => {
  const e2e = useE2eStack();

  it('a consumer of the tier-change topic rebuilds every customer’s tier exactly as inspect reports it', async () => {
    const names = uniqueNames('e2e-tiers');
    await createTopics(e2e.stack.brokers, [names.transactions], PARTITIONS);
    const producer = testKafka(e2e.stack.brokers).createProducer();
    const sim = await runSimulator({
      producer,
      topic: names.transactions,
      format: 'json',
      seed: 7,
      customers: 300,
      count: EVENTS,
      startTime: Date.now() - 200 * 86_400_000,
      spacingMs: 5 * 60_000,
    });
    await producer.disconnect();
    expect(sim.sent).toBe(EVENTS);

    const instrumentation = new Instrumentation();
    let handled = 0;
    instrumentation.on('consumer.records', (e) => {
      handled += e.count;
    });
    const config = testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'event' } });
    const scorer = e2e.track(createScorer(config, { instrumentation }));
    await scorer.start();
    expect(await waitFor(() => handled >= EVENTS)).toBe(true);

    // Every change the engine appended, across partitions, must reach the topic.
    let appended = 0;
    for (let p = 0; p < PARTITIONS; p++) appended += (await scorer.store.readMeta(names.transactions, p))?.outboxSeq ?? 0;
    expect(appended).toBeGreaterThan(300);
    expect(await waitFor(async () => (await e2e.redis.xlen(scorer.store.keys(names.transactions, 0).outbox)) === 0)).toBe(true);
    const records = await readTopic(e2e.stack.brokers, names.tierChanges, (r) => r.length >= appended);
    expect(records.length).toBe(appended);

    const latest = new Map<string, { seq: number; tier: string }>();
    for (const record of records) {
      const change = JSON.parse(record.value!.toString()) as { eventId: string; customerId: string; newTier: string };
      expect(record.key?.toString()).toBe(change.customerId);
      const seq = Number(change.eventId.slice(change.eventId.lastIndexOf(':') + 1));
      const known = latest.get(change.customerId);
      if (known === undefined || known.seq < seq) latest.set(change.customerId, { seq, tier: change.newTier });
    }
    // Every customer with state appears on the topic, and no one else.
    const census = await scorer.census();
    expect(census.tiers.reduce((sum, t) => sum + t.customers, 0)).toBe(latest.size);
    expect(latest.size).toBeGreaterThan(250);
    for (const [customerId, { seq, tier }] of latest) {
      const inspection = await inspectCustomer({ store: scorer.store, policy: scorer.policy, clock: 'wall', topic: names.transactions, customerId });
      expect({ customerId, tier: inspection?.tier, seq: inspection?.seq }).toEqual({ customerId, tier, seq });
    }
  });
});
