import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/unique.js';
import { startEmbeddedKafka, type EmbeddedKafka } from './embedded-broker.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});

const SESSION_MS = 6_000;

/**
 * One batch whose single step outlasts the session timeout; returns whether the member could
 * still commit afterwards.
 */
async function longBatch(keepAlive: boolean): Promise<{ staleBeforeCommit: boolean; committed: boolean }> {
  const topic = uniqueName('tx');
  const admin = env.kafka.createAdmin();
  const producer = env.kafka.createProducer();
  const consumer = env.kafka.createConsumer({ groupId: uniqueName('group'), sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 500, rebalanceTimeoutMs: SESSION_MS });
  await admin.connect();
  try {
    await admin.ensureTopics([{ topic, numPartitions: 1 }]);
    await producer.send(topic, [{ key: 'c', value: 'v' }]);
    await consumer.connect();
    await consumer.subscribe([topic]);
    return await new Promise((resolve, reject) => {
      let done = false;
      void consumer
        .run(async (_batch, control) => {
          if (done) return;
          done = true;
          const step = new Promise((r) => setTimeout(r, SESSION_MS + 2_500));
          await (keepAlive ? control.keepAlive(step) : step);
          const staleBeforeCommit = control.isStale();
          resolve({ staleBeforeCommit, committed: await control.commit() });
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  }
}

describe.concurrent('a step longer than the session timeout (kafkajs #1083)', () => {
  it('keeps the membership when awaited through keepAlive', async () => {
    expect(await longBatch(true)).toEqual({ staleBeforeCommit: false, committed: true });
  });

  it('loses it without (regression: kafkajs wraps UNKNOWN_MEMBER_ID), and the commit is refused, not thrown', async () => {
    const outcome = await longBatch(false);
    expect(outcome.committed).toBe(false);
  });
});
