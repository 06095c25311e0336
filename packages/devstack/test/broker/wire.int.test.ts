import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { decodeRecords } from '../../src/broker/records/batch.js';
import { uniqueName } from '../helpers/unique.js';
import { encodeBatch } from './batch-fixture.js';
import { fetchBodyV11, RawConnection, requestFrame } from './raw-client.js';

let broker: BrokerHandle;
const conns: RawConnection[] = [];

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});
afterAll(async () => {
  for (const c of conns) c.close();
  await broker.close();
});

async function open(): Promise<RawConnection> {
  const c = await RawConnection.open(broker.port);
  conns.push(c);
  return c;
}

function produceBody(topic: string, partition: number, batch: Buffer, acks = -1): Buffer {
  const w = new Writer().writeNullableString(null).writeInt16(acks).writeInt32(30_000);
  w.writeInt32(1).writeString(topic).writeInt32(1).writeInt32(partition).writeBytes(batch);
  return w.toBuffer();
}

function createTopic(topic: string, partitions: number): Buffer {
  const w = new Writer().writeInt32(1).writeString(topic).writeInt32(partitions).writeInt16(-1).writeInt32(0).writeInt32(0);
  return w.writeInt32(5000).writeBoolean(false).toBuffer();
}

/** Parses a Fetch v11 response for one partition: error, high watermark, decoded records. */
function parseFetchV11(frame: Buffer) {
  const r = new Reader(frame);
  const correlationId = r.readInt32();
  r.readInt32(); // throttle
  const errorCode = r.readInt16();
  r.readInt32(); // session
  const topics = r.readArray((t) => ({
    name: t.readString(),
    partitions: t.readArray((p) => {
      const index = p.readInt32();
      const error = p.readInt16();
      const hw = p.readInt64Number();
      const lso = p.readInt64Number();
      p.readInt64Number(); // log start
      const aborted = p.readNullableArray((a) => [a.readInt64(), a.readInt64()]);
      p.readInt32(); // preferred replica
      const records = p.readNullableBytes();
      const values: string[] = [];
      if (records !== null) {
        for (let pos = 0; pos < records.length; ) {
          const size = records.readInt32BE(pos + 8) + 12;
          values.push(...decodeRecords(records.subarray(pos, pos + size)).map((x) => x.value?.toString() ?? ''));
          pos += size;
        }
      }
      return { index, error, hw, lso, aborted, values };
    }),
  }));
  return { correlationId, errorCode, partition: topics[0]?.partitions[0] };
}

describe('ApiVersions', () => {
  it('answers an unsupported version (v4) with the 16-byte v0-format error-35 body, as Kafka 2.4 does', async () => {
    const c = await open();
    c.write(requestFrame(ApiKey.ApiVersions, 4, 77, Buffer.from([0x00, 0x00, 0x00]), true));
    const frame = await c.nextFrame();
    expect(frame?.length).toBe(16);
    expect(frame?.toString('hex')).toBe('0000004d' + '0023' + '00000001' + '0012' + '0000' + '0003');
    // The connection stays usable: the client retries with a lower version on it.
    c.write(requestFrame(ApiKey.ApiVersions, 0, 78, Buffer.alloc(0)));
    const retry = new Reader((await c.nextFrame()) ?? Buffer.alloc(0));
    expect(retry.readInt32()).toBe(78);
    expect(retry.readInt16()).toBe(KafkaErrorCode.NONE);
  });

  it('answers v3 (librdkafka, flexible request) with response header v0 and a compact body', async () => {
    const c = await open();
    const body = new Writer().writeCompactString('librdkafka').writeCompactString('2.0.2').writeUnsignedVarInt(0).toBuffer();
    c.write(requestFrame(ApiKey.ApiVersions, 3, 1, body, true));
    const r = new Reader((await c.nextFrame()) ?? Buffer.alloc(0));
    expect(r.readInt32()).toBe(1);
    // No header tag byte: the body starts right after the correlation id.
    expect(r.readInt16()).toBe(KafkaErrorCode.NONE);
    const apis = r.readCompactArray((a) => {
      const entry = { key: a.readInt16(), min: a.readInt16(), max: a.readInt16() };
      a.readTaggedFields();
      return entry;
    });
    expect(r.readInt32()).toBe(0);
    expect(r.readTaggedFields().size).toBe(0);
    expect(r.remaining).toBe(0);
    const byKey = new Map(apis.map((a) => [a.key, a]));
    expect(byKey.get(ApiKey.ApiVersions)).toEqual({ key: 18, min: 0, max: 3 });
    // Everything else stays below its first flexible version (WIRE-FACTS.md §0, headline fact 3).
    expect(byKey.get(ApiKey.Metadata)?.max).toBe(8);
    expect(byKey.get(ApiKey.Produce)).toEqual({ key: 0, min: 0, max: 8 });
    expect(byKey.get(ApiKey.Fetch)).toEqual({ key: 1, min: 4, max: 11 });
    expect(byKey.get(ApiKey.InitProducerId)?.max).toBe(1);
    expect(byKey.get(ApiKey.CreateTopics)?.max).toBe(4);
    expect(byKey.get(ApiKey.DeleteTopics)?.max).toBe(3);
  });
});

