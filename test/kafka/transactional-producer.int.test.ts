import { connect } from 'node:net';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPyramidError, type PyramidError } from '../../src/errors.js';
import { wrapAdmin } from '../../src/kafka/admin.js';
import type { ConsumerOptions } from '../../src/kafka/consumer.js';
import { coordinatorCachingProducers } from '../../src/kafka/coordinator-cache.js';
import { wrapTransactionalProducer, type PyramidTransactionalProducer } from '../../src/kafka/transactional-producer.js';
import { uniqueName } from '../helpers/unique.js';
import { startEmbeddedKafka, type EmbeddedKafka } from './embedded-broker.js';

let env: EmbeddedKafka;
const producers: PyramidTransactionalProducer[] = [];

beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  for (const p of producers) await p.disconnect();
  await env.close();
});

/** A 1-partition output topic and a 1-partition input topic whose offsets record progress. */
async function topics(): Promise<{ output: string; input: string }> {
  const output = uniqueName('txp-out');
  const input = uniqueName('txp-in');
  const admin = env.kafka.createAdmin();
  await admin.connect();
  await admin.ensureTopics([
    { topic: output, numPartitions: 1 },
    { topic: input, numPartitions: 1 },
  ]);
  await admin.disconnect();
  return { output, input };
}

function producer(transactionalId: string): PyramidTransactionalProducer {
  const p = env.kafka.createTransactionalProducer({ transactionalId });
  producers.push(p);
  return p;
}

/**
 * Reads `topic` from the beginning through pyramid's consumer until a record with value `last`
 * arrives; returns every value in offset order (one partition, so anything visible before `last`
 * has arrived by then).
 */
