import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { OutgoingRecord } from '../../src/kafka/types.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { StateStore } from '../../src/state/store.js';
import { cliEnv, runCli } from '../cli/spawn-cli.js';
import { directMoves } from '../pipeline/policy-population.js';
import { shippedPolicy } from '../policy/fixtures.js';
import { loweredPolicy, loweredPolicyText, seedPopulation } from './policy-seed.js';
import { appliedPosition } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const PARTITIONS = 8;
const CUSTOMERS_PER_PARTITION = 12_500;
const FLOWING_PER_PARTITION = 100;
const DAY = 86_400_000;

interface Change {
  eventId: string;
  customerId: string;
  previousTier: string | null;
  newTier: string;
  cause: string;
  policyVersion: string;
  previousPolicyVersion: string | null;
}

const seqOf = (eventId: string): number => Number(eventId.slice(eventId.lastIndexOf(':') + 1));

/**
 * The first check of the policy issue: the move matrix `pyramid policy diff` reports equals, cell
 * for cell, the POLICY events `pyramid policy apply` then produces, on 100k customers over 8
 * partitions scored by 3 running scorers while transactions keep flowing.
 *
 * Exact by construction: the population is seeded (see seedPopulation) and the diff taken before
 * any transaction flows; the transactions flowing before, during and after the apply are all for
 * customers the population does not have (`f<p>-<k>`), so the diff never saw them and the seeded
 * customers' state is exactly what the diff evaluated (event clock: the flowing transactions are
 * dated at or before the partitions' watermark, which so stays where the diff evaluated). The
 * flowing customers are accounted for on their own: whether a partition switched before or after
 * their transactions, each gets at most one POLICY event, their event chain is consistent across
 * the switch, and they end on the new policy's tier like everyone else.
 */
