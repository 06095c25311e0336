import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { BatchLayout } from '../../src/broker/records/batch.js';
import { uniqueName } from '../helpers/unique.js';
import { consumeAll, kafkaClient } from './kafkajs-helpers.js';
import { kcat } from '../helpers/kcat.js';
import { fetchBodyV11, RawConnection, requestFrame } from './raw-client.js';

let broker: BrokerHandle;
beforeAll(async () => {
  broker = await startBroker({ port: 0, defaultPartitions: 3 });
});
afterAll(async () => {
  await broker.close();
});

/** Compression codec of every batch stored in one partition, read with a raw Fetch. */
async function storedCodecs(topic: string, partition: number): Promise<number[]> {
  const c = await RawConnection.open(broker.port);
  try {
    c.write(requestFrame(ApiKey.Fetch, 11, 1, fetchBodyV11(topic, partition, 0, 0)));
    const r = new Reader((await c.nextFrame()) ?? Buffer.alloc(0));
    r.skip(4 + 4 + 2 + 4); // correlation, throttle, error, session
    r.readInt32();
    r.readString();
    r.readInt32();
    r.skip(4 + 2 + 8 + 8 + 8);
    r.readNullableArray((a) => a.skip(16));
    r.skip(4);
    const records = r.readNullableBytes() ?? Buffer.alloc(0);
    const codecs: number[] = [];
    for (let pos = 0; pos < records.length; pos += records.readInt32BE(pos + BatchLayout.BATCH_LENGTH) + BatchLayout.LOG_OVERHEAD) {
      codecs.push(records.readInt16BE(pos + BatchLayout.ATTRIBUTES) & 0x07);
    }
    return codecs;
  } finally {
    c.close();
  }
}

describe('kcat (librdkafka 2.0.2)', () => {
  it('kcat -L lists the broker and the topic', async () => {
    const topic = uniqueName('kcat-l');
    const admin = kafkaClient(broker.address).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await admin.disconnect();
    const out = await kcat(['-b', broker.address, '-L']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`broker 0 at ${broker.address}`);
    expect(out.stdout).toContain(`topic "${topic}" with 2 partitions`);
  });

  it('1,000 lines produced with kcat -P are all read by kafkajs', async () => {
    const topic = uniqueName('kcat-p');
    const lines = Array.from({ length: 1000 }, (_, i) => `key${i % 17}:line-${i}`);
    const produced = await kcat(['-b', broker.address, '-P', '-t', topic, '-K:'], lines.join('\n') + '\n');
    expect(produced.code).toBe(0);
    const got = await consumeAll(kafkaClient(broker.address), topic, 1000);
    expect(got).toHaveLength(1000);
    expect(new Set(got.map((m) => m.value)).size).toBe(1000);
    expect(got.find((m) => m.value === 'line-42')?.key).toBe('key8');
  });

  it('messages produced by kafkajs are all read with keys by kcat -C -e', async () => {
    const topic = uniqueName('kcat-c');
    const producer = kafkaClient(broker.address).producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      for (let b = 0; b < 4; b++) {
        await producer.send({ topic, messages: Array.from({ length: 50 }, (_, i) => ({ key: `k-${b}-${i}`, value: `v-${b}-${i}` })) });
      }
    } finally {
      await producer.disconnect();
    }
    const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k|%s\n']);
    expect(out.code).toBe(0);
    const pairs = out.stdout.trim().split('\n');
    expect(pairs).toHaveLength(200);
    for (const pair of pairs) {
      const [k, v] = pair.split('|');
      expect(v).toBe(k?.replace('k-', 'v-'));
    }
  });

  it('kcat -P -X enable.idempotence=true produces every line once', async () => {
    const topic = uniqueName('kcat-idem');
    const lines = Array.from({ length: 300 }, (_, i) => `idem-${i}`);
    const produced = await kcat(['-b', broker.address, '-P', '-t', topic, '-X', 'enable.idempotence=true'], lines.join('\n') + '\n');
    expect(produced.code).toBe(0);
    const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n']);
    expect(out.stdout.trim().split('\n').sort()).toEqual([...lines].sort());
  });

  it('kcat -z gzip: compressed and uncompressed batches from one producer are both stored and served', async () => {
    const topic = uniqueName('kcat-gz');
    // Many repetitive lines compress well; a single short line does not, and librdkafka then sends
    // that batch uncompressed (WIRE-FACTS.md §4.4).
    const compressible = Array.from({ length: 200 }, (_, i) => `gzip-${i}-${'x'.repeat(100)}`);
    expect((await kcat(['-b', broker.address, '-P', '-t', topic, '-p', '0', '-z', 'gzip'], compressible.join('\n') + '\n')).code).toBe(0);
    expect((await kcat(['-b', broker.address, '-P', '-t', topic, '-p', '1', '-z', 'gzip'], 'q\n')).code).toBe(0);
    expect(await storedCodecs(topic, 0)).toContain(1);
    expect(await storedCodecs(topic, 1)).toEqual([0]);
    const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n']);
    expect(out.stdout.trim().split('\n').sort()).toEqual([...compressible, 'q'].sort());
  });

  it('kcat -G consumes as a group member, commits on exit, and a rerun resumes after the commit', async () => {
    const topic = uniqueName('kcat-g');
    const group = uniqueName('kcat-grp');
    const admin = kafkaClient(broker.address).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
      const first = Array.from({ length: 60 }, (_, i) => `g1-${i}`);
      expect((await kcat(['-b', broker.address, '-P', '-t', topic], first.join('\n') + '\n')).code).toBe(0);
      const run1 = await kcat(['-b', broker.address, '-G', group, topic, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%s\n']);
      expect(run1.stdout.trim().split('\n').sort()).toEqual([...first].sort());

      // Each partition's commit is its end offset; a partition the producer's random partitioner
      // left empty has nothing consumed and so no commit (-1). Summing offsets counted those -1s
      // (the "58 of 60" flake whenever all 60 lines landed in one partition).
      const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      const expected = ends.map((e) => ({ partition: e.partition, offset: e.high === '0' ? '-1' : e.high })).sort((a, b) => a.partition - b.partition);
      const actual = (committed[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
      expect(actual).toEqual(expected);
      expect(ends.reduce((sum, e) => sum + Number(e.high), 0)).toBe(60);

      const second = Array.from({ length: 15 }, (_, i) => `g2-${i}`);
      expect((await kcat(['-b', broker.address, '-P', '-t', topic], second.join('\n') + '\n')).code).toBe(0);
      const run2 = await kcat(['-b', broker.address, '-G', group, topic, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%s\n']);
      expect(run2.stdout.trim().split('\n').sort()).toEqual([...second].sort());
    } finally {
      await admin.disconnect();
    }
  });

  it('kcat -z snappy is refused with UNSUPPORTED_COMPRESSION_TYPE and nothing is stored', async () => {
    const topic = uniqueName('kcat-snappy');
    const lines = Array.from({ length: 50 }, () => 'y'.repeat(200));
    const produced = await kcat(['-b', broker.address, '-P', '-t', topic, '-p', '0', '-z', 'snappy'], lines.join('\n') + '\n');
    expect(produced.code).not.toBe(0);
    expect(produced.stderr).toContain('Unsupported compression type');
    const admin = kafkaClient(broker.address).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.every((o) => o.high === '0')).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });
});