describe('connection handling', () => {
  it('answers pipelined requests in order', async () => {
    const c = await open();
    c.write(
      Buffer.concat([
        requestFrame(ApiKey.ApiVersions, 2, 10, Buffer.alloc(0)),
        requestFrame(ApiKey.Metadata, 1, 11, new Writer().writeInt32(0).toBuffer()),
        requestFrame(ApiKey.ApiVersions, 1, 12, Buffer.alloc(0)),
      ]),
    );
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await c.nextFrame()) ?? Buffer.alloc(4)).readInt32BE(0));
    expect(ids).toEqual([10, 11, 12]);
  });

  it('closes the connection on an unknown API key, an unsupported version and an oversized frame', async () => {
    const unknown = await open();
    unknown.write(requestFrame(99, 0, 1, Buffer.alloc(4)));
    expect(await unknown.waitClosed()).toBe(true);

    const badVersion = await open();
    badVersion.write(requestFrame(ApiKey.Produce, 9, 1, Buffer.alloc(4)));
    expect(await badVersion.waitClosed()).toBe(true);

    const huge = await open();
    const size = Buffer.alloc(4);
    size.writeInt32BE(200 * 1024 * 1024, 0);
    huge.write(size);
    expect(await huge.waitClosed()).toBe(true);

    const still = await open();
    still.write(requestFrame(ApiKey.ApiVersions, 0, 5, Buffer.alloc(0)));
    expect((await still.nextFrame())?.readInt32BE(0)).toBe(5);
  });
});

