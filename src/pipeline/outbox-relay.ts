import type { Instrumentation } from '../instrumentation.js';
import type { PyramidTransactionalProducer } from '../kafka/transactional-producer.js';
import { partitionKey, type OutgoingRecord, type TopicPartition } from '../kafka/types.js';
import { silentLogger, type Logger } from '../logger.js';
import { outboxId, outboxSeqOf } from '../state/outbox-codec.js';
import type { StateStore } from '../state/store.js';
import { SerialChains } from './serial.js';
import type { SignalEncoder } from './signal-encoder.js';
import type { TierChangeEncoder } from './tier-change-encoder.js';

export interface OutboxRelayOptions {
  store: StateStore;
  /**
   * The scorer's consumer group id. With the input topic and partition it names each partition's
   * transactional id ({@link relayTransactionalId}) and the group its progress is recorded under
   * ({@link relayProgressGroupId}).
   */
  groupId: string;
  /** Builds the transactional producer of one transactional id (`PyramidKafka.createTransactionalProducer`). */
  createProducer(transactionalId: string): PyramidTransactionalProducer;
  /** The tier-changes topic. */
  topic: string;
  encoder: TierChangeEncoder;
  /** Where signal entries of the outbox go: the signals topic and its encoder. */
  signals: { topic: string; encoder: SignalEncoder };
  instrumentation?: Instrumentation;
  logger?: Logger;
  /** Outbox entries per transaction; default {@link DEFAULT_RELAY_CHUNK}. */
  chunk?: number;
}

/** What one flush did. */
export interface FlushResult {
  published: number;
  /** False when `shouldContinue` stopped it before the outbox was empty. */
  complete: boolean;
}

/**
 * Publishes each input partition's outbox, tier changes to the tier-changes topic and signals to
 * the signals topic, exactly once for `read_committed` readers, then trims what is published.
 */
export interface OutboxRelay {
  /**
   * Publishes every pending change and signal of one input partition, in outbox order, keyed by
   * customerId.
   *
   * Each chunk of entries (both kinds) goes out in ONE Kafka transaction of the partition's own transactional
   * producer, together with how far the partition is published: the next outbox sequence, as the
   * committed offset of {@link relayProgressGroupId} for the input partition. The first flush of a
   * partition claims its transactional id (the broker aborts whatever an earlier owner left open
   * and fences that owner), then reads the progress back and skips (trims) the entries at or
   * before it; every failed publish makes the next flush read it back again, since a lost commit
   * reply may hide a committed transaction. The outbox is written only by the partition's fenced
   * commits and its sequence numbers are deterministic, so entries never change.
   *
   * Flushes of one partition never overlap (a batch, the sweeper and an assignment may all ask).
   * `shouldContinue` is checked before each transaction (stale batch: stop publishing).
   * @throws PyramidError REDIS_UNAVAILABLE / KAFKA_UNAVAILABLE (the caller retries),
   *   KAFKA_PRODUCER_FENCED (another instance relays this partition now; every later flush of it
   *   throws this until it is closed), KAFKA_TRANSACTION_FAILED
   */
  flush(topic: string, partition: number, shouldContinue?: () => boolean): Promise<FlushResult>;
  /**
   * Disconnects the producers of `partitions` (revoked), or of every partition when omitted
   * (shutdown), after their flushes in progress. A later flush of one builds a new producer.
   */
  close(partitions?: readonly TopicPartition[]): Promise<void>;
}

/** Outbox entries per transaction: large enough that a burst of changes costs few round trips. */
export const DEFAULT_RELAY_CHUNK = 5000;

/**
 * The transactional id of one input partition's relay. The same on every instance of the group,
 * so a new owner's producer fences the previous owner's. Topic names never contain `:` and the
 * partition is digits, so distinct triples never collide whatever the group id holds.
 */
export function relayTransactionalId(groupId: string, topic: string, partition: number): string {
  return `${groupId}:relay:${topic}:${partition}`;
}

/**
 * The group whose committed offset of an input partition is the next outbox sequence its relay
 * will publish. Not a consumer group: it has no members, and its offsets are sequence numbers,
 * not positions in the input topic (its "lag" means nothing).
 */
export function relayProgressGroupId(groupId: string): string {
  return `${groupId}:relay-progress`;
}

/** One input partition's relay: its producer and how far it is published. */
interface Lane {
  producer: PyramidTransactionalProducer;
  /** The next outbox sequence to publish as the last committed transaction recorded it; null: read it first. */
  next: number | null;
}

