import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBalanceValidator, createStrictTransactionValidator, createTransactionValidator } from '../../src/pipeline/validate.js';

const NOW = 1_700_000_000_000;
const validate = createTransactionValidator({ maxAmountMinor: 10_000_000_000_000, maxFutureSkewMs: 300_000 }, () => NOW);

const good = { transactionId: 'tx-1', customerId: 'cust-1', kind: 'PURCHASE', amountMinor: 4_999, currency: 'CNY', eventTime: NOW - 1_000 };

function failure(raw: unknown): { path: string; message: string } {
  const result = validate(raw);
  if (result.ok) throw new Error('expected a validation failure');
  expect(result.error.reason).toBe('VALIDATION_FAILED');
  return { path: result.error.path.join('.'), message: result.error.message };
}

describe('transaction validation', () => {
  it('accepts a valid record and fills the v2 fields with null', () => {
    expect(validate(good)).toEqual({ ok: true, value: { ...good, channel: null, merchantCategory: null, profitMinor: null } });
  });

  it('keeps valid v2 fields and drops unknown extra fields', () => {
    const result = validate({ ...good, channel: 'ONLINE', merchantCategory: '5411', loyaltyCard: 'x' });
    expect(result).toEqual({ ok: true, value: { ...good, channel: 'ONLINE', merchantCategory: '5411', profitMinor: null } });
  });

  it.each([
    ['zero amount', { amountMinor: 0 }, 'amountMinor'],
    ['negative amount', { amountMinor: -5 }, 'amountMinor'],
    ['fractional amount', { amountMinor: 12.5 }, 'amountMinor'],
    ['absurd amount', { amountMinor: 10_000_000_000_001 }, 'amountMinor'],
    ['amount as a string', { amountMinor: '4999' }, 'amountMinor'],
    ['decimal amount instead of minor units', { amountMinor: undefined, amount: '49.99' }, 'amountMinor'],
    ['empty transaction id', { transactionId: '' }, 'transactionId'],
    ['transaction id of 129 characters', { transactionId: 'x'.repeat(129) }, 'transactionId'],
    ['customer id of 129 characters', { customerId: 'c'.repeat(129) }, 'customerId'],
    ['missing customer id', { customerId: undefined }, 'customerId'],
    ['unknown kind', { kind: 'CHARGEBACK' }, 'kind'],
    ['lower-case currency', { currency: 'cny' }, 'currency'],
    ['made-up currency', { currency: 'ABC' }, 'currency'],
    ['event time too far in the future', { eventTime: NOW + 300_001 }, 'eventTime'],
    ['event time before 1970', { eventTime: -1 }, 'eventTime'],
    ['fractional event time', { eventTime: NOW - 0.5 }, 'eventTime'],
    ['event time as an ISO string', { eventTime: '2023-11-14T22:13:20Z' }, 'eventTime'],
    ['merchant category not four digits', { merchantCategory: '54a1' }, 'merchantCategory'],
    ['channel too long', { channel: 'x'.repeat(33) }, 'channel'],
  ])('rejects %s at its path', (_name, change, path) => {
    expect(failure({ ...good, ...change }).path).toBe(path);
  });

  it('accepts the boundaries: largest amount, id of 128 characters, event time at the skew limit', () => {
    expect(validate({ ...good, amountMinor: 10_000_000_000_000, transactionId: 'x'.repeat(128), eventTime: NOW + 300_000 }).ok).toBe(true);
  });

  it('rejects a non-object', () => {
    expect(failure(null).message).toMatch(/^record: /);
  });

  it('reports every failing field, without echoing values', () => {
    const { message } = failure({ ...good, customerId: 'SECRET-'.repeat(30), amountMinor: 0.5, currency: 'SECRETCUR' });
    expect(message).toMatch(/customerId: .*amountMinor: .*currency: /);
    expect(message).not.toContain('SECRET');
  });

  it('applies the configured limits', () => {
    const strict = createTransactionValidator({ maxAmountMinor: 100, maxFutureSkewMs: 0 }, () => NOW);
    expect(strict({ ...good, amountMinor: 101 }).ok).toBe(false);
    expect(strict({ ...good, amountMinor: 100, eventTime: NOW }).ok).toBe(true);
    expect(strict({ ...good, amountMinor: 100, eventTime: NOW + 1 }).ok).toBe(false);
  });

  it('accepts exactly the integer amounts in [1, max] (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -1e6, max: 2e13 }), fc.double({ noNaN: true }), fc.constant(Number.NaN)), (amountMinor) => {
        const expected = Number.isInteger(amountMinor) && amountMinor >= 1 && amountMinor <= 1e13;
        expect(validate({ ...good, amountMinor }).ok).toBe(expected);
      }),
    );
  });
});

