import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NodeFs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startBroker } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { encodeBatch } from './batch-fixture.js';
import { call } from './group-wire.js';
import { RawConnection } from './raw-client.js';

/** Path suffix of the files whose fdatasync fails like a dying disk (EIO). */
const failSyncOf = vi.hoisted(() => ({ suffix: null as string | null }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const fdatasyncSync = (fd: number): void => {
    const path = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (failSyncOf.suffix !== null && path.endsWith(failSyncOf.suffix)) {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    }
    fs.fdatasyncSync(fd);
  };
  return { ...fs, default: { ...fs, fdatasyncSync }, fdatasyncSync };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  failSyncOf.suffix = null;
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("Produce under fsync 'always' when fdatasync fails (regression: the connection was dropped)", () => {
  it('answers KAFKA_STORAGE_ERROR for that partition only, and the connection keeps serving', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-sync-fail-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const broker = await startBroker({ port: 0, dataDir, fsync: 'always', autoCreateTopics: false });
    cleanups.push(() => broker.close());
    const topic = uniqueName('sync-fail');
    const conn = await RawConnection.open(broker.port);
    cleanups.push(() => void conn.socket.destroy());

    const create = new Writer().writeArray([topic], (w, t) =>
      w.writeString(t).writeInt32(2).writeInt16(1).writeInt32(0).writeInt32(0),
    );
    create.writeInt32(5000);
    const created = await call(conn, ApiKey.CreateTopics, 0, create);
    expect(created.readArray((r) => [r.readString(), r.readInt16()])).toEqual([[topic, KafkaErrorCode.NONE]]);

    // Partition 1's segment cannot be synced; partition 0's can.
    failSyncOf.suffix = `/${topic}/1/00000000000000000000.log`;
    const batch = (): Buffer => encodeBatch({ records: [{ key: 'k', value: 'v' }] });
    const produce = new Writer().writeNullableString(null).writeInt16(-1).writeInt32(30_000);
    produce.writeArray([topic], (w, t) =>
      w.writeString(t).writeArray([0, 1], (pw, p) => pw.writeInt32(p).writeBytes(batch())),
    );
    const answer = await call(conn, ApiKey.Produce, 7, produce);
    const partitions = answer.readArray((r) => {
      r.readString();
      return r.readArray((pr) => {
        const index = pr.readInt32();
        const errorCode = pr.readInt16();
        pr.readInt64(); // base_offset
        pr.readInt64(); // log_append_time_ms
        pr.readInt64(); // log_start_offset
        return [index, errorCode];
      });
    });
    expect(partitions).toEqual([[[0, KafkaErrorCode.NONE], [1, KafkaErrorCode.KAFKA_STORAGE_ERROR]]]);

    // Same connection, next request: still answered.
    const metadata = new Writer().writeArray([topic], (w, t) => w.writeString(t)).writeBoolean(false);
    const meta = await call(conn, ApiKey.Metadata, 4, metadata);
    expect(meta.readInt32()).toBe(0); // throttle_time_ms
  });
});
