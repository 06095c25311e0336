import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupCoordinatorPlugin } from '../../src/broker/group/plugin.js';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { uniqueName } from '../helpers/unique.js';
import { kafkaClient } from './kafkajs-helpers.js';

const PARTITIONS = 6;
const TOTAL = 50_000;
const KEYS = 120;

/** Resolves once `condition` holds; fails with `what` if it does not within `timeoutMs`. */
async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Everything the consumers saw and committed, checked as it happens: first deliveries must come
 * in offset order with no gap, and a repeated delivery must lie at or above what the group had
 * committed for that partition when the latest rebalance began.
 */
class DeliveryLedger {
  /** Next offset never delivered before, per partition. */
  readonly nextNew = new Array<number>(PARTITIONS).fill(0);
  /** Highest offset (exclusive) the test's own commits reached, per partition. */
  readonly committed = new Array<number>(PARTITIONS).fill(0);
  /** `committed` as it was when the latest rebalance began. */
  private committedAtRebalance = new Array<number>(PARTITIONS).fill(0);
  private readonly lastSeqByKey: Map<string, number>;
  readonly violations: string[] = [];
  /** First deliveries per consumer. */
  readonly distinctBy = new Map<string, number>();
  distinct = 0;
  duplicates = 0;
  rebalances = 0;

  /** A ledger that expects deliveries to resume where `previous` stopped. */
  constructor(previous?: DeliveryLedger) {
    this.lastSeqByKey = new Map(previous?.lastSeqByKey);
    if (previous !== undefined) {
      this.nextNew.splice(0, PARTITIONS, ...previous.nextNew);
      this.committed.splice(0, PARTITIONS, ...previous.committed);
      this.committedAtRebalance = [...previous.committed];
    }
  }

  rebalanceBegins(): void {
    this.rebalances++;
    this.committedAtRebalance = [...this.committed];
  }

  deliver(consumer: string, partition: number, offset: number, key: string, value: string): void {
    const expected = this.nextNew[partition] as number;
    if (offset > expected) {
      this.violations.push(`p${partition}: offset ${offset} delivered before ${expected} (gap)`);
      return;
    }
    if (offset < expected) {
      this.duplicates++;
      const floor = this.committedAtRebalance[partition] as number;
      if (offset < floor) this.violations.push(`p${partition}: offset ${offset} redelivered although ${floor} was committed`);
      return;
    }
    this.nextNew[partition] = expected + 1;
    this.distinct++;
    this.distinctBy.set(consumer, (this.distinctBy.get(consumer) ?? 0) + 1);
    const [k, seqText] = value.split(':');
    const seq = Number(seqText);
    if (k !== key) this.violations.push(`p${partition}@${offset}: key ${key} carries value ${value}`);
    const last = this.lastSeqByKey.get(key) ?? -1;
    if (seq !== last + 1) this.violations.push(`key ${key}: sequence ${seq} after ${last}`);
    this.lastSeqByKey.set(key, seq);
  }

  commit(partition: number, nextOffset: number): void {
    this.committed[partition] = Math.max(this.committed[partition] as number, nextOffset);
  }
}

