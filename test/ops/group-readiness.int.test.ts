import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '@pyramid/devstack';
import { Instrumentation } from '../../src/instrumentation.js';
import { createKafkaClient } from '../../src/kafka/client.js';
import type { PyramidConsumer } from '../../src/kafka/consumer.js';
import { kafkaGroupProbe, type ProbeResult } from '../../src/pipeline/readiness-probes.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { waitFor } from '../e2e/support.js';
import { uniqueName } from '../helpers/unique.js';
import { startEmbeddedKafka, type EmbeddedKafka } from '../kafka/embedded-broker.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function topicWithRecords(partitions: number): Promise<string> {
  const topic = uniqueName('ready-tx');
  const admin = env.kafka.createAdmin();
  const producer = env.kafka.createProducer();
  await admin.connect();
  await admin.ensureTopics([{ topic, numPartitions: partitions }]);
  await producer.send(
    topic,
    Array.from({ length: partitions }, (_, partition) => ({ key: `k${partition}`, value: 'v', partition })),
  );
  await producer.disconnect();
  await admin.disconnect();
  return topic;
}

/** A consumer wrapped like the scorer's, with the readiness probe the scorer gives it. */
async function member(topic: string, partitionCount: number, groupId: string, bus = new Instrumentation()) {
  const admin = env.kafka.createAdmin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const consumer: PyramidConsumer = env.kafka.createConsumer({ groupId, heartbeatIntervalMs: 200, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, instrumentation: bus });
  cleanups.push(() => consumer.disconnect());
  const probe = kafkaGroupProbe(bus, { topic, partitionCount, describeGroup: () => admin.describeGroup(groupId) });
  cleanups.push(async () => probe.close());
  await consumer.connect();
  await consumer.subscribe([topic]);
  return { bus, consumer, probe };
}