/** Builds the relay. */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { store, encoder, instrumentation } = options;
  const logger = options.logger ?? silentLogger;
  const chunk = options.chunk ?? DEFAULT_RELAY_CHUNK;
  const progressGroupId = relayProgressGroupId(options.groupId);
  const chains = new SerialChains();
  const lanes = new Map<string, Lane>();

  function laneOf(topic: string, partition: number): Lane {
    const key = partitionKey(topic, partition);
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { producer: options.createProducer(relayTransactionalId(options.groupId, topic, partition)), next: null };
      lanes.set(key, lane);
    }
    return lane;
  }

  /**
   * Claims the transactional id, then reads the recorded progress: after the claim no earlier
   * owner can commit any more, so what is read is final. Entries at or before it are published.
   */
  async function resume(lane: Lane, topic: string, partition: number): Promise<number> {
    await lane.producer.init();
    const recorded = await lane.producer.readProgress(progressGroupId, topic, partition);
    const next = recorded === null ? 1 : Number(recorded);
    if (next <= 1) return 1;
    // Progress beyond the last sequence the outbox ever used belongs to state that is gone (Redis
    // emptied, or a new key prefix under the same group id): its sequences start again at 1.
    const lastSeq = (await store.readMeta(topic, partition))?.outboxSeq ?? 0;
    if (next - 1 > lastSeq) {
      logger.warn({ topic, partition, recorded, outboxSeq: lastSeq }, 'recorded relay progress is beyond this outbox; publishing the outbox from its start');
      return 1;
    }
    await store.trimOutbox(topic, partition, outboxId(next - 1));
    return next;
  }

  async function drain(topic: string, partition: number, shouldContinue: () => boolean): Promise<FlushResult> {
    let published = 0;
    // An empty read means nothing is left to publish; otherwise the last trim says what is left.
    let pending = 0;
    if (!shouldContinue()) return { published, complete: false };
    const lane = laneOf(topic, partition);
    lane.next ??= await resume(lane, topic, partition);
    for (;;) {
      if (!shouldContinue()) return { published, complete: false };
      const entries = await store.readOutbox(topic, partition, outboxId(lane.next - 1), chunk);
      const last = entries[entries.length - 1];
      if (last === undefined) {
        pending = 0;
        break;
      }
      const reached = outboxSeqOf(last.id) + 1;
      const changes: OutgoingRecord[] = [];
      const signals: OutgoingRecord[] = [];
      for (const entry of entries) {
        if (entry.signal !== undefined) signals.push({ key: entry.signal.customerId, value: options.signals.encoder.encode(entry.signal) });
        else changes.push({ key: entry.change.customerId, value: encoder.encode(entry.change) });
      }
      const sends = [
        { topic: options.topic, records: changes },
        { topic: options.signals.topic, records: signals },
      ].filter((send) => send.records.length > 0);
      try {
        await lane.producer.publish({
          sends,
          progress: { groupId: progressGroupId, topic, partition, offset: String(reached) },
        });
      } catch (err) {
        lane.next = null;
        throw err;
      }
      lane.next = reached;
      pending = (await store.trimOutbox(topic, partition, last.id)).remaining;
      published += entries.length;
      for (const { change, signal } of entries) {
        if (signal !== undefined) {
          instrumentation?.emit('signal.published', { type: signal.type, cause: signal.cause, topic, partition });
          continue;
        }
        instrumentation?.emit('tier.change', {
          from: change.previousTier,
          to: change.newTier,
          cause: change.cause,
          topic,
          partition,
          effectiveAt: change.effectiveAt,
          policyVersion: change.policyVersion,
        });
      }
      if (entries.length < chunk) break;
    }
    instrumentation?.emit('outbox.pending', { topic, partition, pending });
    return { published, complete: true };
  }

  async function closeLane(key: string): Promise<void> {
    const lane = lanes.get(key);
    lanes.delete(key);
    await lane?.producer.disconnect();
  }

  return {
    flush(topic, partition, shouldContinue = () => true) {
      return chains.run(partitionKey(topic, partition), () => drain(topic, partition, shouldContinue));
    },
    async close(partitions) {
      const keys = partitions === undefined ? [...lanes.keys()] : partitions.map((tp) => partitionKey(tp.topic, tp.partition));
      await Promise.all(keys.map((key) => chains.run(key, () => closeLane(key))));
    },
  };
}
