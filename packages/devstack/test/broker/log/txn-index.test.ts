import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TopicStore } from '../../../src/broker/log/topic-store.js';
import { KafkaErrorCode } from '../../../src/broker/protocol/errors.js';
import { BatchAttribute, hasValidCrc, readBatchHeader } from '../../../src/broker/records/batch.js';
import { controlOutcomeOf, encodeControlBatch } from '../../../src/broker/records/control-batch.js';
import { silentLogger } from '../../../src/logger.js';
import { encodeBatch } from '../batch-fixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openStore(dataDir: string | null): TopicStore {
  return TopicStore.open({ dataDir, logger: silentLogger });
}

/** A transactional data batch of producer `producerId` (epoch 0) starting at sequence `seq`. */
function txnBatch(producerId: number, seq: number, values: string[]): Buffer {
  return encodeBatch({ records: values.map((v) => ({ key: v, value: v })), producerId, producerEpoch: 0, baseSequence: seq, attributesExtra: BatchAttribute.Transactional });
}

describe('transaction markers in the partition log', () => {
  it('a control batch is a valid magic-2 batch that records its outcome', () => {
    for (const outcome of ['commit', 'abort'] as const) {
      const batch = encodeControlBatch({ producerId: 7, producerEpoch: 3, outcome, coordinatorEpoch: 0, timestamp: 1_700_000_000_000 });
      const header = readBatchHeader(batch);
      expect(hasValidCrc(batch)).toBe(true);
      expect(header).toMatchObject({ magic: 2, attributes: 0x30, producerId: 7, producerEpoch: 3, baseSequence: -1, recordCount: 1, sizeInBytes: batch.length });
      expect(controlOutcomeOf(batch)).toBe(outcome);
    }
    expect(controlOutcomeOf(encodeBatch({ records: [{ key: 'k', value: 'v' }] }))).toBeNull();
  });

  it.each([null, 'disk'] as const)('tracks the last stable offset and aborted transactions (%s), and rebuilds them on recovery', (mode) => {
    const dataDir = mode === null ? null : mkdtempSync(join(tmpdir(), 'broker-txn-'));
    if (dataDir !== null) dirs.push(dataDir);
    let store = openStore(dataDir);
    expect(store.createTopic('t', 1)).toBe(KafkaErrorCode.NONE);
    const log = store.partition('t', 0)!;
    const marker = (producerId: number, outcome: 'commit' | 'abort') =>
      log.appendMarker({ producerId, producerEpoch: 0, outcome, coordinatorEpoch: 0, timestamp: 1_700_000_000_000 });

    log.append(txnBatch(1, 0, ['a', 'b']), readBatchHeader(txnBatch(1, 0, ['a', 'b']))); // 0-1, producer 1
    log.append(txnBatch(2, 0, ['c']), readBatchHeader(txnBatch(2, 0, ['c']))); // 2, producer 2
    expect([log.lastStableOffset, log.highWatermark]).toEqual([0, 3]);
    expect(marker(1, 'abort')).toBe(3);
    expect([log.lastStableOffset, log.highWatermark]).toEqual([2, 4]);
    expect(marker(2, 'commit')).toBe(4);
    expect(log.lastStableOffset).toBe(5);
    // A marker for a transaction already closed here (a retried completion) leaves no trace.
    marker(1, 'abort');
    expect(log.txns.abortedIn(0, 6)).toEqual([{ producerId: 1, firstOffset: 0, lastOffset: 3 }]);
    // Only transactions whose abort marker lies in or after the fetched range.
    expect(log.txns.abortedIn(4, 6)).toEqual([]);
    // read_committed reads stop before a batch at or past the bound.
    expect(log.read(0, 1 << 20, true, 2).nextOffset).toBe(2);

    // The producer's sequence continues across markers (kafkajs keeps counting in one epoch).
    const next = txnBatch(1, 2, ['d']);
    expect(log.append(next, readBatchHeader(next))).toEqual({ kind: 'appended', baseOffset: 6 });
    expect(log.lastStableOffset).toBe(6);

    if (dataDir === null) return;
    store.close();
    store = openStore(dataDir);
    const recovered = store.partition('t', 0)!;
    expect([recovered.lastStableOffset, recovered.highWatermark]).toEqual([6, 7]);
    expect(recovered.txns.abortedIn(0, 7)).toEqual([{ producerId: 1, firstOffset: 0, lastOffset: 3 }]);
    store.close();
  });

  it('a marker at a bumped epoch fences the producer\'s older batches on that partition', () => {
    const store = openStore(null);
    store.createTopic('t', 1);
    const log = store.partition('t', 0)!;
    const first = txnBatch(5, 0, ['x']);
    log.append(first, readBatchHeader(first));
    log.appendMarker({ producerId: 5, producerEpoch: 1, outcome: 'abort', coordinatorEpoch: 0, timestamp: 0 });
    const late = txnBatch(5, 1, ['y']);
    expect(log.append(late, readBatchHeader(late))).toEqual({ kind: 'reject', errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH });
  });
});