describe('readiness follows the consumer (regression: /readyz said "member of the group" while kafkajs restarted a crashed consumer)', () => {
  it('is not ready from a crash that kafkajs restarts until the consumer has rejoined, and counts the crash', async () => {
    const topic = await topicWithRecords(2);
    const groupId = uniqueName('ready-group');
    const { bus, consumer, probe } = await member(topic, 2, groupId);
    const metrics = createMetrics(bus, { collectDefaults: false });
    cleanups.push(async () => metrics.close());
    const atCrash: Array<Promise<ProbeResult>> = [];
    // The probe reads its state before its first await, so this is readiness at the crash itself.
    bus.on('consumer.crash', () => atCrash.push(probe.check()));

    let failing = true;
    let handledAfterRestart = 0;
    await consumer.run(async () => {
      if (failing) {
        failing = false;
        // What kafkajs throws itself after a protocol error it retried: a non-retriable wrapper
        // around a retriable cause. kafkajs crashes at once and restarts the consumer.
        throw Object.assign(new Error('fetch failed'), { name: 'KafkaJSNonRetriableError', retriable: false, cause: Object.assign(new Error('broker went away'), { retriable: true }) });
      }
      handledAfterRestart += 1;
    });

    expect(await waitFor(() => atCrash.length > 0, 30_000, 20)).toBe(true);
    const crashed = await atCrash[0];
    expect(crashed?.ok).toBe(false);
    expect(crashed?.detail).toMatch(/^consumer crashed, kafkajs is restarting it: .*fetch failed/);

    // Back on its own: kafkajs restarts the consumer, it rejoins, takes its partitions and works.
    expect(await waitFor(async () => (await probe.check()).ok && handledAfterRestart > 0, 30_000, 50)).toBe(true);
    expect(await probe.check()).toEqual({ ok: true, detail: `member of ${groupId}, 2 partitions` });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`pyramid_consumer_crashes_total{group="${groupId}",restarting="true"} 1`);
    expect(text).toContain(`pyramid_consumer_group_member{group="${groupId}"} 1`);

    await consumer.stop();
    expect(await probe.check()).toEqual({ ok: false, detail: `left ${groupId}: stopped` });
    expect(await metrics.registry.metrics()).toContain(`pyramid_consumer_group_member{group="${groupId}"} 0`);
  }, 60_000);

  it('is not ready while the broker is down (kafkajs crashes and restarts the consumer), and ready again once it is back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ready-outage-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    let broker = await startBroker({ port: 0, dataDir, autoCreateTopics: false });
    const port = broker.port;
    cleanups.push(() => broker.close());
    const kafka = createKafkaClient({ brokers: [broker.address], clientId: uniqueName('ready-outage'), tls: { enabled: false, rejectUnauthorized: true } });
    const topic = uniqueName('ready-tx');
    const groupId = uniqueName('ready-group');
    const admin = kafka.createAdmin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await admin.ensureTopics([{ topic, numPartitions: 2 }]);
    const bus = new Instrumentation();
    const metrics = createMetrics(bus, { collectDefaults: false });
    cleanups.push(async () => metrics.close());
    const consumer = kafka.createConsumer({ groupId, heartbeatIntervalMs: 200, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, instrumentation: bus });
    cleanups.push(() => consumer.disconnect());
    const probe = kafkaGroupProbe(bus, { topic, partitionCount: 2, describeGroup: () => admin.describeGroup(groupId) });
    cleanups.push(async () => probe.close());
    const crashes: boolean[] = [];
    bus.on('consumer.crash', (e) => crashes.push(e.restarting));
    await consumer.connect();
    await consumer.subscribe([topic]);
    await consumer.run(() => Promise.resolve());
    expect(await waitFor(async () => (await probe.check()).ok, 30_000, 50)).toBe(true);

    await broker.close();
    expect(await waitFor(() => crashes.length > 0, 60_000, 50)).toBe(true);
    expect(crashes[0]).toBe(true);
    const down = await probe.check();
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/^consumer crashed, kafkajs is restarting it: /);
    expect(await metrics.registry.metrics()).toContain(`pyramid_consumer_group_member{group="${groupId}"} 0`);

    broker = await startBroker({ port, dataDir, autoCreateTopics: false });
    expect(await waitFor(async () => (await probe.check()).ok, 90_000, 100)).toBe(true);
    expect(await probe.check()).toEqual({ ok: true, detail: `member of ${groupId}, 2 partitions` });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`pyramid_consumer_crashes_total\\{group="${groupId}",restarting="true"\\} [1-9]`));
    expect(text).toContain(`pyramid_consumer_group_member{group="${groupId}"} 1`);
  }, 180_000);

  it('keeps an idle member of a group with more members than partitions ready, and says so', async () => {
    const topic = await topicWithRecords(1);
    const groupId = uniqueName('ready-group');
    const a = await member(topic, 1, groupId);
    const b = await member(topic, 1, groupId);
    const held = new Map<string, number>();
    for (const [name, m] of [['a', a], ['b', b]] as const) m.bus.on('consumer.group_joined', (e) => held.set(name, e.partitions));
    await a.consumer.run(() => Promise.resolve());
    await b.consumer.run(() => Promise.resolve());
    // One holds the partition, the other nothing, in the same generation.
    expect(await waitFor(() => [...held.values()].sort().join() === '0,1' && a.consumer.assignment().length + b.consumer.assignment().length === 1, 30_000, 50)).toBe(true);

    const idle = held.get('a') === 0 ? a : b;
    const busy = idle === a ? b : a;
    expect(await waitFor(async () => (await idle.probe.check()).ok, 15_000, 100)).toBe(true);
    expect(await idle.probe.check()).toEqual({ ok: true, detail: `member of ${groupId}: idle member: all 1 partitions of ${topic} are held by the other 1 members` });
    expect(await busy.probe.check()).toEqual({ ok: true, detail: `member of ${groupId}, 1 partitions` });
  }, 60_000);
});
