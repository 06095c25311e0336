import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NodeFs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startBroker } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { call } from './group-wire.js';
import { RawConnection } from './raw-client.js';

/** File name whose atomic write (the final rename) fails like a full disk (ENOSPC). */
const failRenameTo = vi.hoisted(() => ({ name: null as string | null }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const renameSync = (from: NodeFs.PathLike, to: NodeFs.PathLike): void => {
    if (failRenameTo.name !== null && String(to).endsWith(`/${failRenameTo.name}`)) {
      throw Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' });
    }
    fs.renameSync(from, to);
  };
  return { ...fs, default: { ...fs, renameSync }, renameSync };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  failRenameTo.name = null;
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function brokerWithDataDir(): Promise<{ conn: RawConnection; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-write-fail-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const broker = await startBroker({ port: 0, dataDir, autoCreateTopics: false });
  cleanups.push(() => broker.close());
  const conn = await RawConnection.open(broker.port);
  cleanups.push(() => void conn.socket.destroy());
  return { conn, dataDir };
}

async function createTopic(conn: RawConnection, topic: string): Promise<number> {
  const body = new Writer().writeArray([topic], (w, t) => w.writeString(t).writeInt32(2).writeInt16(1).writeInt32(0).writeInt32(0));
  body.writeInt32(5000);
  const answer = await call(conn, ApiKey.CreateTopics, 0, body);
  const [[, errorCode] = []] = answer.readArray((r) => [r.readString(), r.readInt16()] as const);
  return errorCode ?? Number.NaN;
}

async function initProducerId(conn: RawConnection): Promise<{ errorCode: number; producerId: bigint }> {
  const answer = await call(conn, ApiKey.InitProducerId, 0, new Writer().writeNullableString(null).writeInt32(60_000));
  answer.readInt32(); // throttle_time_ms
  const errorCode = answer.readInt16();
  return { errorCode, producerId: answer.readInt64() };
}

describe('metadata writes refused by the disk (regression: the connection was dropped)', () => {
  it('CreateTopics answers KAFKA_STORAGE_ERROR, keeps the connection, and the retry creates the topic', async () => {
    const { conn, dataDir } = await brokerWithDataDir();
    const topic = uniqueName('full-disk');
    failRenameTo.name = 'topic.json';
    expect(await createTopic(conn, topic)).toBe(KafkaErrorCode.KAFKA_STORAGE_ERROR);
    expect(existsSync(join(dataDir, 'topics', topic, 'topic.json'))).toBe(false);
    failRenameTo.name = null;
    expect(await createTopic(conn, topic)).toBe(KafkaErrorCode.NONE);
    expect(existsSync(join(dataDir, 'topics', topic, 'topic.json'))).toBe(true);
  });

  it('InitProducerId answers the retriable COORDINATOR_NOT_AVAILABLE, and the retry gets an id never handed out', async () => {
    const { conn } = await brokerWithDataDir();
    const first = await initProducerId(conn);
    expect(first.errorCode).toBe(KafkaErrorCode.NONE);
    failRenameTo.name = 'producer-ids.json';
    expect(await initProducerId(conn)).toEqual({ errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, producerId: -1n });
    failRenameTo.name = null;
    const retried = await initProducerId(conn);
    expect(retried.errorCode).toBe(KafkaErrorCode.NONE);
    expect(retried.producerId).toBeGreaterThan(first.producerId);
  });
});
