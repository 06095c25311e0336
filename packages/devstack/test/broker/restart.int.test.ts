import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/unique.js';
import { startBrokerProcess, type BrokerProcess } from './broker-process.js';
import { kcat } from '../helpers/kcat.js';

const { Kafka, logLevel } = kafkajs;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('broker restart after SIGKILL', () => {
  it('keeps every acknowledged message exactly once and the committed group offsets', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let broker: BrokerProcess = await startBrokerProcess({ dataDir });
    cleanups.push(() => broker.stop());
    const port = broker.port;

    const kafka = new Kafka({
      brokers: [broker.address],
      clientId: uniqueName('restart'),
      logLevel: logLevel.NOTHING,
      // Generous: sends in flight at the kill must be retried until the broker is back, never
      // given up (a given-up idempotent batch would leave kafkajs's sequence numbers behind).
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const topic = uniqueName('restart');
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });

    // Committed offsets of a consumer group, to compare after the crash.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: `seed${i}`, value: `seed-${i}` })) });
    const groupId = uniqueName('restart-g');
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    await consumer.run({ autoCommitThreshold: 1, eachMessage: async () => void seen++ });
    await until(() => seen >= 30, 30_000, 'the group to consume the seed messages');
    await consumer.disconnect();
    const committedBefore = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committedBefore[0]?.partitions.reduce((s, p) => s + Number(p.offset), 0)).toBe(30);

    // Produce load with acks=all; remember what was acknowledged.
    const acked: string[] = [];
    let failures = 0;
    let stop = false;
    const load = (async () => {
      for (let n = 0; !stop; n++) {
        const values = Array.from({ length: 20 }, (_, i) => `m-${n}-${i}`);
        try {
          await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
          acked.push(...values);
        } catch {
          failures++;
        }
      }
    })();
    await until(() => acked.length >= 2000, 60_000, '2000 acknowledged messages');
    await broker.kill();
    const ackedAtKill = acked.length;
    broker = await startBrokerProcess({ dataDir, port });
    await until(() => acked.length >= ackedAtKill + 1000, 60_000, 'acknowledgements after the restart');
    stop = true;
    await load;
    expect(failures).toBe(0);

    const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'], undefined, 60_000);
    const stored = out.stdout.trim().split('\n').filter((v) => v.startsWith('m-'));
    const counts = new Map<string, number>();
    for (const v of stored) counts.set(v, (counts.get(v) ?? 0) + 1);
    const missing = acked.filter((v) => !counts.has(v));
    const duplicated = [...counts].filter(([, c]) => c > 1).map(([v]) => v);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);

    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual(committedBefore);
    // The group resumes from its commit: it gets the load, not the 30 seed messages again.
    const again = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await again.connect();
    cleanups.push(() => again.disconnect());
    await again.subscribe({ topic });
    const resumed: string[] = [];
    await again.run({ eachMessage: async ({ message }) => void resumed.push(message.value?.toString() ?? '') });
    await until(() => resumed.length >= stored.length, 60_000, 'the group to consume the load');
    expect(resumed.filter((v) => v.startsWith('seed-'))).toEqual([]);
  });
});
