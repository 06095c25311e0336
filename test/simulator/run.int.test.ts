import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchemaRegistry, type SchemaRegistryHandle } from '@pyramid/devstack';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import { readSchemaFrame } from '../../src/kafka/wire-format.js';
import { createDecoder } from '../../src/pipeline/decode.js';
import { createTransactionValidator } from '../../src/pipeline/validate.js';
import { generateTransactions } from '../../src/simulator/generate.js';
import { runSimulator } from '../../src/simulator/run.js';
import { uniqueName } from '../helpers/unique.js';
import { consumeBatches, startEmbeddedKafka, type EmbeddedKafka } from '../kafka/embedded-broker.js';

let env: EmbeddedKafka;
let registry: SchemaRegistryHandle;
beforeAll(async () => {
  env = await startEmbeddedKafka();
  registry = await startSchemaRegistry({ port: 0 });
});
afterAll(async () => {
  await registry?.close();
  await env?.close();
});

const START = Date.UTC(2026, 0, 1);
const simulation = { seed: 9, customers: 40, count: 600, startTime: START, spacingMs: 3_600_000, duplicateRatio: 0.05 };
const validate = createTransactionValidator({ maxAmountMinor: 1e13, maxFutureSkewMs: 0 }, () => START + 600 * 3_600_000);

async function simulateAndConsume(format: 'avro' | 'json', schemaVersion: 'v1' | 'v2' | 'mixed') {
  const topic = uniqueName('sim-tx');
  const admin = env.kafka.createAdmin();
  const producer = env.kafka.createProducer();
  await admin.connect();
  try {
    await admin.ensureTopics([{ topic, numPartitions: 4 }]);
    const client = createSchemaRegistryClient({ url: registry.url });
    const result = await runSimulator({ ...simulation, producer, topic, format, registry: client, schemaVersion, batchSize: 64 });
    const { batches } = await consumeBatches(env.kafka, topic, result.sent);
    return { result, records: batches.flatMap((b) => b.records), client };
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

describe('runSimulator', () => {
  it('writes v1 and v2 Avro records mixed in each partition, all decodable and valid, keyed by customer', async () => {
    const { result, records, client } = await simulateAndConsume('avro', 'mixed');
    expect(result.sent).toBe(600);
    expect(result.duplicates).toBeGreaterThan(0);
    expect(records).toHaveLength(600);

    const decoder = createDecoder({ format: 'avro', registry: client });
    await decoder.prepare(records.map((r) => r.value));
    expect(decoder.registryLookups).toBe(2);
    const expected = [...generateTransactions(simulation)].map((e) => e.transaction);
    const byId = new Map(expected.map((t) => [t.transactionId, t]));
    for (const partition of new Set(records.map((r) => r.partition))) {
      const ids = new Set(records.filter((r) => r.partition === partition).map((r) => readSchemaFrame(r.value as Buffer)?.schemaId));
      expect(ids.size).toBe(2);
    }
    for (const record of records) {
      const decoded = decoder.decode(record.value);
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) continue;
      const valid = validate(decoded.value);
      expect(valid.ok).toBe(true);
      if (!valid.ok) continue;
      expect(record.key?.toString()).toBe(valid.value.customerId);
      const original = byId.get(valid.value.transactionId);
      // v1 records lose channel and merchant category, everything else arrives as generated.
      expect({ ...valid.value, channel: null, merchantCategory: null, profitMinor: null }).toEqual({ ...original, channel: null, merchantCategory: null, profitMinor: null });
    }
    const partitionsPerCustomer = new Map<string, Set<number>>();
    for (const record of records) {
      const key = record.key?.toString() ?? '';
      partitionsPerCustomer.set(key, (partitionsPerCustomer.get(key) ?? new Set()).add(record.partition));
    }
    expect([...partitionsPerCustomer.values()].every((set) => set.size === 1)).toBe(true);
  });

  it('writes JSON that the JSON decoder and validator accept', async () => {
    const { records } = await simulateAndConsume('json', 'v1');
    const decoder = createDecoder({ format: 'json' });
    for (const record of records) {
      const decoded = decoder.decode(record.value);
      expect(decoded.ok && validate(decoded.value).ok).toBe(true);
      expect(JSON.parse(record.value?.toString() ?? '{}')).not.toHaveProperty('channel');
    }
    expect(records).toHaveLength(600);
  });
});
