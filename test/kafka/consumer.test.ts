import { describe, expect, it } from 'vitest';
import { toKafkaRecord } from '../../src/kafka/consumer.js';

describe('toKafkaRecord', () => {
  it('keeps offset as a string, timestamps as numbers and headers as bytes', () => {
    const record = toKafkaRecord('tx', 3, {
      key: Buffer.from('c-1'),
      value: Buffer.from('v'),
      timestamp: '1700000000123',
      attributes: 0,
      offset: '9007199254740993',
      headers: { a: 'text', b: Buffer.from([1]), c: ['first', 'last'], d: undefined },
    });
    expect(record).toEqual({
      topic: 'tx',
      partition: 3,
      offset: '9007199254740993',
      key: Buffer.from('c-1'),
      value: Buffer.from('v'),
      timestamp: 1_700_000_000_123,
      headers: { a: Buffer.from('text'), b: Buffer.from([1]), c: Buffer.from('last') },
    });
  });

  it('turns absent keys and values into null', () => {
    const record = toKafkaRecord('tx', 0, { key: null, value: null, timestamp: '0', attributes: 0, offset: '0', size: 0 });
    expect(record.key).toBeNull();
    expect(record.value).toBeNull();
    expect(record.headers).toEqual({});
  });
});
