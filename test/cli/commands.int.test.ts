import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { inspectCustomer } from '../../src/pipeline/inspect.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { StateStore } from '../../src/state/store.js';
import { runSimulator } from '../../src/simulator/run.js';
import { createTopics, DEFAULT_POLICY, testKafka, uniqueNames, waitFor } from '../e2e/support.js';
import { freePort } from '../helpers/redis-server.js';
import { cliEnv, runCli, startCli } from './spawn-cli.js';

const EVENTS = 2_000;
const PARTITIONS = 2;

describe('pyramid run / inspect / report / replay', () => {
  let stack: DevStackHandle;
  const redis = new Redis(inject('redisUrl'));
  const names = uniqueNames('cli');
  let env: Record<string, string>;
  let store: StateStore;
  let policy: CompiledPolicy;
  const customers = new Set<string>();
  const inspect = (on: StateStore, customerId: string) => inspectCustomer({ store: on, policy, clock: 'event', topic: names.transactions, customerId });

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    await createTopics(stack.brokers, [names.transactions], PARTITIONS);
    const producer = testKafka(stack.brokers).createProducer();
    await runSimulator({ producer, topic: names.transactions, format: 'json', seed: 3, customers: 80, count: EVENTS, startTime: Date.now() - 100 * 86_400_000, spacingMs: 3_600_000 });
    await producer.disconnect();
    env = cliEnv({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } });
    policy = await loadPolicyFile(DEFAULT_POLICY);
    store = new StateStore({ redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
  });
  afterAll(async () => {
    await stack.close();
    redis.disconnect();
  });

  it('run scores the topic and exits 0 on SIGTERM after flushing the outbox', async () => {
    const port = await freePort();
    const run = startCli(['run'], { ...env, PYRAMID_HTTP_PORT: String(port) });
    const caughtUp = await waitFor(async () => {
      for (let p = 0; p < PARTITIONS; p++) {
        const meta = await store.readMeta(names.transactions, p);
        if (meta?.lastOffset == null) return false;
      }
      const applied = await Promise.all([0, 1].map((p) => redis.hget(store.keys(names.transactions, p).meta, 'wo')));
      const admin = testKafka(stack.brokers).createAdmin();
      await admin.connect();
      const ends = await admin.topicOffsets(names.transactions);
      await admin.disconnect();
      return ends.every((e) => Number(applied[e.partition]) === Number(e.high) - 1);
    }, 60_000, 250);
    expect(caughtUp, run.stderr()).toBe(true);
    // The ops surface of the running scorer.
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status, await ready.clone().text()).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: { ok: true }, 'kafka-group': { ok: true } } });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`pyramid_consumer_records_processed_total\\{[^}]*outcome="scored"[^}]*\\} \\d+`));
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    for (let p = 0; p < PARTITIONS; p++) expect(await redis.xlen(store.keys(names.transactions, p).outbox)).toBe(0);
    for (let p = 0; p < PARTITIONS; p++) {
      for await (const { customerId } of store.scanCustomers(names.transactions, p)) customers.add(customerId);
    }
    expect(customers.size).toBeGreaterThan(50);
  });

  it('run exits 1 naming the missing input topic (it hung: the Redis connection opened before the failure kept the process alive)', async () => {
    const missing = uniqueNames('cli-missing');
    const result = await runCli(['run'], cliEnv({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names: missing }), 30_000);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`the input topic ${missing.transactions} does not exist (PYRAMID_TOPIC_TRANSACTIONS)`);
  });

  it('report with Redis unreachable exits 1 naming the cause (it said only "Connection is closed.")', async () => {
    const port = await freePort();
    const result = await runCli(['report'], { ...env, PYRAMID_REDIS_URL: `redis://127.0.0.1:${port}` }, 30_000);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`cannot connect to Redis at 127.0.0.1:${port}: connect ECONNREFUSED`);
  });

  it('inspect prints the stored tier; an unknown customer exits 2', async () => {
    const [customerId] = [...customers];
    const expected = await inspect(store, customerId!);
    const human = await runCli(['inspect', customerId!], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`tier            ${expected!.tier} since`);
    const json = await runCli(['inspect', customerId!, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ customerId, tier: expected!.tier, seq: expected!.seq, monetary: expected!.monetary });
    const unknown = await runCli(['inspect', 'nobody-at-all'], env);
    expect(unknown.code).toBe(2);
  });

  it('inspect and report read Redis only: no broker setting is needed', async () => {
    const { PYRAMID_KAFKA_BROKERS: _brokers, ...redisOnly } = env;
    const [customerId] = [...customers];
    const inspected = await runCli(['inspect', customerId!, '--json'], redisOnly);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ customerId });
    const report = await runCli(['report', '--json'], redisOnly);
    expect(report.code, report.stderr).toBe(0);
  });

  it('report counts every customer once, with revenue matching the inspected monetary', async () => {
    const result = await runCli(['report', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const census = JSON.parse(result.stdout) as { tiers: { tier: string; customers: number; revenueMinor: number }[] };
    expect(census.tiers.reduce((s, t) => s + t.customers, 0)).toBe(customers.size);
    const byTier = new Map<string, { customers: number; revenueMinor: number }>();
    for (const id of customers) {
      const c = (await inspect(store, id))!;
      const entry = byTier.get(c.tier) ?? { customers: 0, revenueMinor: 0 };
      entry.customers += 1;
      entry.revenueMinor += c.monetary;
      byTier.set(c.tier, entry);
    }
    for (const t of census.tiers) expect({ tier: t.tier, ...(byTier.get(t.tier) ?? { customers: 0, revenueMinor: 0 }) }).toEqual({ tier: t.tier, customers: t.customers, revenueMinor: t.revenueMinor });
    const table = await runCli(['report'], env);
    expect(table.stdout).toMatch(/tier\s+customers\s+share\s+revenue \(CNY\)\s+share\s+avg per customer/);
  });

  it('replay rebuilds the same state into a fresh prefix and refuses a prefix that holds state', async () => {
    const prefix = `${names.keyPrefix}-replay`;
    const result = await runCli(['replay', '--prefix', prefix, '--progress-every', '1'], env, 120_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/replay: 2000\/2000 records \(100\.0%\)/);
    const replayed = new StateStore({ redis, prefix, partitionCount: PARTITIONS });
    for (const id of customers) {
      const a = await inspect(store, id);
      const b = await inspect(replayed, id);
      expect({ id, tier: b?.tier, seq: b?.seq, monetary: b?.monetary }).toEqual({ id, tier: a?.tier, seq: a?.seq, monetary: a?.monetary });
    }
    const again = await runCli(['replay', '--prefix', prefix], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds state');
  });
});
