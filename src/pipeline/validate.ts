import { z } from 'zod';
import { DecodeError, type DecodeResult } from './decode-error.js';

/** A transaction that passed validation: what the state engine applies. Money and time are integers. */
export interface Transaction {
  transactionId: string;
  customerId: string;
  kind: 'PURCHASE' | 'REFUND';
  /** Positive integer minor units of `currency`; the kind gives the sign. */
  amountMinor: number;
  /** ISO 4217 code, upper case. */
  currency: string;
  /** Epoch milliseconds. */
  eventTime: number;
  /** v2 field; null when absent or written with v1. */
  channel: string | null;
  /** v2 field, ISO 18245 four digits; null when absent or written with v1. */
  merchantCategory: string | null;
  /** v3 field: the transaction's margin, signed minor units; null when absent or written with v1/v2. */
  profitMinor: number | null;
}

/** A balance snapshot that passed validation (schemas/balance-v1.avsc). */
export interface BalanceSnapshot {
  customerId: string;
  accountId: string;
  /** Signed integer minor units of `currency`. */
  balanceMinor: number;
  currency: string;
  /** Epoch milliseconds: the balance holds from here on. */
  asOf: number;
}

/** Bounds from config `validation`. */
export interface ValidationLimits {
  /** Largest accepted amountMinor (default 10^13): larger is a producer bug, not a customer. */
  maxAmountMinor: number;
  /** How far an event time may lie ahead of the wall clock. */
  maxFutureSkewMs: number;
}

const ISO_4217 = new Set(Intl.supportedValuesOf('currency'));
const ID_LIMIT = 128;

const signedAmount = (limits: ValidationLimits) =>
  z
    .number()
    .int('must be an integer number of minor units')
    .min(-limits.maxAmountMinor, `must be at least -${limits.maxAmountMinor} minor units`)
    .max(limits.maxAmountMinor, `must be at most ${limits.maxAmountMinor} minor units`);

const epochMs = (limits: ValidationLimits, now: () => number) =>
  z
    .number()
    .int('must be integer epoch milliseconds')
    .min(0, 'must not be before 1970')
    .refine((t) => t <= now() + limits.maxFutureSkewMs, `is more than ${limits.maxFutureSkewMs} ms in the future`);

const currencyCode = () => z.string().refine((code) => ISO_4217.has(code), 'must be an ISO 4217 currency code');

function buildSchema(limits: ValidationLimits, now: () => number): z.ZodType<Transaction> {
  const id = z.string().min(1, 'must not be empty').max(ID_LIMIT, `must be at most ${ID_LIMIT} characters`);
  return z.object({
    transactionId: id,
    customerId: id,
    kind: z.enum(['PURCHASE', 'REFUND']),
    amountMinor: z
      .number()
      .int('must be an integer number of minor units')
      .min(1, 'must be positive (refunds use kind REFUND)')
      .max(limits.maxAmountMinor, `must be at most ${limits.maxAmountMinor} minor units`),
    currency: currencyCode(),
    eventTime: epochMs(limits, now),
    channel: z.string().min(1).max(32, 'must be at most 32 characters').nullable().default(null),
    merchantCategory: z
      .string()
      .regex(/^\d{4}$/, 'must be four digits (ISO 18245)')
      .nullable()
      .default(null),
    profitMinor: signedAmount(limits).nullable().default(null),
  });
}

function buildBalanceSchema(limits: ValidationLimits, now: () => number): z.ZodType<BalanceSnapshot> {
  return z.object({
    customerId: z.string().min(1, 'must not be empty').max(ID_LIMIT, `must be at most ${ID_LIMIT} characters`),
    accountId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1..64 letters, digits, "_", "." or "-"'),
    balanceMinor: signedAmount(limits),
    currency: currencyCode(),
    asOf: epochMs(limits, now),
  });
}

