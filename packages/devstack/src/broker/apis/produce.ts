import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import type { PartitionLog } from '../log/partition-log.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { topicReader, topicWriter, type TopicPartitions } from '../protocol/topic-partitions.js';
import { Writer } from '../protocol/writer.js';
import { BatchAttribute, BatchLayout, checkProducedBatch, splitBatches, type BatchHeader } from '../records/batch.js';

interface PartitionAnswer {
  readonly index: number;
  readonly errorCode: KafkaErrorCode;
  readonly baseOffset: number;
  readonly logStartOffset: number;
}

/**
 * Produce v0–v8 (https://kafka.apache.org/protocol#The_Messages_Produce), magic-2 record batches
 * only; both clients send v7 (WIRE-FACTS.md §2). v0–v2 carry magic 0/1 message sets, which are
 * parsed and refused per partition with UNSUPPORTED_FOR_MESSAGE_FORMAT. They are still advertised
 * because librdkafka enables codecs by overlap with Produce v0 (rdkafka_msgset_writer.c,
 * `compr_req`): with min version 3 it silently stops compressing gzip batches.
 *
 * Each partition's batches are validated (CRC-32C, codec none/gzip, record structure) and then
 * appended with idempotence checks; a partition's answer never depends on another's. A request
 * with a transactional id must carry transactional batches of that id's current producer id and
 * epoch, to a partition its ongoing transaction added (else INVALID_PRODUCER_EPOCH for a fenced
 * producer, INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING); transactional batches without one are
 * refused with INVALID_REQUEST, since no coordinator would ever end their transaction. The
 * response is written only after every accepted batch has been written to the log (and fsynced
 * under `fsync: 'always'`), so an acknowledged record survives a kill -9 of the broker.
 */
export function produceHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.Produce,
    minVersion: 0,
    maxVersion: 8,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const transactionalId = version >= 3 ? body.readNullableString() : null;
      const acks = body.readInt16();
      body.readInt32(); // timeout_ms: appends are synchronous, nothing to wait for
      const request = body.readArray(topicReader((pr) => ({ index: pr.readInt32(), records: pr.readNullableBytes() })));

      const logger = ctx.broker.logger;
      const syncBeforeAck = state.config.fsync === 'always' && acks !== 0;
      const touched = new Set<PartitionLog>();
      const answers: TopicPartitions<PartitionAnswer>[] = request.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p): PartitionAnswer => {
          const fail = (errorCode: KafkaErrorCode): PartitionAnswer => ({ index: p.index, errorCode, baseOffset: -1, logStartOffset: -1 });
          if (acks !== 0 && acks !== 1 && acks !== -1) return fail(KafkaErrorCode.INVALID_REQUIRED_ACKS);
          const log = state.store.partition(topic.name, p.index);
          if (log === undefined) return fail(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          // Kafka's ReplicaManager refuses client writes to internal topics the same way: only the
          // coordinator writes __consumer_offsets, so its records always decode.
          if (state.store.isInternal(topic.name)) return fail(KafkaErrorCode.INVALID_TOPIC_EXCEPTION);
          // Magic sits at byte 16 in both old message sets and record batches; refuse old formats
          // before trying to split them as batches.
          if (p.records !== null && p.records.length > BatchLayout.MAGIC && p.records[BatchLayout.MAGIC] !== 2) {
            return fail(KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
          }
          const batches = p.records === null ? null : splitBatches(p.records);
          if (batches === null || batches.length === 0) return fail(KafkaErrorCode.CORRUPT_MESSAGE);
          const checked = [];
          for (const batch of batches) {
            const check = checkProducedBatch(batch, state.config.maxFrameSize);
            if (!check.ok) {
              logger.warn({ topic: topic.name, partition: p.index, reason: check.reason, errorCode: check.errorCode }, 'rejected produced batch');
              return fail(check.errorCode);
            }
            checked.push({ batch, header: check.header });
          }
          const txnError = transactionCheck(state, transactionalId, checked, topic.name, p.index);
          if (txnError !== KafkaErrorCode.NONE) return fail(txnError);
          let firstOffset = -1;
          try {
            for (const { batch, header } of checked) {
              const result = log.append(batch, header);
              if (result.kind === 'reject') return fail(result.errorCode);
              if (result.kind === 'appended') touched.add(log);
              if (firstOffset < 0) firstOffset = result.baseOffset;
            }
            // Inside the try: a failed fdatasync is this partition's storage error, not a reason
            // to drop the connection with every other partition's answer.
            if (syncBeforeAck) log.sync();
          } catch (err) {
            logger.error({ err, topic: topic.name, partition: p.index }, 'log append failed');
            return fail(KafkaErrorCode.KAFKA_STORAGE_ERROR);
          }
          return { index: p.index, errorCode: KafkaErrorCode.NONE, baseOffset: firstOffset, logStartOffset: log.logStartOffset };
        }),
      }));

      for (const log of touched) state.notifier.notify(log.topic, log.partition);
      if (acks === 0) return null;

      const w = new Writer(64 + answers.length * 64);
      w.writeArray(
        answers,
        topicWriter((pw, p: PartitionAnswer) => {
          pw.writeInt32(p.index).writeInt16(p.errorCode).writeInt64(p.baseOffset);
          if (version >= 2) pw.writeInt64(-1); // log_append_time_ms: CreateTime topics
          if (version >= 5) pw.writeInt64(p.logStartOffset);
          if (version >= 8) {
            pw.writeInt32(0); // record_errors
            pw.writeNullableString(null); // error_message
          }
        }),
      );
      if (version >= 1) w.writeInt32(0); // throttle_time_ms
      return w;
    },
  };
}

/**
 * NONE when the batches' transactional bit agrees with the request's transactional id and the
 * coordinator lets this producer write to the partition now; else the error to answer.
 */
function transactionCheck(
  state: BrokerState,
  transactionalId: string | null,
  batches: readonly { readonly header: BatchHeader }[],
  topic: string,
  partition: number,
): KafkaErrorCode {
  const first = batches[0]?.header;
  const transactional = batches.map((b) => (b.header.attributes & BatchAttribute.Transactional) !== 0);
  if (transactionalId === null) return transactional.some(Boolean) ? KafkaErrorCode.INVALID_REQUEST : KafkaErrorCode.NONE;
  if (first === undefined || !transactional.every(Boolean)) return KafkaErrorCode.INVALID_REQUEST;
  if (batches.some((b) => b.header.producerId !== first.producerId || b.header.producerEpoch !== first.producerEpoch)) return KafkaErrorCode.INVALID_REQUEST;
  return state.transactions.checkProduce(transactionalId, first.producerId, first.producerEpoch, topic, partition);
}
