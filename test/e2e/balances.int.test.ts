import { resolve } from 'node:path';
import avro from 'avsc';
import kafkajs from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { averageDailyBalance } from '../../src/engine/balances.js';
import { windowTotals, firstCountedBucket } from '../../src/engine/aggregates.js';
import { isPyramidError } from '../../src/errors.js';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { writeSchemaFrame } from '../../src/kafka/wire-format.js';
import { loadContract, valueSubject } from '../../src/pipeline/decode-schemas.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { createRandom } from '../../src/simulator/random.js';
import { runSimulator } from '../../src/simulator/run.js';
import { StateStore } from '../../src/state/store.js';
import { cliEnv, startCli, type CliProcess } from '../cli/spawn-cli.js';
import { indexChanges } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const DAY = 86_400_000;
const BANK_CARDS = resolve(import.meta.dirname, '../../policies/bank-cards.yaml');

/** Names of one test, with its balances topic. */
function names(base: string): ReturnType<typeof uniqueNames> & { balances: string } {
  const n = uniqueNames(base);
  return { ...n, balances: `${n.keyPrefix}-balances` };
}

/** Records the state has passed on both inputs: Σ (transactions watermark + 1) + Σ (balances watermark + 1). */
async function appliedOnBoth(store: StateStore, topic: string, partitions: number): Promise<number> {
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    const meta = await store.readMeta(topic, p);
    total += (meta?.lastOffset ?? -1) + 1 + (meta?.balanceLastOffset ?? -1) + 1;
  }
  return total;
}

/**
 * What holds of a customer whatever the interleaving of the two topics: the aggregates at a fixed
 * instant (every record lies inside the window, so none is late in any order) and the accounts.
 */
async function aggregatesAt(store: StateStore, policy: CompiledPolicy, topic: string, partitions: number, at: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let p = 0; p < partitions; p++) {
    for await (const { customerId, state } of store.scanCustomers(topic, p)) {
      out.set(customerId, JSON.stringify({ ...windowTotals(state.buckets, firstCountedBucket(policy, at)), adb: averageDailyBalance(policy, state.balances, at), accounts: state.balances?.accounts ?? [] }));
    }
  }
  return out;
}

/** Read_committed changes are exactly once, and every customer's event ids run 1, 2, ... without a gap. */
function expectExactlyOnceAndContiguous(records: KafkaRecord[]): Map<string, string> {
  const { byId, repeated, conflicting } = indexChanges(records);
  expect(repeated).toBe(0);
  expect(conflicting).toEqual([]);
  const seqs = new Map<string, number[]>();
  for (const id of byId.keys()) {
    const at = id.lastIndexOf(':');
    const list = seqs.get(id.slice(0, at)) ?? [];
    list.push(Number(id.slice(at + 1)));
    seqs.set(id.slice(0, at), list);
  }
  for (const [customer, list] of seqs) expect(list.sort((a, b) => a - b), customer).toEqual(list.map((_, i) => i + 1));
  return byId;
}

