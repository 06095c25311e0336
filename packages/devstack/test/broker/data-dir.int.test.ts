import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/index.js';
import { uniqueName } from '../helpers/unique.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { kcat } from '../helpers/kcat.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('data directory ownership', () => {
  it('refuses a second broker on a directory in use, and allows it after close', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-lock-'));
    dirs.push(dataDir);
    const first = await startBroker({ port: 0, dataDir });
    await expect(startBroker({ port: 0, dataDir })).rejects.toThrow(/in use/);
    await first.close();
    const second = await startBroker({ port: 0, dataDir });
    try {
      // The second broker holds the directory now, exactly as the first did.
      expect(readFileSync(join(dataDir, 'broker.lock'), 'utf8')).toBe(String(process.pid));
      await expect(startBroker({ port: 0, dataDir })).rejects.toThrow(/in use/);
    } finally {
      await second.close();
    }
  });

  it('takes over a lock left by a process that no longer exists (kill -9)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-lock-'));
    dirs.push(dataDir);
    // PIDs are below 2^22 on Linux; this one cannot be running.
    writeFileSync(join(dataDir, 'broker.lock'), '99999999');
    const broker = await startBroker({ port: 0, dataDir });
    try {
      expect(readFileSync(join(dataDir, 'broker.lock'), 'utf8')).toBe(String(process.pid));
      await expect(startBroker({ port: 0, dataDir })).rejects.toThrow(/in use by another broker \(pid \d+\)/);
    } finally {
      await broker.close();
    }
  });

  it("acknowledges and serves records under fsync: 'always'", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-fsync-'));
    dirs.push(dataDir);
    let broker = await startBroker({ port: 0, dataDir, fsync: 'always' });
    const topic = uniqueName('fsync');
    const producer = kafkaClient(broker.address).producer({ idempotent: true, allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'synced' }] });
    await producer.disconnect();
    await broker.close();
    broker = await startBroker({ port: 0, dataDir });
    const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k=%s']);
    await broker.close();
    expect(out.stdout).toBe('k=synced');
  });
});