describe('the plain-record fast path', () => {
  const limits = { maxAmountMinor: 10_000_000_000_000, maxFutureSkewMs: 300_000 };
  const strict = createStrictTransactionValidator(limits, () => NOW);
  /** Values each field is tried with: valid ones, boundaries and every kind of wrong. */
  const anyOf = (...valid: unknown[]) =>
    fc.oneof(
      fc.constantFrom(...valid),
      fc.constantFrom(undefined, null, '', 0, -1, 1.5, Number.NaN, Infinity, 2 ** 60, true, [], {}, '1234', 'x'.repeat(128), 'x'.repeat(129), '\u{1F600}'.repeat(64), '\u{1F600}'.repeat(65)),
      fc.string({ maxLength: 140 }),
      fc.integer({ min: -2e13, max: 2e13 }),
    );
  const fields = {
    transactionId: anyOf('tx-1'),
    customerId: anyOf('cust-1'),
    kind: anyOf('PURCHASE', 'REFUND', 'purchase'),
    amountMinor: anyOf(1, 4_999, 10_000_000_000_000, 10_000_000_000_001),
    currency: anyOf('CNY', 'USD', 'cny', 'ABC'),
    eventTime: anyOf(NOW, NOW + 300_000, NOW + 300_001, 0),
    channel: anyOf('ONLINE', 'x'.repeat(32), 'x'.repeat(33)),
    merchantCategory: anyOf('5411', '54a1', '54111', '٥٤١١'),
    profitMinor: anyOf(-522, 0, -10_000_000_000_000, -10_000_000_000_001),
    loyaltyCard: anyOf('x'),
  };

  it('gives exactly what the zod schema gives, accepted value or error message (property)', () => {
    fc.assert(
      fc.property(fc.record(fields, { requiredKeys: [] }), fc.nat(9), (fuzzed, keep) => {
        // Mostly valid records with a few fields fuzzed, so both paths are exercised.
        const raw: Record<string, unknown> = { ...good };
        for (const [name, value] of Object.entries(fuzzed).slice(0, keep % 4)) raw[name] = value;
        expect(validate(raw)).toEqual(strict(raw));
      }),
      { numRuns: 5_000 },
    );
  });

  it('gives what zod gives for values that are no plain object', () => {
    class AvroRecord {
      constructor(readonly transactionId = 'tx-1', readonly customerId = 'c', readonly kind = 'REFUND', readonly amountMinor = 5, readonly currency = 'EUR', readonly eventTime = NOW) {}
    }
    for (const raw of [null, undefined, 'x', 5, [], [good], new AvroRecord(), Object.create(good) as unknown]) expect(validate(raw)).toEqual(strict(raw));
    expect(validate(new AvroRecord()).ok).toBe(true);
  });
});

describe('transaction v3: profitMinor', () => {
  it('keeps a signed margin, and names the field of a bad one', () => {
    expect(validate({ ...good, profitMinor: -522 })).toMatchObject({ ok: true, value: { profitMinor: -522 } });
    expect(failure({ ...good, profitMinor: 1.5 })).toMatchObject({ path: 'profitMinor' });
    expect(failure({ ...good, profitMinor: -20_000_000_000_000 })).toMatchObject({ path: 'profitMinor', message: expect.stringContaining('at least -10000000000000') });
  });
});

describe('balance snapshot validation', () => {
  const validateBalance = createBalanceValidator({ maxAmountMinor: 10_000_000_000_000, maxFutureSkewMs: 300_000 }, () => NOW);
  const snapshot = { customerId: 'cust-1', accountId: 'savings-01', balanceMinor: -12_345, currency: 'CNY', asOf: NOW - 1_000 };
  const balanceFailure = (raw: unknown): string => {
    const result = validateBalance(raw);
    if (result.ok) throw new Error('expected a validation failure');
    expect(result.error.reason).toBe('VALIDATION_FAILED');
    return result.error.path.join('.');
  };

  it('accepts a negative balance (an overdraft, a card debt) and drops unknown fields', () => {
    expect(validateBalance({ ...snapshot, branch: 'x' })).toEqual({ ok: true, value: snapshot });
  });

  it.each([
    ['account id with a space', { accountId: 'my savings' }, 'accountId'],
    ['empty account id', { accountId: '' }, 'accountId'],
    ['fractional balance', { balanceMinor: 1.5 }, 'balanceMinor'],
    ['balance beyond the maximum', { balanceMinor: 10_000_000_000_001 }, 'balanceMinor'],
    ['unknown currency', { currency: 'XXY' }, 'currency'],
    ['asOf too far ahead', { asOf: NOW + 300_001 }, 'asOf'],
    ['no customer', { customerId: '' }, 'customerId'],
  ])('rejects %s, naming the field', (_, change, path) => {
    expect(balanceFailure({ ...snapshot, ...change })).toBe(path);
  });
});