/** Sends `count` keyed messages `key-i : seq` continuing the per-key sequences in `seqByKey`. */
async function produceKeyed(kafka: Kafka, topic: string, from: number, count: number, seqByKey: Map<string, number>): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let start = from; start < from + count; start += 1000) {
      const messages = [];
      for (let i = start; i < Math.min(start + 1000, from + count); i++) {
        const key = `key-${i % KEYS}`;
        const seq = (seqByKey.get(key) ?? -1) + 1;
        seqByKey.set(key, seq);
        messages.push({ key, value: `${key}:${seq}` });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

describe('group coordinator with kafkajs consumers', () => {
  let dataDir: string;
  let broker: BrokerHandle;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pyramid-group-'));
    broker = await startBroker({ port: 0, dataDir, plugins: [groupCoordinatorPlugin()] });
  });

  afterAll(async () => {
    await broker?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers 50,000 keyed messages in order across a leave and a join, and the commits survive consumer and broker restarts', async () => {
    const topic = uniqueName('group-50k');
    const groupId = uniqueName('group-50k-g');
    const kafka = kafkaClient(broker.address);
    const admin = kafka.admin();
    await admin.connect();
    const consumers = new Map<string, Consumer>();
    const ledger = new DeliveryLedger();
    const seqByKey = new Map<string, number>();
    const held = new Set<string>();
    /** Partitions each member got in its latest GROUP_JOIN. */
    const assigned = new Map<string, number>();

    /**
     * Starts a group member that records every delivery in `sink` and commits after each batch.
     * With `holdAfter`, once the member has delivered that many messages it stops committing and
     * sits on its current batch until it is disconnected: its last batch is delivered but never
     * committed, so the partition's next owner must deliver it again.
     */
    async function startConsumer(name: string, sink: DeliveryLedger, holdAfter = Infinity): Promise<Consumer> {
      const consumer = kafkaClient(broker.address, name).consumer({
        groupId,
        sessionTimeout: 10_000,
        rebalanceTimeout: 15_000,
        heartbeatInterval: 300,
        maxWaitTimeInMs: 200,
        maxBytesPerPartition: 16 * 1024,
      });
      consumer.on(consumer.events.REBALANCING, () => sink.rebalanceBegins());
      consumer.on(consumer.events.GROUP_JOIN, (e) => assigned.set(name, e.payload.memberAssignment[topic]?.length ?? 0));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          let next = -1;
          for (const m of batch.messages) {
            if (!isRunning() || isStale()) break;
            sink.deliver(name, batch.partition, Number(m.offset), m.key?.toString() ?? '', m.value?.toString() ?? '');
            resolveOffset(m.offset);
            next = Number(m.offset) + 1;
          }
          if ((sink.distinctBy.get(name) ?? 0) >= holdAfter) {
            held.add(name);
            while (isRunning()) await new Promise((r) => setTimeout(r, 10));
            return;
          }
          if (next < 0 || isStale()) return;
          try {
            await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(next) }]);
            sink.commit(batch.partition, next);
          } catch {
            // Refused because the group is rebalancing: this batch was not committed, and the
            // partition's next owner may see it again. That is exactly what the ledger allows.
          }
          await heartbeat();
        },
      });
      consumers.set(name, consumer);
      return consumer;
    }

    async function stopConsumer(name: string): Promise<void> {
      await consumers.get(name)?.disconnect();
      consumers.delete(name);
    }

    const highWatermarks = async (): Promise<number[]> => {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
    };
    const committedByBroker = async (): Promise<number[]> => {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (result?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
    };

    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });

      // Three consumers share the first 20,000 messages, produced once all three own two
      // partitions each. B stops committing after 2,000 deliveries and leaves with a delivered
      // but uncommitted batch.
      const [a, b, c] = [uniqueName('cA'), uniqueName('cB'), uniqueName('cC')];
      await Promise.all([startConsumer(a, ledger), startConsumer(b, ledger, 2_000), startConsumer(c, ledger)]);
      await until('the three members to share the six partitions', () => [a, b, c].every((n) => assigned.get(n) === 2));
      await produceKeyed(kafka, topic, 0, 20_000, seqByKey);
      await until('B to hold an uncommitted batch', () => held.has(b));
      ledger.rebalanceBegins();
      await stopConsumer(b);

      // A and C carry on with more messages; then D joins while they are being consumed.
      await produceKeyed(kafka, topic, 20_000, 15_000, seqByKey);
      await until('27,000 deliveries', () => ledger.distinct >= 27_000);
      ledger.rebalanceBegins();
      const d = uniqueName('cD');
      await startConsumer(d, ledger);
      await produceKeyed(kafka, topic, 35_000, 15_000, seqByKey);

      await until('all 50,000 messages', () => ledger.distinct >= TOTAL, 45_000);
      const hw = await highWatermarks();
      expect(hw.reduce((s, n) => s + n, 0)).toBe(TOTAL);
      await until('the last commit of every partition', () => ledger.committed.every((o, p) => o === hw[p]));
      expect(ledger.violations).toEqual([]);
      expect(ledger.nextNew).toEqual(hw);
      // B's uncommitted batch went to another member; D got partitions of its own.
      expect(ledger.duplicates).toBeGreaterThan(0);
      expect(ledger.distinctBy.get(d)).toBeGreaterThan(0);

      // Consumer restart: a new member resumes exactly after the last commit.
      for (const name of [...consumers.keys()]) await stopConsumer(name);
      expect(await committedByBroker()).toEqual(hw);
      await produceKeyed(kafka, topic, TOTAL, 60, seqByKey);
      const afterRestart = new DeliveryLedger(ledger);
      await startConsumer(uniqueName('cE'), afterRestart);
      const hw2 = await highWatermarks();
      await until('the 60 new messages, committed', () => afterRestart.committed.every((o, p) => o === hw2[p]));
      expect(afterRestart.distinct).toBe(60);
      expect(afterRestart.duplicates).toBe(0);
      expect(afterRestart.violations).toEqual([]);
      for (const name of [...consumers.keys()]) await stopConsumer(name);
      await admin.disconnect();

      // Broker restart on the same data directory: the commits are still there.
      await broker.close();
      broker = await startBroker({ port: 0, dataDir, plugins: [groupCoordinatorPlugin()] });
      const admin2 = kafkaClient(broker.address).admin();
      await admin2.connect();
      try {
        const [result] = await admin2.fetchOffsets({ groupId, topics: [topic] });
        expect((result?.partitions ?? []).sort((x, y) => x.partition - y.partition).map((p) => Number(p.offset))).toEqual(hw2);
      } finally {
        await admin2.disconnect();
      }
    } finally {
      for (const consumer of consumers.values()) await consumer.disconnect();
      await admin.disconnect();
    }
  });
});
