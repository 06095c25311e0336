import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerPlugin } from '../../src/broker/broker-plugin.js';
import type { BrokerContext } from '../../src/broker/context.js';
import { groupCoordinatorPlugin } from '../../src/broker/group/plugin.js';
import { startBroker } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { startBrokerProcess, type BrokerProcess } from './broker-process.js';
import { call } from './group-wire.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { RawConnection } from './raw-client.js';

const PARTITIONS = 2;
/** Old messages per partition: the stale committed offset a re-created topic must not inherit. */
const OLD_PER_PARTITION = 3;
/** New messages per partition: more than the stale offset, so resuming from it would skip 0..2. */
const NEW_PER_PARTITION = 5;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'broker-delete-offsets-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function connectedAdmin(kafka: Kafka): Promise<Admin> {
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  return admin;
}

async function produce(kafka: Kafka, topic: string, perPartition: number, prefix: string): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const messages = [];
    for (let p = 0; p < PARTITIONS; p++) {
      for (let i = 0; i < perPartition; i++) messages.push({ partition: p, value: `${prefix}-${p}-${i}` });
    }
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/**
 * Consumes `topics` as a member of `groupId` (committing after every message) until `expected`
 * messages arrived, then leaves the group. Returns `topic/partition@offset=value` per message.
 */
