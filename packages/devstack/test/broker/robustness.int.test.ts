import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { pino } from 'pino';
import { uniqueName } from '../helpers/unique.js';
import { kafkaClient } from './kafkajs-helpers.js';

const MAX_FRAME = 1024 * 1024;
/** API keys and version ranges the broker registers (its own and the group coordinator's). */
const KNOWN_APIS: Array<[number, number, number]> = [
  [0, 0, 8], [1, 4, 11], [2, 0, 5], [3, 0, 8], [8, 0, 7], [9, 0, 5], [10, 0, 2], [11, 0, 5],
  [12, 0, 3], [13, 0, 3], [14, 0, 3], [15, 0, 4], [16, 0, 2], [18, 0, 3], [19, 0, 4], [20, 0, 3], [22, 0, 1],
];

/** mulberry32: a seeded PRNG so a failing run can be replayed from its logged seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function sized(body: Buffer, claimed = body.length): Buffer {
  const size = Buffer.allocUnsafe(4);
  size.writeInt32BE(claimed, 0);
  return Buffer.concat([size, body]);
}

/** One hostile payload: what a broken or malicious client might put on the wire. */
function hostilePayload(rand: () => number): Buffer {
  const kind = Math.floor(rand() * 6);
  const pick = KNOWN_APIS[Math.floor(rand() * KNOWN_APIS.length)] as [number, number, number];
  const [key, min, max] = pick;
  const header = new Writer()
    .writeInt16(key)
    .writeInt16(min + Math.floor(rand() * (max - min + 1)))
    .writeInt32(Math.floor(rand() * 1000))
    .writeString('fuzz')
    .toBuffer();
  switch (kind) {
    case 0: // raw garbage, no framing at all
      return randomBytes(rand, 1 + Math.floor(rand() * 300));
    case 1: // a well-framed body of random bytes: random api key/version
      return sized(randomBytes(rand, 8 + Math.floor(rand() * 200)));
    case 2: // a valid header of a real API followed by a random (usually truncated) body
      return sized(Buffer.concat([header, randomBytes(rand, Math.floor(rand() * 120))]));
    case 3: // oversized or negative size
      return sized(randomBytes(rand, 16), rand() < 0.5 ? MAX_FRAME + 1 + Math.floor(rand() * 1e9) : -1 - Math.floor(rand() * 1e6));
    case 4: // frame claims more than is ever sent, then the client disappears
      return sized(Buffer.concat([header, randomBytes(rand, 10)]), header.length + 10 + 1 + Math.floor(rand() * 5000));
    default: // a valid header and a body cut after a few bytes of a real-looking prefix
      return sized(Buffer.concat([header, new Writer().writeInt32(1).writeString('x').writeInt32(3).toBuffer()]).subarray(0, header.length + Math.floor(rand() * 10)));
  }
}

/** Sends `payloads` on one connection, then waits a moment and drops it, whatever happened. */
function attack(port: number, payloads: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      for (const p of payloads) socket.write(p);
      setTimeout(done, 5 + Math.floor(Math.random() * 20));
    });
  });
}

let broker: BrokerHandle;
const logLines: string[] = [];

beforeAll(async () => {
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  broker = await startBroker({ port: 0, maxFrameSize: MAX_FRAME, logger: pino({ level: 'warn' }, destination) });
});
afterAll(async () => {
  await broker.close();
});

describe('hostile input', () => {
  it('survives 1,000+ garbage, truncated and oversized frames while a kafkajs client keeps working', async () => {
    const seed = Date.now() >>> 0;
    const rand = prng(seed);
    const topic = uniqueName('robust');
    const kafka = kafkaClient(broker.address);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    const consumer = kafka.consumer({ groupId: uniqueName('robust-g'), maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const consumed = new Set<string>();
    await consumer.run({ eachMessage: async ({ message }) => void consumed.add(message.value?.toString() ?? '') });

    try {
      let sentFrames = 0;
      let stop = false;
      const workers = Array.from({ length: 6 }, async () => {
        while (!stop) {
          const payloads = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => hostilePayload(rand));
          sentFrames += payloads.length;
          await attack(broker.port, payloads);
        }
      });
      const produced: string[] = [];
      for (let round = 0; sentFrames < 1200 || round < 20; round++) {
        const values = Array.from({ length: 5 }, (_, i) => `r${round}-${i}`);
        await producer.send({ topic, messages: values.map((value) => ({ value })) });
        produced.push(...values);
      }
      stop = true;
      await Promise.all(workers);

      const deadline = Date.now() + 30_000;
      while (consumed.size < produced.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(produced.filter((v) => !consumed.has(v)), `seed ${seed}`).toEqual([]);
      expect(sentFrames).toBeGreaterThanOrEqual(1000);
      // Every refused frame left a warning behind.
      const warnings = logLines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      expect(warnings.filter((w) => w.msg.startsWith('closing connection')).length).toBeGreaterThan(100);
      // No frame reached a handler bug (a non-protocol exception).
      expect(logLines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50)).toEqual([]);
      // And the broker still answers fresh clients.
      expect(await admin.listTopics()).toContain(topic);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