describe('the balances topic', () => {
  const e2e = useE2eStack();

  it('with a partition count other than the transactions topic is refused at start-up, naming both topics and both counts', async () => {
    const n = names('copart');
    await createTopics(e2e.stack.brokers, [n.transactions], 3);
    await createTopics(e2e.stack.brokers, [n.balances], 2);
    const config = testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names: n, overrides: { topics: { transactions: n.transactions, tierChanges: n.tierChanges, dlq: n.dlq, balances: n.balances }, policyFile: BANK_CARDS } });
    const scorer = e2e.track(createScorer(config));
    const error = await scorer.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isPyramidError(error, 'CONFIG_INVALID')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(`the balances topic ${n.balances} (PYRAMID_TOPIC_BALANCES) has 2 partitions`);
    expect(message).toContain(`the transactions topic ${n.transactions} has 3`);
  });

  it('re-created with another partition count while the scorer runs: the next assignment stops it, naming both counts', async () => {
    const n = names('copart-live');
    await createTopics(e2e.stack.brokers, [n.transactions, n.balances], 2);
    const config = testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names: n, overrides: { topics: { transactions: n.transactions, tierChanges: n.tierChanges, dlq: n.dlq, balances: n.balances } } });
    const scorer = e2e.track(createScorer(config));
    await scorer.start();
    expect(await waitFor(() => scorer.assignment().length === 2, 30_000)).toBe(true);
    const admin = new kafkajs.Kafka({ brokers: e2e.stack.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [n.balances] });
    } finally {
      await admin.disconnect();
    }
    await createTopics(e2e.stack.brokers, [n.balances], 3);
    // Another member joining (with the same assignor) makes the group rebalance.
    const joiner = testKafka(e2e.stack.brokers).createConsumer({ groupId: n.groupId, coPartitioned: true, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 });
    await joiner.connect();
    await joiner.subscribe([n.transactions, n.balances]);
    await joiner.run(async () => undefined);
    try {
      const error = await scorer.done.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isPyramidError(error, 'TOPIC_INCARNATION_MISMATCH')).toBe(true);
      expect((error as Error).message).toContain(`the balances topic ${n.balances} (PYRAMID_TOPIC_BALANCES) has 3 partitions now, the transactions topic ${n.transactions} has 2`);
    } finally {
      await joiner.disconnect();
    }
  });

  it('is required by a policy that tests averageDailyBalance: refused at start-up, naming the field', async () => {
    const n = names('nobalances');
    await createTopics(e2e.stack.brokers, [n.transactions], 1);
    const scorer = e2e.track(createScorer(testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names: n, overrides: { policyFile: BANK_CARDS } })));
    const error = await scorer.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isPyramidError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('tiers[0].when.averageDailyBalance');
    expect((error as Error).message).toContain('PYRAMID_TOPIC_BALANCES');
  });

  it('Avro: balance snapshots and transactions of v1, v2 and v3 go through one state; bad snapshots to the DLQ', async () => {
    const n = names('avro-balances');
    await createTopics(e2e.stack.brokers, [n.transactions, n.balances], 2);
    const registry = createSchemaRegistryClient({ url: e2e.stack.registryUrl });
    const writer = async (topic: string, contract: 'transaction-v1' | 'transaction-v2' | 'transaction-v3' | 'balance-v1') => {
      const text = loadContract(contract);
      const id = await registry.registerAvro(valueSubject(topic), text);
      const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
      return (value: object): Buffer => writeSchemaFrame(id, type.toBuffer(value));
    };
    const [v1, v2, v3, balance] = [await writer(n.transactions, 'transaction-v1'), await writer(n.transactions, 'transaction-v2'), await writer(n.transactions, 'transaction-v3'), await writer(n.balances, 'balance-v1')];
    const start = Date.now() - 200 * DAY;
    const tx = { customerId: 'holder', kind: 'PURCHASE', amountMinor: 10_000, currency: 'CNY' };
    const producer = testKafka(e2e.stack.brokers).createProducer();
    await producer.send(n.transactions, [
      { key: 'holder', value: v1({ ...tx, transactionId: 't1', eventTime: start }) },
      { key: 'holder', value: v2({ ...tx, transactionId: 't2', eventTime: start + DAY, channel: 'POS', merchantCategory: '5411' }) },
      { key: 'holder', value: v3({ ...tx, transactionId: 't3', eventTime: start + 2 * DAY, channel: null, merchantCategory: null, profitMinor: -522 }) },
    ]);
    await producer.send(n.balances, [
      // 40,000,000.00 CNY for the first ten days: 10 / 365 of it is 1,095,890.41 on average.
      { key: 'holder', value: balance({ customerId: 'holder', accountId: 'deposit', balanceMinor: 4_000_000_000, currency: 'CNY', asOf: start }) },
      { key: 'holder', value: balance({ customerId: 'holder', accountId: 'deposit', balanceMinor: 0, currency: 'CNY', asOf: start + 10 * DAY }) },
      { key: 'someone-else', value: balance({ customerId: 'holder', accountId: 'x', balanceMinor: 1, currency: 'CNY', asOf: start }) },
      { key: 'holder', value: balance({ customerId: 'holder', accountId: 'not an id!', balanceMinor: 1, currency: 'CNY', asOf: start }) },
    ]);
    await producer.disconnect();

    const config = testConfig({
      brokers: e2e.stack.brokers,
      registryUrl: e2e.stack.registryUrl,
      redisUrl: inject('redisUrl'),
      names: n,
      overrides: { inputFormat: 'avro', outputFormat: 'json', clock: 'event', policyFile: BANK_CARDS, topics: { transactions: n.transactions, tierChanges: n.tierChanges, dlq: n.dlq, balances: n.balances } },
    });
    const scorer = e2e.track(createScorer(config));
    const outcomes = new Map<string, number>();
    scorer.instrumentation.on('consumer.records', (e) => outcomes.set(`${e.topic === n.balances ? 'balances' : 'transactions'} ${e.outcome}`, (outcomes.get(`${e.topic === n.balances ? 'balances' : 'transactions'} ${e.outcome}`) ?? 0) + e.count));
    await scorer.start();
    const store = scorer.store;
    const handled = (): number => [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(await waitFor(() => handled() === 3 + 4, 30_000), JSON.stringify([...outcomes])).toBe(true);
    expect(Object.fromEntries(outcomes)).toEqual({ 'transactions scored': 3, 'balances scored': 2, 'balances dlq': 2 });
    const dlq = await readTopic(e2e.stack.brokers, n.dlq, (r) => r.length >= 2, 30_000);
    const classes = dlq.map((r) => `${r.headers['pyramid.source.topic']?.toString()} ${r.headers['pyramid.error.class']?.toString()} ${r.headers['pyramid.error.message']?.toString()}`).sort();
    expect(classes).toEqual([`${n.balances} KEY_MISMATCH key: the record key differs; producers must key balance snapshots by customerId`, `${n.balances} VALIDATION_FAILED accountId: must be 1..64 letters, digits, "_", "." or "-"`].sort());

    const policy = await loadPolicyFile(BANK_CARDS);
    let holder = null;
    for (const p of [0, 1]) holder ??= await store.readCustomer(n.transactions, p, 'holder');
    const now = start + 10 * DAY;
    expect(windowTotals(holder?.buckets ?? [], firstCountedBucket(policy, now))).toEqual({ monetary: 30_000, frequency: 3, profit: -522 });
    // The deposit held for exactly ten days of the window.
    expect(averageDailyBalance(policy, holder?.balances, now)).toBe(Math.floor(40_000_000_000 / 365));
    const changes = (await readTopic(e2e.stack.brokers, n.tierChanges, (r) => r.some((c) => JSON.parse(c.value!.toString()).newTier === 'black-gold'), 30_000)).map(
      (r) => JSON.parse(r.value!.toString()) as { newTier: string; previousTier: string | null; cause: string; direction: string },
    );
    // Which input applies first is up to the fetches; either way the card climbs to black-gold.
    const ranks = ['silver', 'gold', 'platinum', 'black-gold'];
    expect(changes[changes.length - 1]?.newTier).toBe('black-gold');
    expect(changes.map((c) => ranks.indexOf(c.newTier))).toEqual([...changes.map((c) => ranks.indexOf(c.newTier))].sort((a, b) => a - b));
    expect(changes.every((c, i) => c.previousTier === (i === 0 ? null : changes[i - 1]?.newTier))).toBe(true);
    expect(changes.slice(1).every((c) => c.direction === 'UP' && (c.cause === 'TIME' || c.cause === 'BALANCE'))).toBe(true);
  });

  it('JSON: a scorer process SIGKILLed at random moments and restarted scores both topics exactly once', async () => {
    const PARTITIONS = 3;
    const n = names('crash-balances');
    await createTopics(e2e.stack.brokers, [n.transactions, n.balances], PARTITIONS);
    const producer = testKafka(e2e.stack.brokers).createProducer();
    const events = 30_000;
    const start = Date.now() - 250 * DAY;
    const sim = await runSimulator({ producer, topic: n.transactions, balances: { topic: n.balances, ratio: 0.2 }, format: 'json', schemaVersion: 'v3', seed: 13, customers: 1_500, count: events, startTime: start, spacingMs: (200 * DAY) / events, batchSize: 2_000 });
    await producer.disconnect();
    expect(sim.balances).toBeGreaterThan(sim.sent * 0.19);
    const policy = await loadPolicyFile(BANK_CARDS);
    const at = start + 240 * DAY;

    const env = (m: ReturnType<typeof names>): Record<string, string> =>
      cliEnv({
        brokers: e2e.stack.brokers,
        redisUrl: inject('redisUrl'),
        names: { ...m, transactions: n.transactions },
        extra: { PYRAMID_CLOCK: 'event', PYRAMID_TOPIC_BALANCES: n.balances, PYRAMID_POLICY_FILE: BANK_CARDS, PYRAMID_CONSUMER_MAX_BYTES_PER_PARTITION: '32768', PYRAMID_CONSUMER_CONCURRENCY: '2' },
      });

    // The uninterrupted run.
    const reference = names('crash-balances-ref');
    const referenceStore = new StateStore({ redis: e2e.redis, prefix: reference.keyPrefix, partitionCount: PARTITIONS });
    let cli: CliProcess = startCli(['run'], env(reference));
    expect(await waitFor(async () => (await appliedOnBoth(referenceStore, n.transactions, PARTITIONS)) === sim.sent, 120_000, 200), cli.stderr()).toBe(true);
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);
    const expected = await aggregatesAt(referenceStore, policy, n.transactions, PARTITIONS, at);
    expect(expected.size).toBeGreaterThan(1_000);

    // The crashed one.
    const crashed = names('crash-balances-kill');
    const store = new StateStore({ redis: e2e.redis, prefix: crashed.keyPrefix, partitionCount: PARTITIONS });
    const random = createRandom(Date.now() % 2 ** 32);
    let kills = 0;
    cli = startCli(['run'], env(crashed));
    for (let k = 1; k <= 4; k++) {
      const target = Math.floor((sim.sent * (k + random.next() * 0.8)) / 5);
      expect(await waitFor(async () => (await appliedOnBoth(store, n.transactions, PARTITIONS)) >= target || cli.child.exitCode !== null, 90_000, 10)).toBe(true);
      expect(cli.child.exitCode, cli.stderr()).toBeNull();
      if ((await appliedOnBoth(store, n.transactions, PARTITIONS)) >= sim.sent) break;
      cli.child.kill('SIGKILL');
      expect(await cli.exited).toBe('SIGKILL');
      kills += 1;
      cli = startCli(['run'], env(crashed));
    }
    expect(await waitFor(async () => (await appliedOnBoth(store, n.transactions, PARTITIONS)) === sim.sent, 120_000, 200), cli.stderr()).toBe(true);
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(2);

    const got = await aggregatesAt(store, policy, n.transactions, PARTITIONS, at);
    expect(got.size).toBe(expected.size);
    expect([...got].filter(([id, text]) => expected.get(id) !== text)).toEqual([]);
    // Every change appended to an outbox reaches read_committed readers once.
    let appended = 0;
    for (let p = 0; p < PARTITIONS; p++) appended += (await store.readMeta(n.transactions, p))?.outboxSeq ?? 0;
    const published = expectExactlyOnceAndContiguous(await readTopic(e2e.stack.brokers, crashed.tierChanges, (r) => r.length >= appended, 60_000));
    expect(published.size).toBe(appended);
  }, 400_000);
});