async function consumeInGroup(kafka: Kafka, groupId: string, topics: string[], expected: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const got: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${expected} messages`)), 30_000);
      void consumer.run({
        autoCommitThreshold: 1,
        eachMessage: async ({ topic, partition, message }) => {
          got.push(`${topic}/${partition}@${message.offset}=${message.value?.toString() ?? ''}`);
          if (got.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    // Leaving commits what was resolved, so the offsets are on the broker when this returns.
    await consumer.disconnect();
  }
  return got.sort();
}

/** Committed offset per partition, as `admin.fetchOffsets` reports it. */
async function committed(admin: Admin, groupId: string, topic: string): Promise<string[]> {
  const [answer] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (answer?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.offset);
}

function expectedMessages(topic: string, perPartition: number, prefix: string): string[] {
  const out: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < perPartition; i++) out.push(`${topic}/${p}@${i}=${prefix}-${p}-${i}`);
  }
  return out.sort();
}

/**
 * Group G consumes (and commits) topic T and a second topic U, and the commits are checked. U is
 * there to prove the deletion forgets only T.
 */
async function commitOldOffsets(kafka: Kafka, admin: Admin, groupId: string, topic: string, other: string): Promise<void> {
  await admin.createTopics({ topics: [topic, other].map((t) => ({ topic: t, numPartitions: PARTITIONS })) });
  await produce(kafka, topic, OLD_PER_PARTITION, 'old');
  await produce(kafka, other, OLD_PER_PARTITION, 'other');
  const got = await consumeInGroup(kafka, groupId, [topic, other], 2 * PARTITIONS * OLD_PER_PARTITION);
  expect(got).toEqual([...expectedMessages(topic, OLD_PER_PARTITION, 'old'), ...expectedMessages(other, OLD_PER_PARTITION, 'other')].sort());
  const old = Array<string>(PARTITIONS).fill(String(OLD_PER_PARTITION));
  expect(await committed(admin, groupId, topic)).toEqual(old);
  expect(await committed(admin, groupId, other)).toEqual(old);
}

/** T exists again with new messages: G has nothing committed for it and reads it from offset 0. */
async function expectFreshStart(kafka: Kafka, admin: Admin, groupId: string, topic: string, other: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  expect(await committed(admin, groupId, topic)).toEqual(Array<string>(PARTITIONS).fill('-1'));
  // The other topic's offsets are untouched.
  expect(await committed(admin, groupId, other)).toEqual(Array<string>(PARTITIONS).fill(String(OLD_PER_PARTITION)));
  await produce(kafka, topic, NEW_PER_PARTITION, 'new');
  const got = await consumeInGroup(kafka, groupId, [topic], PARTITIONS * NEW_PER_PARTITION);
  expect(got).toEqual(expectedMessages(topic, NEW_PER_PARTITION, 'new'));
}

describe('DeleteTopics and committed group offsets', () => {
  it('forgets the committed offsets of a deleted topic, so a re-created topic is read from offset 0', async () => {
    const broker = await startBroker({ port: 0, dataDir: tempDir() });
    cleanups.push(() => broker.close());
    const kafka = kafkaClient(broker.address);
    const admin = await connectedAdmin(kafka);
    const [topic, other, groupId] = [uniqueName('del-t'), uniqueName('del-u'), uniqueName('del-g')];

    await commitOldOffsets(kafka, admin, groupId, topic, other);
    await admin.deleteTopics({ topics: [topic] });
    await expectFreshStart(kafka, admin, groupId, topic, other);
  });

  it('does the same without a data directory', async () => {
    const broker = await startBroker({ port: 0 });
    cleanups.push(() => broker.close());
    const kafka = kafkaClient(broker.address);
    const admin = await connectedAdmin(kafka);
    const [topic, other, groupId] = [uniqueName('del-t'), uniqueName('del-u'), uniqueName('del-g')];

    await commitOldOffsets(kafka, admin, groupId, topic, other);
    await admin.deleteTopics({ topics: [topic] });
    await expectFreshStart(kafka, admin, groupId, topic, other);
  });

  it('keeps the deletion of the offsets across a SIGKILL right after DeleteTopics answered', async () => {
    const dataDir = tempDir();
    let broker: BrokerProcess = await startBrokerProcess({ dataDir });
    cleanups.push(() => broker.stop());
    const [topic, other, groupId] = [uniqueName('del-t'), uniqueName('del-u'), uniqueName('del-g')];

    const before = kafkaClient(broker.address);
    const admin = before.admin();
    await admin.connect();
    await commitOldOffsets(before, admin, groupId, topic, other);
    await admin.deleteTopics({ topics: [topic] });
    await broker.kill();
    await admin.disconnect();

    broker = await startBrokerProcess({ dataDir });
    const after = kafkaClient(broker.address);
    await expectFreshStart(after, await connectedAdmin(after), groupId, topic, other);
  });
});

describe('BrokerPluginInstance.onTopicDeleted', () => {
  /** A plugin that records each hook call: whether the topic still existed, and when it ended. */
  function probePlugin(behaviour: 'slow' | 'throws'): { plugin: BrokerPlugin; calls: { topic: string; existed: boolean; finished: boolean }[] } {
    const calls: { topic: string; existed: boolean; finished: boolean }[] = [];
    let ctx: BrokerContext | null = null;
    const plugin: BrokerPlugin = {
      name: `probe-${behaviour}`,
      start(c) {
        ctx = c;
        return {
          handlers: [],
          async onTopicDeleted(topic) {
            const entry = { topic, existed: ctx?.topics.partitionCount(topic) !== undefined, finished: false };
            calls.push(entry);
            if (behaviour === 'throws') throw new Error('probe: cannot drop the topic state');
            // Yield to the event loop, so a handler that did not await the hook would answer first.
            await new Promise((r) => setTimeout(r, 50));
            entry.finished = true;
          },
        };
      },
    };
    return { plugin, calls };
  }

  it('runs after the log is removed and before DeleteTopics answers', async () => {
    const probe = probePlugin('slow');
    const broker = await startBroker({ port: 0, plugins: [groupCoordinatorPlugin(), probe.plugin] });
    cleanups.push(() => broker.close());
    const admin = await connectedAdmin(kafkaClient(broker.address));
    const topic = uniqueName('hook-t');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });

    await admin.deleteTopics({ topics: [topic] });
    expect(probe.calls).toEqual([{ topic, existed: false, finished: true }]);
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('is not called for a topic that did not exist', async () => {
    const probe = probePlugin('slow');
    const broker = await startBroker({ port: 0, plugins: [probe.plugin] });
    cleanups.push(() => broker.close());
    const conn = await RawConnection.open(broker.port);
    cleanups.push(() => void conn.socket.destroy());

    const r = await call(conn, ApiKey.DeleteTopics, 1, new Writer().writeArray([uniqueName('never-t')], (w, t) => w.writeString(t)).writeInt32(5_000));
    r.readInt32(); // throttle
    expect(r.readArray((a) => [a.readString(), a.readInt16()] as const)[0]?.[1]).toBe(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(probe.calls).toEqual([]);
  });

  it('answers KAFKA_STORAGE_ERROR when a hook fails, still runs the other hooks, and the topic stays deleted', async () => {
    const failing = probePlugin('throws');
    const after = probePlugin('slow');
    const broker = await startBroker({ port: 0, plugins: [failing.plugin, after.plugin] });
    cleanups.push(() => broker.close());
    const admin = await connectedAdmin(kafkaClient(broker.address));
    const topic = uniqueName('hook-fail-t');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const conn = await RawConnection.open(broker.port);
    cleanups.push(() => void conn.socket.destroy());

    const r = await call(conn, ApiKey.DeleteTopics, 1, new Writer().writeArray([topic], (w, t) => w.writeString(t)).writeInt32(5_000));
    r.readInt32(); // throttle
    expect(r.readArray((a) => [a.readString(), a.readInt16()] as const)).toEqual([[topic, KafkaErrorCode.KAFKA_STORAGE_ERROR]]);
    expect(failing.calls.map((c) => c.topic)).toEqual([topic]);
    expect(after.calls).toEqual([{ topic, existed: false, finished: true }]);
    expect(await admin.listTopics()).not.toContain(topic);
  });
});