describe('produce and fetch', () => {
  it('answers acks=0 with nothing, yet appends', async () => {
    const topic = uniqueName('acks0');
    const c = await open();
    c.write(requestFrame(ApiKey.CreateTopics, 3, 1, createTopic(topic, 1)));
    await c.nextFrame();
    c.write(requestFrame(ApiKey.Produce, 7, 2, produceBody(topic, 0, encodeBatch({ records: [{ key: null, value: 'quiet' }] }), 0)));
    c.write(requestFrame(ApiKey.Fetch, 11, 3, fetchBodyV11(topic, 0, 0, 0)));
    const frame = (await c.nextFrame()) ?? Buffer.alloc(0);
    const fetched = parseFetchV11(frame);
    expect(fetched.correlationId).toBe(3);
    expect(fetched.partition?.values).toEqual(['quiet']);
  });

  it('holds a fetch at the log end until a produce on another connection wakes it', async () => {
    const topic = uniqueName('longpoll');
    const admin = await open();
    admin.write(requestFrame(ApiKey.CreateTopics, 3, 1, createTopic(topic, 1)));
    await admin.nextFrame();

    const consumer = await open();
    consumer.write(requestFrame(ApiKey.Fetch, 11, 7, fetchBodyV11(topic, 0, 0, 30_000)));
    // Nothing to return yet: no response while the poll is held.
    expect(await consumer.nextFrame(300)).toBeNull();
    admin.write(requestFrame(ApiKey.Produce, 7, 2, produceBody(topic, 0, encodeBatch({ records: [{ key: 'k', value: 'wake' }] }))));
    const fetched = parseFetchV11((await consumer.nextFrame(25_000)) ?? Buffer.alloc(0));
    expect(fetched.correlationId).toBe(7);
    expect(fetched.errorCode).toBe(0);
    expect(fetched.partition).toMatchObject({ error: 0, hw: 1, lso: 1, aborted: [], values: ['wake'] });
  });

  it('survives a client closing mid-poll and keeps serving', async () => {
    const topic = uniqueName('closepoll');
    const c = await open();
    c.write(requestFrame(ApiKey.CreateTopics, 3, 1, createTopic(topic, 1)));
    await c.nextFrame();
    const poller = await open();
    poller.write(requestFrame(ApiKey.Fetch, 11, 1, fetchBodyV11(topic, 0, 0, 30_000)));
    await new Promise((r) => setTimeout(r, 50));
    poller.close();
    c.write(requestFrame(ApiKey.Produce, 7, 2, produceBody(topic, 0, encodeBatch({ records: [{ key: null, value: 'after' }] }))));
    expect((await c.nextFrame())?.readInt32BE(0)).toBe(2);
    c.write(requestFrame(ApiKey.Fetch, 11, 3, fetchBodyV11(topic, 0, 0, 0)));
    expect(parseFetchV11((await c.nextFrame()) ?? Buffer.alloc(0)).partition?.values).toEqual(['after']);
  });

  it('answers a bad CRC with CORRUPT_MESSAGE and a fetch past the end with OFFSET_OUT_OF_RANGE', async () => {
    const topic = uniqueName('errors');
    const c = await open();
    c.write(requestFrame(ApiKey.CreateTopics, 3, 1, createTopic(topic, 1)));
    await c.nextFrame();
    const batch = encodeBatch({ records: [{ key: null, value: 'x' }] });
    batch[batch.length - 1] = (batch[batch.length - 1] as number) ^ 1;
    c.write(requestFrame(ApiKey.Produce, 7, 2, produceBody(topic, 0, batch)));
    const r = new Reader((await c.nextFrame()) ?? Buffer.alloc(0));
    r.readInt32();
    const answer = r.readArray((t) => ({ name: t.readString(), parts: t.readArray((p) => ({ index: p.readInt32(), error: p.readInt16(), offset: p.readInt64Number(), t: p.readInt64(), ls: p.readInt64() })) }));
    expect(answer[0]?.parts[0]).toMatchObject({ error: KafkaErrorCode.CORRUPT_MESSAGE, offset: -1 });
    c.write(requestFrame(ApiKey.Fetch, 11, 3, fetchBodyV11(topic, 0, 5, 1000)));
    expect(parseFetchV11((await c.nextFrame()) ?? Buffer.alloc(0)).partition).toMatchObject({ error: KafkaErrorCode.OFFSET_OUT_OF_RANGE, hw: 0 });
  });

  it('honours partition_max_bytes in whole batches, but always returns the first one', async () => {
    const topic = uniqueName('maxbytes');
    const c = await open();
    c.write(requestFrame(ApiKey.CreateTopics, 3, 1, createTopic(topic, 1)));
    await c.nextFrame();
    const batches = ['a', 'b', 'c'].map((v) => encodeBatch({ records: [{ key: null, value: v.repeat(100) }] }));
    for (const [i, b] of batches.entries()) {
      c.write(requestFrame(ApiKey.Produce, 7, 10 + i, produceBody(topic, 0, b)));
      await c.nextFrame();
    }
    const size = batches[0]?.length ?? 0;
    c.write(requestFrame(ApiKey.Fetch, 11, 20, fetchBodyV11(topic, 0, 0, 0, size * 2 + 10)));
    expect(parseFetchV11((await c.nextFrame()) ?? Buffer.alloc(0)).partition?.values).toEqual(['a'.repeat(100), 'b'.repeat(100)]);
    c.write(requestFrame(ApiKey.Fetch, 11, 21, fetchBodyV11(topic, 0, 1, 0, 1)));
    expect(parseFetchV11((await c.nextFrame()) ?? Buffer.alloc(0)).partition?.values).toEqual(['b'.repeat(100)]);
  });

  it('wakes a pending fetch when its topic is deleted', async () => {
    const topic = uniqueName('delpoll');
    const admin = await open();
    admin.write(requestFrame(ApiKey.CreateTopics, 3, 1, createTopic(topic, 1)));
    await admin.nextFrame();
    const poller = await open();
    poller.write(requestFrame(ApiKey.Fetch, 11, 5, fetchBodyV11(topic, 0, 0, 30_000)));
    expect(await poller.nextFrame(200)).toBeNull();
    admin.write(requestFrame(ApiKey.DeleteTopics, 1, 2, new Writer().writeInt32(1).writeString(topic).writeInt32(5000).toBuffer()));
    await admin.nextFrame();
    const fetched = parseFetchV11((await poller.nextFrame(25_000)) ?? Buffer.alloc(0));
    expect(fetched.correlationId).toBe(5);
    expect(fetched.partition?.error).toBe(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});
