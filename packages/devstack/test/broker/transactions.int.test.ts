import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Kafka as KafkaClient, Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { kcat } from '../helpers/kcat.js';
import { uniqueName } from '../helpers/unique.js';
import { call } from './group-wire.js';
import { consumeAll, kafkaClient, type Consumed } from './kafkajs-helpers.js';
import { encodeBatch } from './batch-fixture.js';
import { RawConnection } from './raw-client.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let broker: BrokerHandle;
let kafka: KafkaClient;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  // A short timeout check so an abandoned transaction is aborted soon after its own timeout.
  broker = await startBroker({ port: 0, autoCreateTopics: false, transactions: { abortCheckIntervalMs: 100 } });
  kafka = kafkaClient(broker.address);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await broker.close();
});

async function createTopics(client: KafkaClient, ...topics: string[]): Promise<void> {
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1 })) });
  await admin.disconnect();
}

/**
 * A connected transactional kafkajs producer whose transactional id is initialised. kafkajs sends
 * InitProducerId for the transactional id only at the first `transaction()` (connect inits a
 * plain idempotent id), so that is where a new instance fences the older ones; a transaction that
 * added nothing ends without a request.
 */
async function transactionalProducer(client: KafkaClient, transactionalId: string): Promise<Producer> {
  const producer = client.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  await (await producer.transaction()).abort();
  return producer;
}

/** Sends `values` (keyed by themselves) in one transaction, then commits or aborts it. */
async function transaction(producer: Producer, topic: string, values: string[], end: 'commit' | 'abort', offsets?: { groupId: string; topic: string; offset: string }): Promise<void> {
  const txn = await producer.transaction();
  await txn.send({ topic, acks: -1, messages: values.map((v) => ({ key: v, value: v })) });
  if (offsets !== undefined) {
    await txn.sendOffsets({ consumerGroupId: offsets.groupId, topics: [{ topic: offsets.topic, partitions: [{ partition: 0, offset: offsets.offset }] }] });
  }
  await (end === 'commit' ? txn.commit() : txn.abort());
}

/** Every kafkajs error `type` along the cause chain (kafkajs wraps protocol errors on retry). */
function errorTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined; e !== undefined && e !== null; ) {
    if (typeof e.type === 'string') types.push(e.type);
    e = (e.cause ?? e.originalError) as typeof e | undefined;
  }
  return types;
}

