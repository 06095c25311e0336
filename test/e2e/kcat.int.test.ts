import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { kcat } from '../../packages/devstack/test/helpers/kcat.js';
import { createTopics, testConfig, uniqueNames, waitFor } from './support.js';

describe('kcat interoperability', () => {
  let stack: DevStackHandle;
  let scorer: Scorer | undefined;

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
  });
  afterAll(async () => {
    await scorer?.stop();
    await stack.close();
  });

  it('JSON transactions produced with kcat -P are scored; kcat -C reads the tier changes', async () => {
    const names = uniqueNames('kcat');
    await createTopics(stack.brokers, [names.transactions], 2);
    scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }));
    await scorer.start();

    const now = Date.now();
    const lines = [
      { transactionId: 'k-1', customerId: 'alice', kind: 'PURCHASE', amountMinor: 7_000_000, currency: 'CNY', eventTime: now - 60_000 },
      { transactionId: 'k-2', customerId: 'bob', kind: 'PURCHASE', amountMinor: 1_000, currency: 'CNY', eventTime: now - 50_000 },
      { transactionId: 'k-3', customerId: 'bob', kind: 'PURCHASE', amountMinor: 600_000, currency: 'CNY', eventTime: now - 40_000 },
    ].map((t) => `${t.customerId}|${JSON.stringify(t)}`);
    const produced = await kcat(['-P', '-b', stack.brokers[0]!, '-t', names.transactions, '-K', '|'], `${lines.join('\n')}\n`);
    expect(produced.code, produced.stderr).toBe(0);

    let out = '';
    const seen = await waitFor(async () => {
      const consumed = await kcat(['-C', '-b', stack.brokers[0]!, '-t', names.tierChanges, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n']);
      out = consumed.stdout;
      return out.trim().split('\n').filter((l) => l !== '').length >= 3;
    }, 30_000, 500);
    expect(seen, out).toBe(true);
    const changes = out
      .trim()
      .split('\n')
      .map((line) => {
        const [key, value] = line.split('\t');
        return { key, ...(JSON.parse(value!) as { eventId: string; newTier: string; direction: string }) };
      });
    expect(changes.map(({ key, eventId, newTier, direction }) => ({ key, eventId, newTier, direction })).sort((a, b) => (a.eventId < b.eventId ? -1 : 1))).toEqual([
      { key: 'alice', eventId: 'alice:1', newTier: 'vip', direction: 'NEW' },
      { key: 'bob', eventId: 'bob:1', newTier: 'small', direction: 'NEW' },
      { key: 'bob', eventId: 'bob:2', newTier: 'medium', direction: 'UP' },
    ]);
  });
});
