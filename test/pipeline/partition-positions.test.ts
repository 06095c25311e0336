import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { PartitionPositions } from '../../src/pipeline/partition-positions.js';

const record = (offset: number, timestamp: number): KafkaRecord => ({ topic: 't', partition: 0, offset: String(offset), key: null, value: null, headers: {}, timestamp });

describe('PartitionPositions', () => {
  it('is unknown until reset, then follows the processed batches past their last offset', () => {
    const positions = new PartitionPositions();
    expect(positions.next('t', 0)).toBeUndefined();
    positions.reset('t', 0, 10n);
    expect(positions.next('t', 0)).toBe(10n);
    // lastOffset may lie beyond the last record (dead-lettered or control records).
    positions.advance('t', 0, '14', record(12, 1_000));
    expect(positions.next('t', 0)).toBe(15n);
  });

  it('timestamps lag from the batch in hand, else from the last processed record', () => {
    const positions = new PartitionPositions();
    expect(positions.timestampAt('t', 0, '0')).toBeNull();
    positions.taken('t', 0, record(0, 500));
    expect(positions.timestampAt('t', 0, '0')).toBe(500);
    positions.advance('t', 0, '3', record(3, 800));
    expect(positions.timestampAt('t', 0, '4')).toBe(800);
    positions.forget('t', 0);
    expect(positions.next('t', 0)).toBeUndefined();
  });

  it('knows the timestamps at recent batch heads (where commits land), and never dates a processed record by a later one', () => {
    const positions = new PartitionPositions();
    positions.reset('t', 0, 0n);
    for (let batch = 0; batch < 20; batch++) {
      positions.taken('t', 0, record(batch * 10, 1_000 + batch));
      positions.advance('t', 0, String(batch * 10 + 9), record(batch * 10 + 9, 2_000 + batch));
    }
    // The committed offset 190 heads the last batch; 185 is inside it and already processed.
    expect(positions.timestampAt('t', 0, '190')).toBe(1_019);
    expect(positions.timestampAt('t', 0, '40')).toBe(1_004);
    expect(positions.timestampAt('t', 0, '185')).toBeNull();
    // Only the last 16 heads are kept.
    expect(positions.timestampAt('t', 0, '30')).toBeNull();
    // Not processed yet: the last processed record stands in.
    expect(positions.timestampAt('t', 0, '200')).toBe(2_019);
  });
});
