import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '../src/index.js';
import { freePort } from './helpers/free-port.js';
import { uniqueName } from './helpers/unique.js';

const pingSchema = JSON.stringify({ type: 'record', name: 'Ping', namespace: 'test.devstack', fields: [{ name: 'n', type: 'int' }] });

const stacks: DevStackHandle[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const stack of stacks.splice(0)) await stack.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startDevStack>[0]): Promise<DevStackHandle> {
  const stack = await startDevStack(options);
  stacks.push(stack);
  return stack;
}

describe('startDevStack', () => {
  it('produces a registry-encoded record through the embedded broker', async () => {
    const stack = await start({ brokerPort: 0, registryPort: 0, defaultPartitions: 3 });
    const registry = new SchemaRegistry({ host: stack.registryUrl, retry: { retries: 0 } });
    const { id } = await registry.register({ type: 'AVRO' as never, schema: pingSchema }, { subject: uniqueName('ping-value') });

    const kafka = new Kafka({ brokers: stack.brokers, clientId: 'dev-stack-test', logLevel: logLevel.NOTHING });
    const topic = uniqueName('ping');
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: 'k', value: await registry.encode(id, { n: 7 }) }] });
    } finally {
      await producer.disconnect();
    }

    const admin = kafka.admin();
    await admin.connect();
    try {
      // Auto-created with the stack's default partition count; exactly one record landed.
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets).toHaveLength(3);
      expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(1);
    } finally {
      await admin.disconnect();
    }
  });

  it('a consumer group reads back and decodes what a producer wrote', async () => {
    const stack = await start({ brokerPort: 0, registryPort: 0 });
    const registry = new SchemaRegistry({ host: stack.registryUrl, retry: { retries: 0 } });
    const { id } = await registry.register({ type: 'AVRO' as never, schema: pingSchema }, { subject: uniqueName('ping-value') });
    const kafka = new Kafka({ brokers: stack.brokers, clientId: 'dev-stack-test', logLevel: logLevel.NOTHING });
    const topic = uniqueName('ping');
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic, messages: await Promise.all([1, 2, 3].map(async (n) => ({ key: String(n), value: await registry.encode(id, { n }) }))) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('ping-group') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const decoded = await new Promise<unknown[]>((resolve, reject) => {
        const seen: unknown[] = [];
        consumer
          .run({
            eachMessage: async ({ message }) => {
              if (message.value === null) return reject(new Error('record without a value'));
              seen.push(await registry.decode(message.value));
              if (seen.length === 3) resolve(seen);
            },
          })
          .catch(reject);
      });
      expect(decoded).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    } finally {
      await consumer.disconnect();
    }
  });

  it('keeps broker and registry data in their own folders under dataDir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pyramid-devstack-'));
    dirs.push(dataDir);
    const stack = await start({ brokerPort: 0, registryPort: 0, dataDir });
    await new SchemaRegistry({ host: stack.registryUrl, retry: { retries: 0 } }).register(
      { type: 'AVRO' as never, schema: pingSchema },
      { subject: uniqueName('ping-value') },
    );
    expect(existsSync(join(dataDir, 'broker'))).toBe(true);
    expect(existsSync(join(dataDir, 'registry'))).toBe(true);
  });

  it('releases both ports on close, and the broker too when the registry cannot start', async () => {
    const brokerPort = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = (blocker.address() as { port: number }).port;
      await expect(startDevStack({ brokerPort, registryPort: taken })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    // The broker from the failed start is gone: the same port binds again.
    const registryPort = await freePort();
    const stack = await startDevStack({ brokerPort, registryPort });
    await stack.close();
    await stack.close(); // idempotent
    const again = await start({ brokerPort, registryPort });
    expect(again.brokers).toEqual([`127.0.0.1:${brokerPort}`]);
    expect(again.registryUrl).toBe(`http://127.0.0.1:${registryPort}`);
  });
});
