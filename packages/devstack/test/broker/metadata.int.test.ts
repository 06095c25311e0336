import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { RawConnection, requestFrame } from './raw-client.js';

interface MetadataAnswer {
  brokers: Array<{ node: number; host: string; port: number }>;
  topics: Array<{ error: number; name: string; partitions: number }>;
}

/** Metadata v4 request for `topics` (null = all) and the parsed answer. */
async function metadataV4(port: number, topics: string[] | null, allowAutoCreate: boolean): Promise<MetadataAnswer> {
  const c = await RawConnection.open(port);
  try {
    const body = new Writer().writeNullableArray(topics, (w, t) => w.writeString(t)).writeBoolean(allowAutoCreate).toBuffer();
    c.write(requestFrame(ApiKey.Metadata, 4, 1, body));
    const r = new Reader((await c.nextFrame()) ?? Buffer.alloc(0));
    r.readInt32(); // correlation id
    r.readInt32(); // throttle
    const brokers = r.readArray((b) => {
      const entry = { node: b.readInt32(), host: b.readString(), port: b.readInt32() };
      b.readNullableString();
      return entry;
    });
    r.readNullableString(); // cluster id
    r.readInt32(); // controller
    const parsed = r.readArray((t) => {
      const error = t.readInt16();
      const name = t.readString();
      t.readBoolean();
      const partitions = t.readArray((p) => {
        p.skip(2 + 4 + 4);
        p.readArray((x) => x.readInt32());
        p.readArray((x) => x.readInt32());
      }).length;
      return { error, name, partitions };
    });
    expect(r.remaining).toBe(0);
    return { brokers, topics: parsed };
  } finally {
    c.close();
  }
}

describe('Metadata auto-creation', () => {
  let broker: BrokerHandle;
  let strict: BrokerHandle;
  beforeAll(async () => {
    broker = await startBroker({ port: 0, defaultPartitions: 3 });
    strict = await startBroker({ port: 0, autoCreateTopics: false });
  });
  afterAll(async () => {
    await broker.close();
    await strict.close();
  });

  it('advertises the reachable host and actual port', async () => {
    const answer = await metadataV4(broker.port, [], false);
    expect(answer.brokers).toEqual([{ node: 0, host: '127.0.0.1', port: broker.port }]);
    expect(answer.topics).toEqual([]);
  });

  it('creates an unknown topic with the default partitions only when the request allows it', async () => {
    const topic = uniqueName('auto');
    expect((await metadataV4(broker.port, [topic], false)).topics).toEqual([
      { error: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: topic, partitions: 0 },
    ]);
    expect((await metadataV4(broker.port, [topic], true)).topics).toEqual([{ error: 0, name: topic, partitions: 3 }]);
    expect((await metadataV4(broker.port, null, false)).topics).toContainEqual({ error: 0, name: topic, partitions: 3 });
  });

  it('never creates topics when the broker is configured not to', async () => {
    const topic = uniqueName('noauto');
    expect((await metadataV4(strict.port, [topic], true)).topics).toEqual([
      { error: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: topic, partitions: 0 },
    ]);
  });

  it('answers an illegal topic name with INVALID_TOPIC_EXCEPTION', async () => {
    expect((await metadataV4(broker.port, ['bad/name'], true)).topics).toEqual([
      { error: KafkaErrorCode.INVALID_TOPIC_EXCEPTION, name: 'bad/name', partitions: 0 },
    ]);
  });
});

describe('Produce v0–v2', () => {
  it('refuses old-format message sets per partition with UNSUPPORTED_FOR_MESSAGE_FORMAT', async () => {
    const broker = await startBroker({ port: 0 });
    const c = await RawConnection.open(broker.port);
    try {
      const topic = uniqueName('old');
      await metadataV4(broker.port, [topic], true);
      // A magic-1 message set: offset, size, crc, magic 1, attributes, timestamp, key, value.
      const message = new Writer().writeUInt32(0).writeInt8(1).writeInt8(0).writeInt64(0).writeInt32(-1).writeInt32(1).writeRaw(Buffer.from('v')).toBuffer();
      const set = new Writer().writeInt64(0).writeInt32(message.length).writeRaw(message).toBuffer();
      const body = new Writer().writeInt16(1).writeInt32(1000).writeInt32(1).writeString(topic).writeInt32(1).writeInt32(0).writeBytes(set).toBuffer();
      c.write(requestFrame(ApiKey.Produce, 2, 9, body));
      const r = new Reader((await c.nextFrame()) ?? Buffer.alloc(0));
      expect(r.readInt32()).toBe(9);
      const answer = r.readArray((t) => ({
        name: t.readString(),
        partitions: t.readArray((p) => ({ index: p.readInt32(), error: p.readInt16(), offset: p.readInt64Number(), time: p.readInt64Number() })),
      }));
      expect(r.readInt32()).toBe(0); // throttle (v1+)
      expect(r.remaining).toBe(0);
      expect(answer).toEqual([{ name: topic, partitions: [{ index: 0, error: KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, offset: -1, time: -1 }] }]);
    } finally {
      c.close();
      await broker.close();
    }
  });
});