async function rejection(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const values = (got: readonly Consumed[]): (string | null)[] => got.map((m) => m.value);
const until = (value: string) => (got: readonly Consumed[]) => got.some((m) => m.value === value);

describe('transactions: kafkajs transactional producer', () => {
  it('advertises the transactional APIs below their first flexible version (what kafkajs 2.2.4 speaks)', async () => {
    const conn = await RawConnection.open(broker.port);
    try {
      const r = await call(conn, ApiKey.ApiVersions, 0, new Writer());
      expect(r.readInt16()).toBe(0);
      const ranges = new Map(r.readArray((a) => [a.readInt16(), [a.readInt16(), a.readInt16()]] as const));
      expect(ranges.get(ApiKey.InitProducerId)).toEqual([0, 1]);
      expect(ranges.get(ApiKey.AddPartitionsToTxn)).toEqual([0, 1]);
      expect(ranges.get(ApiKey.AddOffsetsToTxn)).toEqual([0, 1]);
      expect(ranges.get(ApiKey.EndTxn)).toEqual([0, 1]);
      expect(ranges.get(ApiKey.TxnOffsetCommit)).toEqual([0, 2]);
    } finally {
      conn.close();
    }
  });

  it('refuses transactional batches no coordinator knows of, so none can hold back the last stable offset', async () => {
    const topic = uniqueName('txn-stray');
    await createTopics(kafka, topic);
    const conn = await RawConnection.open(broker.port);
    const produce = async (transactionalId: string | null, attributesExtra: number): Promise<number> => {
      const batch = encodeBatch({ records: [{ key: 'k', value: 'v' }], producerId: 4242, producerEpoch: 0, baseSequence: 0, attributesExtra });
      const body = new Writer().writeNullableString(transactionalId).writeInt16(-1).writeInt32(30_000);
      body.writeArray([topic], (w, t) => w.writeString(t).writeArray([0], (pw, p) => pw.writeInt32(p).writeBytes(batch)));
      const answer = await call(conn, ApiKey.Produce, 7, body);
      const [errorCode] = answer.readArray((r) => {
        r.readString();
        return r.readArray((pr) => {
          pr.readInt32();
          const code = pr.readInt16();
          pr.skip(24); // base_offset, log_append_time_ms, log_start_offset
          return code;
        })[0];
      });
      return errorCode as number;
    };
    try {
      expect(await produce(null, 0x10)).toBe(KafkaErrorCode.INVALID_REQUEST); // transactional batch, no transactional id
      expect(await produce(uniqueName('unknown-id'), 0x10)).toBe(KafkaErrorCode.INVALID_PRODUCER_ID_MAPPING);
      expect(await produce(uniqueName('unknown-id'), 0)).toBe(KafkaErrorCode.INVALID_REQUEST); // transactional id, plain batch
    } finally {
      conn.close();
    }
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.fetchTopicOffsets(topic))[0]?.high).toBe('0');
    await admin.disconnect();
  });

  it('read_committed consumers see committed transactions only; read_uncommitted see every data record; offsets commit with the transaction', async () => {
    const topic = uniqueName('txn-data');
    const source = uniqueName('txn-src');
    const groupId = uniqueName('txn-progress');
    await createTopics(kafka, topic, source);
    const producer = await transactionalProducer(kafka, uniqueName('txn-id'));

    await transaction(producer, topic, ['a1', 'a2'], 'commit', { groupId, topic: source, offset: '5' });
    await transaction(producer, topic, ['b1', 'b2'], 'abort', { groupId, topic: source, offset: '9' });
    // The last committed value ends every read: records of one partition arrive in offset order,
    // so anything visible from the aborted transaction would have arrived before it.
    await transaction(producer, topic, ['c1'], 'commit');

    expect(values(await consumeAll(kafka, topic, until('c1')))).toEqual(['a1', 'a2', 'c1']);
    expect(values(await consumeAll(kafka, topic, until('c1'), 30_000, { readUncommitted: true }))).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const [progress] = await admin.fetchOffsets({ groupId, topics: [source] });
      expect(progress?.partitions).toEqual([{ partition: 0, offset: '5', metadata: null }]);
      // Six data records and three markers: the high watermark counts the markers.
      const [offsets] = await admin.fetchTopicOffsets(topic);
      expect(offsets?.high).toBe('8');
    } finally {
      await admin.disconnect();
    }
  });

  it('kcat: isolation.level=read_committed sees committed records, read_uncommitted every data record, neither a control marker', async () => {
    const topic = uniqueName('txn-kcat');
    await createTopics(kafka, topic);
    const producer = await transactionalProducer(kafka, uniqueName('txn-id'));
    await transaction(producer, topic, ['k1'], 'commit');
    await transaction(producer, topic, ['k2', 'k3'], 'abort');
    await transaction(producer, topic, ['k4'], 'commit');

    const read = async (isolation: string): Promise<string[]> => {
      const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o:%s\\n', '-X', `isolation.level=${isolation}`]);
      expect(out.code, out.stderr).toBe(0);
      return out.stdout.split('\n').filter((l) => l.length > 0);
    };
    // Offsets: k1 0, commit marker 1, k2 2, k3 3, abort marker 4, k4 5, commit marker 6.
    expect(await read('read_committed')).toEqual(['0:k1', '5:k4']);
    expect(await read('read_uncommitted')).toEqual(['0:k1', '2:k2', '3:k3', '5:k4']);
  });

  it('a transaction left open by a producer that was killed is aborted after its timeout; read_committed readers then move past it', async () => {
    const topic = uniqueName('txn-dead');
    await createTopics(kafka, topic);
    const deadId = uniqueName('txn-dead-id');
    // A separate process, so it can die by SIGKILL between send and commit, as a crashed relay does.
    const script = `
      const { Kafka, logLevel } = require('kafkajs');
      const kafka = new Kafka({ brokers: [${JSON.stringify(broker.address)}], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ transactionalId: ${JSON.stringify(deadId)}, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 1500 });
      (async () => {
        await producer.connect();
        const txn = await producer.transaction();
        await txn.send({ topic: ${JSON.stringify(topic)}, acks: -1, messages: [{ key: 'z', value: 'zombie' }] });
        console.log('sent');
        setInterval(() => undefined, 60000);
      })().catch((err) => { console.error(err); process.exit(1); });
    `;
    const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => line === 'sent' && resolve());
      child.once('exit', (code) => reject(new Error(`producer process exited (${code}) before sending: ${stderr}`)));
    });
    child.kill('SIGKILL');
    await exited;

    const producer = await transactionalProducer(kafka, uniqueName('txn-live-id'));
    await transaction(producer, topic, ['after'], 'commit');

    // 'after' lies beyond the dead transaction, so a read_committed reader gets it only once that
    // transaction was aborted (the last stable offset stays at its first record until then).
    expect(values(await consumeAll(kafka, topic, until('after')))).toEqual(['after']);
    expect(values(await consumeAll(kafka, topic, until('after'), 30_000, { readUncommitted: true }))).toEqual(['zombie', 'after']);
  });

  it('a second producer with the same transactional id fences the first and aborts its open transaction', async () => {
    const topic = uniqueName('txn-fence');
    await createTopics(kafka, topic);
    const transactionalId = uniqueName('txn-fence-id');
    const first = await transactionalProducer(kafka, transactionalId);
    const zombie = await first.transaction();
    await zombie.send({ topic, acks: -1, messages: [{ key: 'z', value: 'first-open' }] });

    const second = await transactionalProducer(kafka, transactionalId);
    expect(errorTypes(await rejection(zombie.send({ topic, acks: -1, messages: [{ key: 'z', value: 'first-late' }] })))).toContain('INVALID_PRODUCER_EPOCH');
    expect(errorTypes(await rejection(zombie.commit()))).toContain('INVALID_PRODUCER_EPOCH');

    await transaction(second, topic, ['second'], 'commit');
    expect(values(await consumeAll(kafka, topic, until('second')))).toEqual(['second']);
    // The first producer's open transaction was aborted, and its late batch never written.
    expect(values(await consumeAll(kafka, topic, until('second'), 30_000, { readUncommitted: true }))).toEqual(['first-open', 'second']);
  });
});