async function readUntil(topic: string, last: string, isolation?: ConsumerOptions['isolation']): Promise<string[]> {
  const consumer = env.kafka.createConsumer({ groupId: uniqueName('txp-reader'), ...(isolation === undefined ? {} : { isolation }) });
  const got: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${last} within 30 s; got ${got.join(',')}`)), 30_000);
      void consumer.run(async (batch) => {
        for (const r of batch.records) got.push(r.value?.toString() ?? '');
        if (got.includes(last)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

async function failure(work: Promise<unknown>): Promise<PyramidError> {
  try {
    await work;
  } catch (err) {
    if (isPyramidError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const records = (...values: string[]) => values.map((v) => ({ key: v, value: v }));

/** Kafka API keys of the requests a transaction sends. */
const API = { 0: 'Produce', 10: 'FindCoordinator', 24: 'AddPartitionsToTxn', 25: 'AddOffsetsToTxn', 26: 'EndTxn', 28: 'TxnOffsetCommit' } as Record<number, string>;

/**
 * A transactional producer built as `createKafkaClient` builds it, on a kafkajs client whose
 * sockets note the API of every request they write (kafkajs writes a request as one buffer: size
 * int32, then the api key int16).
 */
function countingProducer(transactionalId: string): { relay: PyramidTransactionalProducer; sent: string[] } {
  const sent: string[] = [];
  const socketFactory: kafkajs.ISocketFactory = ({ host, port, onConnect }) => {
    const socket = connect({ host, port }, onConnect);
    const write = socket.write.bind(socket) as (data: Buffer, encoding: BufferEncoding) => boolean;
    socket.write = ((data: Buffer, encoding: BufferEncoding) => {
      if (Buffer.isBuffer(data) && data.length >= 6) sent.push(API[data.readInt16BE(4)] ?? `api ${data.readInt16BE(4)}`);
      return write(data, encoding);
    }) as typeof socket.write;
    return socket;
  };
  const kafka = new kafkajs.Kafka({ brokers: [env.broker.address], clientId: uniqueName('txp-count'), logLevel: kafkajs.logLevel.NOTHING, socketFactory });
  const cachingProducer = coordinatorCachingProducers(kafka);
  const relay = wrapTransactionalProducer(
    transactionalId,
    () => cachingProducer({ transactionalId, idempotent: true, maxInFlightRequests: 1, createPartitioner: kafkajs.Partitioners.DefaultPartitioner }),
    () => wrapAdmin(kafka.admin()),
  );
  producers.push(relay);
  return { relay, sent };
}

describe('createTransactionalProducer', () => {
  it('publishes records and progress in one transaction; readProgress returns the committed progress', async () => {
    const { output, input } = await topics();
    const groupId = uniqueName('txp-progress');
    const relay = producer(uniqueName('txp-id'));
    expect(await relay.readProgress(groupId, input, 0)).toBeNull();

    await relay.publish({ sends: [{ topic: output, records: records('t1', 't2') }], progress: { groupId, topic: input, partition: 0, offset: '2' } });
    await relay.publish({ sends: [{ topic: output, records: records('t3') }], progress: { groupId, topic: input, partition: 0, offset: '3' } });

    expect(await relay.readProgress(groupId, input, 0)).toBe('3');
    expect(await readUntil(output, 't3')).toEqual(['t1', 't2', 't3']);
  });

  it('looks each coordinator up once: a transaction after the first is five round trips, and a failed one forgets them', async () => {
    const { output, input } = await topics();
    const groupId = uniqueName('txp-progress');
    const { relay, sent } = countingProducer(uniqueName('txp-id'));
    await relay.publish({ sends: [{ topic: output, records: records('c1') }], progress: { groupId, topic: input, partition: 0, offset: '1' } });
    // One look-up of the transaction coordinator (InitProducerId) and one of the progress group's.
    expect(sent.filter((api) => api === 'FindCoordinator')).toHaveLength(2);

    sent.length = 0;
    await relay.publish({ sends: [{ topic: output, records: records('c2', 'c3') }], progress: { groupId, topic: input, partition: 0, offset: '3' } });
    await relay.publish({ sends: [{ topic: output, records: records('c4') }], progress: { groupId, topic: input, partition: 0, offset: '4' } });
    const transaction = ['AddPartitionsToTxn', 'Produce', 'AddOffsetsToTxn', 'TxnOffsetCommit', 'EndTxn'];
    expect(sent).toEqual([...transaction, ...transaction]);

    // Progress for an input partition that does not exist fails the transaction after its records.
    await failure(relay.publish({ sends: [{ topic: output, records: records('lost') }], progress: { groupId, topic: input, partition: 7, offset: '9' } }));
    sent.length = 0;
    await relay.publish({ sends: [{ topic: output, records: records('c5') }], progress: { groupId, topic: input, partition: 0, offset: '5' } });
    expect(sent.filter((api) => api === 'FindCoordinator').length).toBeGreaterThanOrEqual(1);
    expect(await relay.readProgress(groupId, input, 0)).toBe('5');
    expect(await readUntil(output, 'c5')).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
  }, 60_000);

  it('a transaction larger than one produce request is still all or nothing', async () => {
    const { output, input } = await topics();
    const groupId = uniqueName('txp-progress');
    const { relay, sent } = countingProducer(uniqueName('txp-id'));
    const many = (prefix: string) => records(...Array.from({ length: 1_200 }, (_, i) => `${prefix}-${i}`));
    await relay.publish({ sends: [{ topic: output, records: many('ok') }], progress: { groupId, topic: input, partition: 0, offset: '1200' } });
    expect(sent.filter((api) => api === 'Produce')).toHaveLength(3);
    await failure(relay.publish({ sends: [{ topic: output, records: many('lost') }], progress: { groupId, topic: input, partition: 7, offset: '2400' } }));
    await relay.publish({ sends: [{ topic: output, records: records('last') }], progress: { groupId, topic: input, partition: 0, offset: '1201' } });

    expect(await relay.readProgress(groupId, input, 0)).toBe('1201');
    expect(await readUntil(output, 'last')).toEqual([...many('ok').map((r) => r.value), 'last']);
  }, 60_000);

  it('a failed transaction is aborted: neither its records nor its progress become visible', async () => {
    const { output, input } = await topics();
    const groupId = uniqueName('txp-progress');
    const relay = producer(uniqueName('txp-id'));
    await relay.publish({ sends: [{ topic: output, records: records('ok-1') }], progress: { groupId, topic: input, partition: 0, offset: '1' } });

    // The records go out first; recording progress for an input partition that does not exist
    // then fails the transaction, which must take the records down with it.
    const error = await failure(
      relay.publish({ sends: [{ topic: output, records: records('lost-1', 'lost-2') }], progress: { groupId, topic: input, partition: 7, offset: '3' } }),
    );
    expect(error.code).toBe('KAFKA_UNAVAILABLE');

    await relay.publish({ sends: [{ topic: output, records: records('ok-2') }], progress: { groupId, topic: input, partition: 0, offset: '2' } });
    expect(await relay.readProgress(groupId, input, 0)).toBe('2');
    expect(await readUntil(output, 'ok-2')).toEqual(['ok-1', 'ok-2']);
    // The aborted records were written; only read_committed hides them.
    expect(await readUntil(output, 'ok-2', 'read_uncommitted')).toEqual(['ok-1', 'lost-1', 'lost-2', 'ok-2']);
  }, 60_000);

  it('a second instance with the same transactional id fences the first: KAFKA_PRODUCER_FENCED, not retriable, for good', async () => {
    const { output, input } = await topics();
    const groupId = uniqueName('txp-progress');
    const transactionalId = uniqueName('txp-id');
    const zombie = producer(transactionalId);
    await zombie.init();
    const owner = producer(transactionalId);
    await owner.init();

    const fenced = await failure(zombie.publish({ sends: [{ topic: output, records: records('zombie') }], progress: { groupId, topic: input, partition: 0, offset: '9' } }));
    expect(fenced).toMatchObject({ code: 'KAFKA_PRODUCER_FENCED', retriable: false });
    // No broker round trip needed to know: the instance stays fenced.
    expect(await failure(zombie.publish({ sends: [], progress: { groupId, topic: input, partition: 0, offset: '9' } }))).toBe(fenced);

    await owner.publish({ sends: [{ topic: output, records: records('owner') }], progress: { groupId, topic: input, partition: 0, offset: '1' } });
    expect(await owner.readProgress(groupId, input, 0)).toBe('1');
    expect(await readUntil(output, 'owner', 'read_uncommitted')).toEqual(['owner']);
  });

  it('refuses a malformed progress mark and bad options before sending anything', async () => {
    const relay = producer(uniqueName('txp-id'));
    const progress = { groupId: 'g', topic: 't', partition: 0, offset: '1' };
    expect(() => relay.publish({ sends: [], progress: { ...progress, offset: '-1' } })).toThrow(/progress.offset must be a non-negative int64/);
    expect(() => relay.publish({ sends: [], progress: { ...progress, offset: '9223372036854775808' } })).toThrow(/progress.offset/);
    expect(() => relay.publish({ sends: [], progress: { ...progress, partition: 1.5 } })).toThrow(/progress.partition/);
    expect(() => relay.publish({ sends: [], progress: { ...progress, groupId: '' } })).toThrow(/progress.groupId/);
    expect(() => env.kafka.createTransactionalProducer({ transactionalId: '' })).toThrow(/transactionalId must not be empty/);
    expect(() => env.kafka.createTransactionalProducer({ transactionalId: 'x', transactionTimeoutMs: 0 })).toThrow(/transactionTimeoutMs/);
  });

  it('a transaction timeout above the broker maximum is KAFKA_TRANSACTION_FAILED, not retriable', async () => {
    // The embedded broker's transaction.max.timeout.ms is Kafka's default, 15 minutes.
    const relay = env.kafka.createTransactionalProducer({ transactionalId: uniqueName('txp-id'), transactionTimeoutMs: 900_001 });
    producers.push(relay);
    expect(await failure(relay.init())).toMatchObject({ code: 'KAFKA_TRANSACTION_FAILED', retriable: false });
  });
});

describe('consumer isolation', () => {
  it('reads read_committed by default; read_uncommitted also delivers aborted records', async () => {
    const { output, input } = await topics();
    const groupId = uniqueName('txp-progress');
    const relay = producer(uniqueName('txp-id'));
    await relay.publish({ sends: [{ topic: output, records: records('c1') }], progress: { groupId, topic: input, partition: 0, offset: '1' } });
    await failure(relay.publish({ sends: [{ topic: output, records: records('a1') }], progress: { groupId, topic: input, partition: 3, offset: '2' } }));
    await relay.publish({ sends: [{ topic: output, records: records('c2') }], progress: { groupId, topic: input, partition: 0, offset: '2' } });

    expect(await readUntil(output, 'c2')).toEqual(['c1', 'c2']);
    expect(await readUntil(output, 'c2', 'read_committed')).toEqual(['c1', 'c2']);
    expect(await readUntil(output, 'c2', 'read_uncommitted')).toEqual(['c1', 'a1', 'c2']);
  }, 60_000);
});
