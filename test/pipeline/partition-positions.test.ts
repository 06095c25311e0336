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
});
