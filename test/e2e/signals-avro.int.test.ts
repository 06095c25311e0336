import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import { readSchemaFrame } from '../../src/kafka/wire-format.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { createTopics, DEFAULT_POLICY, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('signals in Avro through the Schema Registry', () => {
  const e2e = useE2eStack();
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-signals-avro-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the scorer registers signal-v1 under <signals topic>-value and publishes each signal framed with its id, with the figures the rules give', async () => {
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `${readFileSync(DEFAULT_POLICY, 'utf8').replace(/^version: .*$/m, 'version: "signals-avro"')}
signals:
  nearUpgrade:
    within: { ofThreshold: "10%" }
    cooldown: 30d
  downgradePending: true
`,
    );
    const names = uniqueNames('signals-avro');
    await createTopics(e2e.stack.brokers, [names.transactions], 2);
    const t0 = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
    const tx = (transactionId: string, customerId: string, kind: 'PURCHASE' | 'REFUND', amountMinor: number, eventTime: number) => ({
      key: customerId,
      value: JSON.stringify({ transactionId, customerId, kind, amountMinor, currency: 'CNY', eventTime }),
    });
    const producer = testKafka(e2e.stack.brokers).createProducer();
    await producer.send(names.transactions, [
      // 4,500.00 CNY: small, 320.01 short of medium (> 4,820.00), within 10 % of 4,820.01.
      tx('n-1', 'near', 'PURCHASE', 450_000, t0),
      // 60,000.00: vip. A refund to 50,000.00 falls below vip's bound relaxed by the 5 % margin
      // (55,955.00): the downgrade to major waits out the 7-day grace, and 5,595.01 avoids it;
      // spending 7,000.00 calls it off.
      tx('d-1', 'down', 'PURCHASE', 6_000_000, t0),
      tx('d-2', 'down', 'REFUND', 1_000_000, t0 + HOUR),
      tx('d-3', 'down', 'PURCHASE', 700_000, t0 + 2 * HOUR),
    ]);
    await producer.disconnect();

    const config = testConfig({
      brokers: e2e.stack.brokers,
      registryUrl: e2e.stack.registryUrl,
      redisUrl: inject('redisUrl'),
      names,
      overrides: { clock: 'event', outputFormat: 'avro', policyFile },
    });
    const scorer = e2e.track(createScorer(config));
    await scorer.start();
    const records = await readTopic(e2e.stack.brokers, names.signals, (r) => r.length >= 3, 30_000);
    expect(await waitFor(async () => (await scorer.store.outboxLength(names.transactions, 0)) + (await scorer.store.outboxLength(names.transactions, 1)) === 0)).toBe(true);

    const registry = createSchemaRegistryClient({ url: e2e.stack.registryUrl });
    const decoded = await Promise.all(
      records.map(async (record) => {
        const frame = readSchemaFrame(record.value!);
        expect(frame).not.toBeNull();
        const registered = await registry.getSchemaById(frame!.schemaId);
        expect(JSON.parse(registered!.schema)).toMatchObject({ name: 'Signal', namespace: 'pyramid' });
        const type = avro.Type.forSchema(JSON.parse(registered!.schema) as avro.Schema);
        const signal = JSON.parse(JSON.stringify(type.fromBuffer(frame!.payload))) as Record<string, unknown>;
        return { key: record.key?.toString(), ...signal } as Record<string, unknown>;
      }),
    );
    const brief = decoded
      .map(({ key, signalId, type, tier, targetTier, cause, transactionId, effectiveAt, spendToUpgrade, takesEffectAt, spendToStay }) => ({ key, signalId, type, tier, targetTier, cause, transactionId, effectiveAt, spendToUpgrade, takesEffectAt, spendToStay }))
      .sort((a, b) => String(a.signalId).localeCompare(String(b.signalId)));
    expect(brief).toEqual([
      { key: 'down', signalId: 'down:s:1', type: 'DOWNGRADE_PENDING', tier: 'vip', targetTier: 'major', cause: 'REFUND', transactionId: 'd-2', effectiveAt: t0 + HOUR, spendToUpgrade: null, takesEffectAt: t0 + HOUR + 7 * DAY, spendToStay: 595_501 },
      { key: 'down', signalId: 'down:s:2', type: 'DOWNGRADE_CANCELLED', tier: 'vip', targetTier: null, cause: 'TRANSACTION', transactionId: 'd-3', effectiveAt: t0 + 2 * HOUR, spendToUpgrade: null, takesEffectAt: t0 + HOUR + 7 * DAY, spendToStay: null },
      { key: 'near', signalId: 'near:s:1', type: 'NEAR_UPGRADE', tier: 'small', targetTier: 'medium', cause: 'TRANSACTION', transactionId: 'n-1', effectiveAt: t0, spendToUpgrade: 32_001, takesEffectAt: null, spendToStay: null },
    ]);
  });
});
