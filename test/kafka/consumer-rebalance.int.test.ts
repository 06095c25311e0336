import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentChange } from '../../src/kafka/consumer.js';
import { uniqueName } from '../helpers/unique.js';
import { startEmbeddedKafka, type EmbeddedKafka } from './embedded-broker.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('consumer wrapper during a rebalance (kafkajs #1046, #1097)', () => {
  it('turns an in-flight batch stale, refuses its commit, and announces the revocation', async () => {
    const topic = uniqueName('tx');
    const groupId = uniqueName('group');
    const admin = env.kafka.createAdmin();
    const producer = env.kafka.createProducer();
    await admin.connect();
    await admin.ensureTopics([{ topic, numPartitions: 2 }]);
    await producer.send(topic, [
      { key: 'a', value: '1', partition: 0 },
      { key: 'b', value: '2', partition: 1 },
    ]);

    const options = { groupId, heartbeatIntervalMs: 200, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000 };
    const first = env.kafka.createConsumer(options);
    const second = env.kafka.createConsumer(options);
    const changes: AssignmentChange[] = [];
    first.onAssignmentChange((change) => changes.push(change));
    let inFlight = false;
    let sawStale = false;
    let commitAfterStale: boolean | undefined;

    try {
      await first.connect();
      await first.subscribe([topic]);
      await first.run(async (_batch, control) => {
        if (commitAfterStale !== undefined) return;
        inFlight = true;
        // A long batch that keeps heartbeating, as the loop does between stages.
        const deadline = Date.now() + 25_000;
        while (!control.isStale() && Date.now() < deadline) {
          await control.heartbeat();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        sawStale = control.isStale();
        commitAfterStale = await control.commit();
      });
      await until(() => inFlight, 'the first batch');
      expect(first.assignment()).toHaveLength(2);

      await second.connect();
      await second.subscribe([topic]);
      await second.run(async () => undefined);

      await until(() => commitAfterStale !== undefined, 'the stale batch to finish');
      expect(sawStale).toBe(true);
      expect(commitAfterStale).toBe(false);
      await until(() => changes.some((c) => c.kind === 'revoked'), 'the revocation');
      await until(() => changes.filter((c) => c.kind === 'assigned').length >= 2, 'the re-assignment');

      const revoked = changes.find((c) => c.kind === 'revoked');
      const reassigned = changes.filter((c) => c.kind === 'assigned')[1];
      expect(revoked?.partitions).toHaveLength(2);
      expect(reassigned?.generation).toBeGreaterThan(revoked?.generation ?? Infinity);
      await until(() => first.assignment().length === 1 && second.assignment().length === 1, 'a split assignment');
    } finally {
      await first.disconnect();
      await second.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
