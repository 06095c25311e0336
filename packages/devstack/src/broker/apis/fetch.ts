import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { AppendNotifier } from '../log/append-notifier.js';
import type { AbortedTxn } from '../log/txn-index.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { topicReader, topicWriter, type TopicPartitions } from '../protocol/topic-partitions.js';
import { Writer } from '../protocol/writer.js';

interface PartitionRequest {
  readonly index: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
}

interface PartitionAnswer {
  readonly index: number;
  readonly errorCode: KafkaErrorCode;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  /** `null` for read_uncommitted, where Kafka sends a null array. */
  readonly abortedTransactions: AbortedTxn[] | null;
  readonly records: Buffer[];
  readonly bytes: number;
}

const READ_COMMITTED = 1;

/** Upper bound on a client's max_wait_ms, so a bogus value cannot pin a connection for days. */
const MAX_WAIT_CAP_MS = 60_000;

/**
 * Fetch v4–v11 (https://kafka.apache.org/protocol#The_Messages_Fetch); v12 is flexible.
 *
 * Long polling: when fewer than `min_bytes` are available the response is held until an append
 * to a requested partition, `max_wait_ms`, or the client disconnecting — whichever is first.
 * Stored batches are appended to the response by reference, never decoded or re-encoded.
 *
 * Isolation (KIP-98): READ_COMMITTED (isolation_level 1, what both clients send by default) is
 * served up to the last stable offset only, with the aborted transactions the served range
 * overlaps, so the client drops their records; READ_UNCOMMITTED (0) up to the high watermark,
 * aborted_transactions null. Control batches are served like any other batch: clients skip them.
 * Fetch sessions (KIP-227) are declined: session_id 0 is always answered, which clients treat as
 * "full fetch every time"; an incremental fetch naming a session gets FETCH_SESSION_ID_NOT_FOUND.
 */
export function fetchHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.Fetch,
    minVersion: 4,
    maxVersion: 11,
    async handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      body.readInt32(); // replica_id
      const maxWaitMs = Math.min(Math.max(body.readInt32(), 0), MAX_WAIT_CAP_MS);
      const minBytes = body.readInt32();
      const maxBytes = body.readInt32();
      const readCommitted = body.readInt8() === READ_COMMITTED;
      const sessionId = version >= 7 ? body.readInt32() : 0;
      if (version >= 7) body.readInt32(); // session_epoch
      const topics = body.readArray(
        topicReader((pr): PartitionRequest => {
          const index = pr.readInt32();
          if (version >= 9) pr.readInt32(); // current_leader_epoch
          const fetchOffset = pr.readInt64Number();
          if (version >= 5) pr.readInt64(); // log_start_offset (followers only)
          return { index, fetchOffset, partitionMaxBytes: pr.readInt32() };
        }),
      );
      if (version >= 7) body.readArray(topicReader((pr) => pr.readInt32())); // forgotten_topics_data
      if (version >= 11) body.readString(); // rack_id

      if (sessionId !== 0) return writeResponse(version, KafkaErrorCode.FETCH_SESSION_ID_NOT_FOUND, []);

      const deadline = Date.now() + maxWaitMs;
      const keys = new Set<string>();
      for (const t of topics) for (const p of t.partitions) keys.add(AppendNotifier.key(t.name, p.index));
      for (;;) {
        const { answers, bytes, hasError } = collect(state, topics, maxBytes, readCommitted);
        const waitMs = deadline - Date.now();
        if (bytes >= minBytes || hasError || waitMs <= 0 || ctx.connection.closed.aborted) {
          return writeResponse(version, KafkaErrorCode.NONE, answers);
        }
        await state.notifier.wait(keys, waitMs, ctx.connection.closed);
      }
    },
  };
}

function collect(
  state: BrokerState,
  topics: readonly TopicPartitions<PartitionRequest>[],
  maxBytes: number,
  readCommitted: boolean,
): { answers: TopicPartitions<PartitionAnswer>[]; bytes: number; hasError: boolean } {
  let bytes = 0;
  let hasError = false;
  const answers = topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p): PartitionAnswer => {
      const log = state.store.partition(t.name, p.index);
      const empty = { records: [], bytes: 0, abortedTransactions: readCommitted ? [] : null };
      if (log === undefined) {
        hasError = true;
        return { index: p.index, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, ...empty };
      }
      const hw = log.highWatermark;
      const lso = log.lastStableOffset;
      const start = log.logStartOffset;
      // The valid range is up to the high watermark under either isolation, as in Kafka: a
      // read_committed consumer positioned past the LSO just gets nothing until it moves.
      if (p.fetchOffset < start || p.fetchOffset > hw) {
        hasError = true;
        return { index: p.index, errorCode: KafkaErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: hw, lastStableOffset: lso, logStartOffset: start, ...empty };
      }
      const upper = readCommitted ? lso : hw;
      const limit = Math.max(0, Math.min(p.partitionMaxBytes, maxBytes - bytes));
      // KIP-74: the first batch of the response is served even when it alone exceeds the limits.
      const read = p.fetchOffset < upper ? log.read(p.fetchOffset, limit, bytes === 0, upper) : { buffers: [], bytes: 0, nextOffset: p.fetchOffset };
      bytes += read.bytes;
      const abortedTransactions = readCommitted ? log.txns.abortedIn(p.fetchOffset, read.nextOffset) : null;
      return { index: p.index, errorCode: KafkaErrorCode.NONE, highWatermark: hw, lastStableOffset: lso, logStartOffset: start, abortedTransactions, records: read.buffers, bytes: read.bytes };
    }),
  }));
  return { answers, bytes, hasError };
}

function writeResponse(
  version: number,
  errorCode: KafkaErrorCode,
  answers: readonly TopicPartitions<PartitionAnswer>[],
): Writer {
  const w = new Writer(256);
  w.writeInt32(0); // throttle_time_ms
  if (version >= 7) w.writeInt16(errorCode).writeInt32(0); // session_id
  w.writeArray(
    answers,
    topicWriter((pw, p: PartitionAnswer) => {
      pw.writeInt32(p.index).writeInt16(p.errorCode).writeInt64(p.highWatermark);
      pw.writeInt64(p.lastStableOffset);
      if (version >= 5) pw.writeInt64(p.logStartOffset);
      // read_committed with none: empty, not null, as Kafka 2.4 answered.
      pw.writeNullableArray(p.abortedTransactions, (aw, t) => aw.writeInt64(t.producerId).writeInt64(t.firstOffset));
      if (version >= 11) pw.writeInt32(-1); // preferred_read_replica
      pw.writeInt32(p.bytes);
      for (const b of p.records) pw.appendRef(b);
    }),
  );
  return w;
}