/**
 * Builds the transaction validator. Unknown extra fields are dropped (as an Avro reader ignores
 * fields it does not know). The error message lists every failing field with the rule it broke,
 * never the value.
 *
 * A record every rule plainly accepts is checked by {@link acceptPlainTransaction}, about a tenth
 * of zod's cost per record; anything else (a rejection, or a value the plain check is not sure
 * of) goes through the zod schema of {@link createStrictTransactionValidator}, which decides and
 * words the error. Both accept exactly the same records with the same result (a property test
 * compares them).
 *
 * @param now wall clock for the future-skew rule; tests pass a fixed one.
 */
export function createTransactionValidator(limits: ValidationLimits, now: () => number = Date.now): (raw: unknown) => DecodeResult<Transaction> {
  const strict = createStrictTransactionValidator(limits, now);
  return (raw) => acceptPlainTransaction(raw, limits, now) ?? strict(raw);
}

/** The transaction validator through the zod schema alone: the reference the fast path is held to. */
export function createStrictTransactionValidator(limits: ValidationLimits, now: () => number = Date.now): (raw: unknown) => DecodeResult<Transaction> {
  return validatorOf(buildSchema(limits, now));
}

/** A string of 1..max UTF-16 units: zod's length rules hold (it counts code points, never more than units). */
const plainId = (value: unknown, max: number): value is string => typeof value === 'string' && value.length >= 1 && value.length <= max;

/** A safe integer in [min, max]: zod's `int()` and bounds hold. */
const plainInt = (value: unknown, min: number, max: number): value is number => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;

const FOUR_DIGITS = /^\d{4}$/;

/**
 * The schema of {@link buildSchema} for a record that passes every rule, written out: the accepted
 * transaction, or null when any field is not plainly valid (the caller asks zod then).
 */
function acceptPlainTransaction(raw: unknown, limits: ValidationLimits, now: () => number): DecodeResult<Transaction> | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const { transactionId, customerId, kind, amountMinor, currency, eventTime, channel = null, merchantCategory = null, profitMinor = null } = raw as Record<string, unknown>;
  if (!plainId(transactionId, ID_LIMIT) || !plainId(customerId, ID_LIMIT)) return null;
  if (kind !== 'PURCHASE' && kind !== 'REFUND') return null;
  if (!plainInt(amountMinor, 1, limits.maxAmountMinor)) return null;
  if (typeof currency !== 'string' || !ISO_4217.has(currency)) return null;
  if (!plainInt(eventTime, 0, Number.MAX_SAFE_INTEGER) || eventTime > now() + limits.maxFutureSkewMs) return null;
  if (channel !== null && !plainId(channel, 32)) return null;
  if (merchantCategory !== null && (typeof merchantCategory !== 'string' || !FOUR_DIGITS.test(merchantCategory))) return null;
  if (profitMinor !== null && !plainInt(profitMinor, -limits.maxAmountMinor, limits.maxAmountMinor)) return null;
  return { ok: true, value: { transactionId, customerId, kind, amountMinor, currency, eventTime, channel, merchantCategory, profitMinor } };
}

/**
 * Builds the balance snapshot validator, by the same rules as {@link createTransactionValidator}:
 * balances are signed, bounded by the same maximum amount in absolute value; asOf by the same
 * future skew.
 */
export function createBalanceValidator(limits: ValidationLimits, now: () => number = Date.now): (raw: unknown) => DecodeResult<BalanceSnapshot> {
  return validatorOf(buildBalanceSchema(limits, now));
}

function validatorOf<T>(schema: z.ZodType<T>): (raw: unknown) => DecodeResult<T> {
  return (raw) => {
    const result = schema.safeParse(raw);
    if (result.success) return { ok: true, value: result.data };
    const issues = result.error.issues;
    const message = issues.map((issue) => `${issue.path.length === 0 ? 'record' : issue.path.join('.')}: ${issue.message}`).join('; ');
    const path = (issues[0]?.path ?? []).filter((key): key is string | number => typeof key !== 'symbol');
    return { ok: false, error: new DecodeError('VALIDATION_FAILED', message, path) };
  };
}
