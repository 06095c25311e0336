import type { KafkaRecord, OutgoingRecord } from '../kafka/types.js';
import type { DecodeError } from './decode-error.js';

/**
 * Headers pyramid puts on a dead-lettered record. They describe the failure and where the record
 * came from, never its content: the original key and value travel unchanged as key and value.
 */
export const DLQ_HEADERS = {
  /** The rejection reason, e.g. VALIDATION_FAILED (see DECODE_ERROR_REASONS). */
  errorClass: 'pyramid.error.class',
  /** What rule failed, in words; never quotes field values. */
  errorMessage: 'pyramid.error.message',
  sourceTopic: 'pyramid.source.topic',
  sourcePartition: 'pyramid.source.partition',
  sourceOffset: 'pyramid.source.offset',
  /** ISO 8601 UTC time pyramid rejected the record. */
  failedAt: 'pyramid.failed.at',
} as const;

/** Kafka headers are not meant for essays; a longer message is cut here. */
const MAX_MESSAGE_CHARS = 1_000;

/**
 * The DLQ record for a rejected record: original key and value bytes, so the record can be fixed
 * and replayed to the source topic as it was, plus the failure headers. The producer's own headers
 * are not copied, since pyramid cannot vouch that they hold no customer data.
 */
export function buildDlqRecord(record: KafkaRecord, error: DecodeError, failedAt: Date): OutgoingRecord {
  return {
    key: record.key,
    value: record.value,
    headers: {
      [DLQ_HEADERS.errorClass]: error.reason,
      [DLQ_HEADERS.errorMessage]: error.message.length > MAX_MESSAGE_CHARS ? `${error.message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : error.message,
      [DLQ_HEADERS.sourceTopic]: record.topic,
      [DLQ_HEADERS.sourcePartition]: String(record.partition),
      [DLQ_HEADERS.sourceOffset]: record.offset,
      [DLQ_HEADERS.failedAt]: failedAt.toISOString(),
    },
  };
}
