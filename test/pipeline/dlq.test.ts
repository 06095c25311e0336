import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { DecodeError } from '../../src/pipeline/decode-error.js';
import { createTransactionValidator } from '../../src/pipeline/validate.js';
import { buildDlqRecord, DLQ_HEADERS } from '../../src/pipeline/dlq.js';

const source: KafkaRecord = {
  topic: 'transactions',
  partition: 7,
  offset: '123456789012',
  key: Buffer.from('customer-SECRET-1'),
  value: Buffer.from('{"customerId":"customer-SECRET-1","amountMinor":-5}'),
  headers: { 'trace-id': Buffer.from('abc'), 'x-customer-email': Buffer.from('someone@example.com') },
  timestamp: 1_700_000_000_000,
};

describe('buildDlqRecord', () => {
  const error = new DecodeError('VALIDATION_FAILED', 'amountMinor: must be positive (refunds use kind REFUND)', ['amountMinor']);
  const dlq = buildDlqRecord(source, error, new Date(Date.UTC(2026, 10, 23, 21, 0, 0)));

  it('carries the original key and value bytes unchanged', () => {
    expect(dlq.key).toBe(source.key);
    expect(dlq.value).toBe(source.value);
  });

  it('names the error class, message and source topic / partition / offset, and when', () => {
    expect(dlq.headers).toEqual({
      [DLQ_HEADERS.errorClass]: 'VALIDATION_FAILED',
      [DLQ_HEADERS.errorMessage]: 'amountMinor: must be positive (refunds use kind REFUND)',
      [DLQ_HEADERS.sourceTopic]: 'transactions',
      [DLQ_HEADERS.sourcePartition]: '7',
      [DLQ_HEADERS.sourceOffset]: '123456789012',
      [DLQ_HEADERS.failedAt]: '2026-11-23T21:00:00.000Z',
    });
  });

  it('puts no customer data in headers, even for a real validation failure and the producer headers', () => {
    const validate = createTransactionValidator({ maxAmountMinor: 1e13, maxFutureSkewMs: 0 }, () => 0);
    const result = validate({ transactionId: 'tx-SECRET', customerId: 'customer-SECRET-1', kind: 'GIFT', amountMinor: -5, currency: 'SECRET', eventTime: 99 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const headers = Object.values(buildDlqRecord(source, result.error, new Date(0)).headers ?? {}).join('\n');
    expect(headers).not.toMatch(/SECRET|example\.com/);
    expect(headers).toMatch(/kind: .*amountMinor: .*currency: .*eventTime: /s);
  });

  it('cuts an overlong message', () => {
    const long = buildDlqRecord(source, new DecodeError('VALIDATION_FAILED', 'x'.repeat(5_000)), new Date(0));
    expect(String(long.headers?.[DLQ_HEADERS.errorMessage]).length).toBe(1_000);
  });
});
