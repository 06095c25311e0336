import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import { isRetriable, type PyramidError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import { kafkaError } from './errors.js';
import { partitionKey, type KafkaRecord, type PartitionBatch, type TopicPartition } from './types.js';

/** Consumer-group settings (all optional but the group). */
export interface ConsumerOptions {
  groupId: string;
  /** Default 30 s. A member silent this long is evicted and its partitions move. */
  sessionTimeoutMs?: number;
  /** Default 60 s: how long members get to finish their batch and rejoin during a rebalance. */
  rebalanceTimeoutMs?: number;
  /** Default 3 s; kafkajs throttles `heartbeat()` calls to this interval. */
  heartbeatIntervalMs?: number;
  /** Default 1 MiB: bounds the work in one partition batch, and so the time between heartbeats. */
  maxBytesPerPartition?: number;
  /** Default 250 ms: longest a fetch waits for data (latency on a quiet topic). */
  maxWaitTimeMs?: number;
  /**
   * Default `read_committed`: only records of committed transactions are delivered, and a
   * partition is read no further than its last stable offset (the first record of a transaction
   * still open). `read_uncommitted` also delivers records of open and aborted transactions.
   * Transaction markers are never delivered either way; they still occupy offsets.
   */
  isolation?: 'read_committed' | 'read_uncommitted';
  /**
   * Default false. Assign partition p of every subscribed topic to the same member
   * (co-partitioned inputs: see co-partitioned-assigner.ts); otherwise kafkajs's round robin.
   */
  coPartitioned?: boolean;
  /** Default 1. Partitions whose batches are processed in parallel by this instance. */
  partitionsConsumedConcurrently?: number;
  /**
   * Default false. Fetch a partition's next batch while its current one is handled (at most one
   * batch waiting per partition). kafkajs fetches again only once every batch of its previous
   * fetch was handled, so without this the fetch and its decoding are dead time between rounds.
   * The batch's position moves on as soon as it is accepted; a handler failure either seeks back
   * to the batch's start (retriable) or is reported as a crash (not retriable), so nothing is
   * skipped.
   */
  readAhead?: boolean;
  /**
   * Where the member's group life is announced: `consumer.group_joined`, `consumer.group_rebalancing`,
   * `consumer.group_left` and `consumer.crash` (readiness and metrics follow them). Emitted here,
   * from kafkajs's own events, so no caller can forget one (a forgotten crash announcement would
   * leave readiness at "member of the group" while the member holds nothing).
   */
  instrumentation?: Instrumentation;
}

/** A change of this member's partitions. Eager rebalancing: every rebalance revokes everything first. */
export interface AssignmentChange {
  kind: 'assigned' | 'revoked';
  partitions: TopicPartition[];
  /** Local counter, bumped at every rebalance start and every join: batches remember theirs. */
  generation: number;
  memberId: string;
  /** On `assigned`: whether this member leads the group (a cheap hint, not an election). */
  isLeader: boolean;
}

/** What a batch handler may do besides reading records. */
export interface BatchControl {
  /**
   * True once the batch must have no further effects: a rebalance started since it was fetched
   * (the partition may already belong to another member), the partition was revoked or seeked,
   * or the consumer is stopping. Check it before each side effect.
   */
  isStale(): boolean;
  /**
   * Tells the group coordinator this member is alive; throttled to the heartbeat interval, so
   * call it freely between stages. A rebalance reported by the coordinator does not throw here:
   * it makes `isStale()` true, and the wrapper hands the error to kafkajs after the handler
   * returns so the member rejoins at once.
   */
  heartbeat(): Promise<void>;
  /** Awaits `work` while heartbeating every heartbeat interval, for one long step (a Lua call, a publish). */
  keepAlive<T>(work: Promise<T>): Promise<T>;
  /**
   * Commits `lastOffset + 1` of this batch for the group (informational: pyramid's Redis
   * watermark is authoritative). Skipped, returning false, when the batch is stale.
   */
  commit(): Promise<boolean>;
}

/**
 * Processes one partition batch. Returning marks the batch done (its offsets are resolved unless
 * it went stale); throwing makes kafkajs redeliver it after its retry/restart policy.
 */
export type PartitionBatchHandler = (batch: PartitionBatch, control: BatchControl) => Promise<void>;

/** A consumer-group member that hands out whole partition batches. */
export interface PyramidConsumer {
  connect(): Promise<void>;
  subscribe(topics: readonly string[], options?: { fromBeginning?: boolean }): Promise<void>;
  /** Starts the fetch loop; resolves once it runs. */
  run(handler: PartitionBatchHandler): Promise<void>;
  /** The partitions currently assigned to this member (empty during a rebalance). */
  assignment(): TopicPartition[];
  onAssignmentChange(listener: (change: AssignmentChange) => void): () => void;
  /** The consumer gave up on an error; `restarting` tells whether kafkajs restarts it itself. */
  onCrash(listener: (error: PyramidError, restarting: boolean) => void): () => void;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** Moves the fetch position; batches of that partition fetched before become stale. */
  seek(partition: TopicPartition, offset: string): void;
  /**
   * Commits the next offset to read for partitions outside any batch (at shutdown, after the last
   * batches). Partitions no longer assigned are left out (kafkajs#1046). Returns what was committed.
   */
  commitOffsets(offsets: ReadonlyArray<TopicPartition & { offset: string }>): Promise<Array<TopicPartition & { offset: string }>>;
  /** Settles once no batch is being handled (with read-ahead: none accepted and waiting either). */
  drain(): Promise<void>;
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP']);

/**
 * The protocol error saying this member's generation is over, if `err` is or wraps one (kafkajs
 * wraps retried protocol errors in KafkaJSNonRetriableError with the original as `cause`).
 * Returning the inner error matters: kafkajs's runner recognises a rejoin by the error's `type`.
 */
function rebalanceErrorIn(err: unknown): Error | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && REBALANCE_ERRORS.has(type)) return current;
    current = (current as { cause?: unknown; originalError?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

function headerBytes(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (headers === undefined) return out;
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined) out[name] = typeof value === 'string' ? Buffer.from(value) : value;
  }
  return out;
}

/** Converts a kafkajs message into pyramid's record shape. */
export function toKafkaRecord(topic: string, partition: number, message: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value ?? null,
    headers: headerBytes(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/**
 * kafkajs keeps the fetch position on its Batch (`fetchedOffset`) but leaves it out of its typings;
 * without it, the first offset of the batch is the best available stand-in.
 */
function fetchedOffsetOf(batch: EachBatchPayload['batch']): string {
  const fetched = (batch as unknown as { fetchedOffset?: unknown }).fetchedOffset;
  if (typeof fetched === 'string' || typeof fetched === 'number' || typeof fetched === 'bigint') return String(fetched);
  return batch.firstOffset() ?? batch.lastOffset();
}

/**
 * Adapts a kafkajs consumer so the consumer loop can avoid three known kafkajs traps:
 *
 * - tulios/kafkajs#1046, commits to unassigned partitions after a rebalance: offsets are committed
 *   only through `BatchControl.commit`, which refuses when the batch's generation is over or the
 *   partition is no longer assigned (autoCommit is off).
 * - tulios/kafkajs#1097, handlers still running after a rebalance: the REBALANCING event bumps the
 *   local generation and clears the assignment before the member rejoins, so `isStale()` turns
 *   true in every in-flight handler, which then skips its remaining side effects.
 * - tulios/kafkajs#1083, heartbeats starved by long batches: heartbeats only happen when the
 *   handler calls them; `heartbeat()` is cheap to call between stages, `keepAlive(work)` heartbeats
 *   during one long step, and `maxBytesPerPartition` bounds how much one batch can hold.
 *
 * Even so, a stale handler's writes are harmless for state: the Redis partition watermark makes
 * the Lua apply idempotent. These measures keep duplicate publishing and wasted work down.
 */
export function wrapConsumer(consumer: Consumer, options: ConsumerOptions): PyramidConsumer {
  let generation = 0;
  let memberId = '';
  let assigned = new Map<string, TopicPartition>();
  const assignmentListeners = new Set<(change: AssignmentChange) => void>();
  const crashListeners = new Set<(error: PyramidError, restarting: boolean) => void>();
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;

  function announce(change: AssignmentChange): void {
    for (const listener of assignmentListeners) listener(change);
  }

  function revokeAll(): void {
    generation += 1;
    const partitions = [...assigned.values()];
    assigned = new Map();
    if (partitions.length > 0) announce({ kind: 'revoked', partitions, generation, memberId, isLeader: false });
  }

  // Whether the last announcement was a join; a crash is preceded by kafkajs's own STOP and
  // DISCONNECT, and only the first of them is news.
  let member = false;
  const leave = (reason: string): void => {
    if (!member) return;
    member = false;
    options.instrumentation?.emit('consumer.group_left', { groupId: options.groupId, reason });
  };
  const reportCrash = (error: PyramidError, restarting: boolean): void => {
    leave(`crashed: ${error.message}`);
    options.instrumentation?.emit('consumer.crash', { groupId: options.groupId, error: error.message, restarting });
    for (const listener of crashListeners) listener(error, restarting);
  };

  consumer.on(consumer.events.REBALANCING, (event) => {
    memberId = event.payload.memberId;
    revokeAll();
    options.instrumentation?.emit('consumer.group_rebalancing', { groupId: options.groupId, memberId });
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    revokeAll();
    memberId = event.payload.memberId;
    const partitions: TopicPartition[] = [];
    for (const [topic, list] of Object.entries(event.payload.memberAssignment)) {
      for (const partition of list) {
        partitions.push({ topic, partition });
        assigned.set(partitionKey(topic, partition), { topic, partition });
      }
    }
    announce({ kind: 'assigned', partitions, generation, memberId, isLeader: event.payload.isLeader });
    member = true;
    options.instrumentation?.emit('consumer.group_joined', { groupId: options.groupId, memberId, partitions: partitions.length });
  });
  consumer.on(consumer.events.CRASH, (event) => {
    revokeAll();
    reportCrash(kafkaError('consumer', event.payload.error), event.payload.restart);
  });
  consumer.on(consumer.events.STOP, () => {
    revokeAll();
    leave('stopped');
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    revokeAll();
    leave('disconnected');
  });

  // Per partition, the handling of its latest batch (never rejects; `drain()` waits for them), and,
  // for read-ahead, a bound on how many partitions are handled at once (kafkajs's own bound no
  // longer applies once eachBatch returns).
  const handling = new Map<string, Promise<void>>();
  const track = (key: string, work: Promise<void>): void => {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    handling.set(key, settled);
    void settled.finally(() => {
      if (handling.get(key) === settled) handling.delete(key);
    });
  };
  const concurrency = Math.max(1, options.partitionsConsumedConcurrently ?? 1);
  let busy = 0;
  const queued: Array<() => void> = [];
  const acquire = async (): Promise<void> => {
    if (busy < concurrency) {
      busy += 1;
      return;
    }
    await new Promise<void>((resolve) => queued.push(resolve));
  };
  const release = (): void => {
    const next = queued.shift();
    if (next === undefined) busy -= 1;
    else next();
  };

  async function runBatch(handler: PartitionBatchHandler, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const batchGeneration = generation;
    const key = partitionKey(batch.topic, batch.partition);
    let rebalance: Error | undefined;

    const isStale = (): boolean =>
      rebalance !== undefined || batchGeneration !== generation || !assigned.has(key) || !payload.isRunning() || payload.isStale();

    const heartbeat = async (): Promise<void> => {
      if (rebalance !== undefined) return;
      try {
        await payload.heartbeat();
      } catch (err) {
        rebalance = rebalanceErrorIn(err);
        if (rebalance === undefined) throw kafkaError('heartbeat', err);
      }
    };

    const control: BatchControl = {
      isStale,
      heartbeat,
      async keepAlive(work) {
        const timer = setInterval(() => void heartbeat().catch(() => undefined), heartbeatIntervalMs);
        try {
          return await work;
        } finally {
          clearInterval(timer);
        }
      },
      async commit() {
        if (isStale()) return false;
        const offset = (BigInt(batch.lastOffset()) + 1n).toString();
        try {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset }]);
          return true;
        } catch (err) {
          rebalance = rebalanceErrorIn(err);
          if (rebalance === undefined) throw kafkaError('offset commit', err);
          return false;
        }
      },
    };

    const records = batch.messages.map((message) => toKafkaRecord(batch.topic, batch.partition, message));
    const fetchedOffset = fetchedOffsetOf(batch);
    const partitionBatch = { topic: batch.topic, partition: batch.partition, records, lastOffset: batch.lastOffset(), highWatermark: batch.highWatermark, fetchedOffset };

    if (options.readAhead !== true) {
      const work = handler(partitionBatch, control);
      track(key, work);
      await work;
      // Hand a swallowed rebalance back to kafkajs so it rejoins now rather than at the next heartbeat.
      if (rebalance !== undefined) throw rebalance;
      if (!isStale()) payload.resolveOffset(batch.lastOffset());
      return;
    }

    // Read-ahead: wait for this partition's previous batch, accept this one (kafkajs may fetch
    // past it now) and handle it in the background. A rebalance swallowed by a background
    // handler reaches kafkajs through its own next heartbeat instead.
    await handling.get(key);
    if (isStale()) return;
    payload.resolveOffset(batch.lastOffset());
    const work = (async () => {
      await acquire();
      try {
        await handler(partitionBatch, control);
      } catch (err) {
        // kafkajs's rule for a throwing eachBatch: only an error marked retriable is worth another go.
        if (!isRetriable(err)) {
          reportCrash(kafkaError('batch handler', err), false);
          return;
        }
        // Replays are harmless (the handler skips what is applied): start the batch over.
        if (!isStale()) consumer.seek({ topic: batch.topic, partition: batch.partition, offset: fetchedOffset });
      } finally {
        release();
      }
    })();
    track(key, work);
  }

  return {
    connect: async () => {
      try {
        await consumer.connect();
      } catch (err) {
        throw kafkaError('consumer connect', err);
      }
    },
    subscribe: async (topics, subscribeOptions) => {
      try {
        await consumer.subscribe({ topics: [...topics], fromBeginning: subscribeOptions?.fromBeginning ?? true });
      } catch (err) {
        throw kafkaError('subscribe', err);
      }
    },
    run: (handler) =>
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => runBatch(handler, payload),
      }),
    assignment: () => [...assigned.values()],
    onAssignmentChange(listener) {
      assignmentListeners.add(listener);
      return () => assignmentListeners.delete(listener);
    },
    onCrash(listener) {
      crashListeners.add(listener);
      return () => crashListeners.delete(listener);
    },
    pause: (partitions) => consumer.pause(groupByTopic(partitions)),
    resume: (partitions) => consumer.resume(groupByTopic(partitions)),
    seek: ({ topic, partition }, offset) => consumer.seek({ topic, partition, offset }),
    async commitOffsets(offsets) {
      const owned = offsets.filter(({ topic, partition }) => assigned.has(partitionKey(topic, partition)));
      if (owned.length === 0) return [];
      try {
        await consumer.commitOffsets(owned.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
      } catch (err) {
        throw kafkaError('offset commit', err);
      }
      return owned;
    },
    async drain() {
      while (handling.size > 0) await Promise.all([...handling.values()]);
    },
    stop: () => consumer.stop(),
    disconnect: () => consumer.disconnect(),
  };
}

function groupByTopic(partitions: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
}