describe('policy apply on 100k customers, 3 scorers, transactions flowing', () => {
  const e2e = useE2eStack();
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-policy-apply-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the POLICY events equal the move matrix of the diff taken before the apply, cell for cell', async () => {
    const started = Date.now();
    const names = uniqueNames('policy-apply');
    const brokers = e2e.stack.brokers;
    await createTopics(brokers, [names.transactions], PARTITIONS);
    const store = new StateStore({ redis: e2e.redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
    const old = shippedPolicy('default');
    const end = Date.now() - DAY;
    await seedPopulation(store, names.transactions, old, PARTITIONS, CUSTOMERS_PER_PARTITION, end);
    const seeded = Date.now();

    const config = testConfig({ brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'event' } });
    const scorers: Scorer[] = [];
    for (let i = 0; i < 3; i++) {
      const scorer = e2e.track(createScorer(config, { tuning: { policyPollMs: 500, reevaluationIntervalMs: 20 } }));
      await scorer.start();
      scorers.push(scorer);
    }
    const spread = (): boolean => scorers.every((s) => s.assignment().length > 0) && new Set(scorers.flatMap((s) => s.assignment().map((tp) => tp.partition))).size === PARTITIONS;
    expect(await waitFor(spread, 60_000)).toBe(true);

    // The diff, through the command operators run, before anything flows.
    const file = join(dir, 'lowered.yaml');
    writeFileSync(file, loweredPolicyText('lowered-100k'));
    const env = cliEnv({ brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } });
    const diff = await runCli(['policy', 'diff', file, '--json', '--pause', '0', '--page-size', '2000'], env);
    expect(diff.code, diff.stderr).toBe(0);
    const matrix = JSON.parse(diff.stdout) as { customers: number; moving: number; cells: { from: string; to: string; customers: number }[] };
    expect(matrix.customers).toBe(PARTITIONS * CUSTOMERS_PER_PARTITION);
    const expected = new Map(matrix.cells.filter((c) => c.from !== c.to).map((c) => [`${c.from}>${c.to}`, c.customers]));
    expect(expected.size).toBeGreaterThanOrEqual(3);
    expect(matrix.moving).toBeGreaterThan(10_000);

    // Transactions for customers the population does not have, flowing until told to stop.
    const producer = testKafka(brokers).createProducer();
    let flowing = true;
    let produced = 0;
    let round = 0;
    const flow = (async () => {
      while (flowing) {
        const records: OutgoingRecord[] = [];
        for (let p = 0; p < PARTITIONS; p++) {
          for (let k = round % 4; k < FLOWING_PER_PARTITION; k += 4) {
            const customerId = `f${p}-${k}`;
            const amountMinor = 100_000 + ((round * 7919 + k * 104_729) % 2_000_000);
            const value = { transactionId: `flow-${round}-${p}-${k}`, customerId, kind: 'PURCHASE', amountMinor, currency: 'CNY', eventTime: end - ((round + k) % 30) * DAY };
            records.push({ key: customerId, value: JSON.stringify(value), partition: p });
          }
        }
        await producer.send(names.transactions, records);
        produced += records.length;
        round += 1;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    expect(await waitFor(async () => (await appliedPosition(e2e.redis, store, names.transactions, PARTITIONS)) > 2_000, 60_000)).toBe(true);

    const applied = await runCli(['policy', 'apply', file], env);
    expect(applied.code, applied.stderr).toBe(0);
    const next = loweredPolicy('lowered-100k');
    const done = async (): Promise<boolean> => {
      for (let p = 0; p < PARTITIONS; p++) {
        const meta = await store.readMeta(names.transactions, p);
        if (meta?.policyVersion !== next.version || meta.reevaluationCursor !== null) return false;
      }
      return true;
    };
    expect(await waitFor(done, 90_000, 200)).toBe(true);
    // All three scorers were running through the switch, each on its own partitions.
    expect(spread()).toBe(true);
    expect(scorers.every((s) => s.policy.version === next.version)).toBe(true);
    flowing = false;
    await flow;
    await producer.disconnect();
    expect(await waitFor(async () => (await appliedPosition(e2e.redis, store, names.transactions, PARTITIONS)) === produced, 60_000)).toBe(true);
    let appended = 0;
    for (let p = 0; p < PARTITIONS; p++) appended += (await store.readMeta(names.transactions, p))?.outboxSeq ?? 0;
    const records = await readTopic(brokers, names.tierChanges, (r) => r.length >= appended, 60_000);
    expect(records).toHaveLength(appended);
    const changes = records.map((r) => JSON.parse(r.value!.toString()) as Change);

    // The population: exactly the diff's cells, one event per moving customer, both versions.
    const seededPolicy = changes.filter((c) => c.cause === 'POLICY' && c.customerId.startsWith('s'));
    const cells = new Map<string, number>();
    for (const c of seededPolicy) cells.set(`${c.previousTier}>${c.newTier}`, (cells.get(`${c.previousTier}>${c.newTier}`) ?? 0) + 1);
    expect(cells).toEqual(expected);
    expect(new Set(seededPolicy.map((c) => c.customerId)).size).toBe(seededPolicy.length);
    expect(changes.filter((c) => c.customerId.startsWith('s') && c.cause !== 'POLICY')).toEqual([]);
    expect(new Set(changes.filter((c) => c.cause === 'POLICY').map((c) => `${c.previousPolicyVersion}>${c.policyVersion}`))).toEqual(new Set([`${old.version}>${next.version}`]));

    // The flowing customers: each chain of events continues where the last one left, is on the
    // old policy until at most one POLICY event (or a first event under the new policy), then on
    // the new one.
    const flowingChains = new Map<string, Change[]>();
    for (const c of changes.filter((x) => x.customerId.startsWith('f'))) flowingChains.set(c.customerId, [...(flowingChains.get(c.customerId) ?? []), c]);
    expect(flowingChains.size).toBe(PARTITIONS * FLOWING_PER_PARTITION);
    let flowingPolicy = 0;
    for (const [customerId, chain] of flowingChains) {
      chain.sort((a, b) => seqOf(a.eventId) - seqOf(b.eventId));
      expect(chain.map((c) => seqOf(c.eventId)), customerId).toEqual(chain.map((_, i) => i + 1));
      chain.forEach((c, i) => expect(c.previousTier, c.eventId).toBe(i === 0 ? null : chain[i - 1]!.newTier));
      const firstNew = chain.findIndex((c) => c.policyVersion === next.version);
      const versions = chain.map((c) => c.policyVersion);
      expect(versions.slice(0, firstNew < 0 ? chain.length : firstNew).every((v) => v === old.version), customerId).toBe(true);
      if (firstNew >= 0) expect(versions.slice(firstNew).every((v) => v === next.version), customerId).toBe(true);
      const policyEvents = chain.filter((c) => c.cause === 'POLICY');
      expect(policyEvents.length, customerId).toBeLessThanOrEqual(1);
      // A POLICY event only re-tiers a customer that was scored under the old policy.
      if (policyEvents.length === 1) expect(chain.indexOf(policyEvents[0]!), customerId).toBe(firstNew);
      flowingPolicy += policyEvents.length;
    }

    // Everyone, flowing customers included, ends on the tier the new policy gives.
    const after = await directMoves(e2e.redis, store, names.transactions, PARTITIONS, next);
    expect([...after.keys()].filter((key) => key.split('>')[0] !== key.split('>')[1])).toEqual([]);
    console.error(
      `policy apply check: ${matrix.customers} customers, ${matrix.moving} moved by POLICY events equal to the diff in ${expected.size} cells; ` +
        `${produced} transactions flowed for ${flowingChains.size} other customers (${flowingPolicy} of them re-tiered by POLICY); ` +
        `seeded in ${((seeded - started) / 1000).toFixed(1)} s, whole check ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 240_000);
});
