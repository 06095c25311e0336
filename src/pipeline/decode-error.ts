/**
 * Why a Kafka record could not become a Transaction. These are the DLQ's `pyramid.error.class`
 * values, so operators can filter the DLQ by cause.
 */
export const DECODE_ERROR_REASONS = [
  /** The record has no value (a tombstone). */
  'EMPTY_VALUE',
  /** Avro mode, but the value does not start with the Confluent magic byte and schema id. */
  'NO_MAGIC_BYTE',
  /** The registry does not know the writer schema id. */
  'UNKNOWN_SCHEMA_ID',
  /** The writer schema cannot be resolved to pyramid's Transaction reader schema. */
  'INCOMPATIBLE_SCHEMA',
  /** The Avro body does not decode with its writer schema (truncated, trailing bytes, unsafe long). */
  'AVRO_DECODE_FAILED',
  /** JSON mode, but the value is not a UTF-8 JSON object. */
  'INVALID_JSON',
  /** Decoded, but a field breaks the contract (amount bounds, id lengths, currency, timestamps). */
  'VALIDATION_FAILED',
  /** The Kafka key is missing or is not the record's customerId (producers key by customerId). */
  'KEY_MISMATCH',
] as const;

export type DecodeErrorReason = (typeof DECODE_ERROR_REASONS)[number];

/**
 * A rejected record. Not an `Error`: rejections are data flowing to the DLQ, not exceptions, and
 * a bad batch should not pay for thousands of stack traces. The message never echoes field values
 * (they are customer data and end up in DLQ headers and logs).
 */
export class DecodeError {
  constructor(
    readonly reason: DecodeErrorReason,
    readonly message: string,
    /** For VALIDATION_FAILED: the path of the first failing field, e.g. ['amountMinor']. */
    readonly path: ReadonlyArray<string | number> = [],
  ) {}
}

/** Outcome of decoding or validating one record. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: DecodeError };