describe('transactions across a broker restart', () => {
  let dataDir: string;
  let restartable: BrokerHandle | null = null;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'pyramid-txn-'));
  });
  afterAll(async () => {
    await restartable?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps fencing, keeps an open transaction (partitions and pending offsets), which then commits', async () => {
    restartable = await startBroker({ port: 0, dataDir, autoCreateTopics: false });
    const { port } = restartable;
    const client = kafkaClient(restartable.address);
    const topic = uniqueName('txn-restart');
    const source = uniqueName('txn-restart-src');
    const groupId = uniqueName('txn-restart-g');
    await createTopics(client, topic, source);
    const transactionalId = uniqueName('txn-restart-id');
    const fenced = await transactionalProducer(client, transactionalId);
    const current = await transactionalProducer(client, transactionalId);
    const open = await current.transaction();
    await open.send({ topic, acks: -1, messages: [{ key: 'r', value: 'across-restart' }] });
    await open.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: source, partitions: [{ partition: 0, offset: '7' }] }] });

    await restartable.close();
    restartable = await startBroker({ port, dataDir, autoCreateTopics: false });

    const admin = client.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    // read_committed (what kafkajs's admin asks for) still stops before the open transaction.
    expect((await admin.fetchTopicOffsets(topic))[0]?.high).toBe('0');
    expect((await admin.fetchOffsets({ groupId, topics: [source] }))[0]?.partitions[0]?.offset).toBe('-1');

    await open.commit();
    expect(values(await consumeAll(client, topic, until('across-restart')))).toEqual(['across-restart']);
    expect((await admin.fetchOffsets({ groupId, topics: [source] }))[0]?.partitions[0]?.offset).toBe('7');

    // The older instance is still fenced by epoch: had the restart forgotten the transactional id,
    // it would get INVALID_PRODUCER_ID_MAPPING instead (and the current one too).
    expect(errorTypes(await rejection(fenced.transaction().then((t) => t.send({ topic, acks: -1, messages: [{ key: 'f', value: 'fenced' }] }))))).toContain(
      'INVALID_PRODUCER_EPOCH',
    );
  });
});
