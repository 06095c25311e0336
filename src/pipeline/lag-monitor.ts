import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { partitionKey } from '../kafka/types.js';

/**
 * What the lag monitor needs to know about the input topic. The log offsets and the committed
 * offsets come from Kafka; the applied position and the timestamps come from memory, from the
 * scorer itself, so a measurement never waits on Redis: while Redis or the scorer is stuck the
 * applied position stands still and the lag keeps growing, which is what an operator must see.
 */
export interface LagSource {
  /** Input partitions this instance owns right now. */
  assignments(): { topic: string; partition: number }[];
  /**
   * From Kafka, per partition of `topic`: the log start (earliest offset still stored) and the
   * log end (the offset the next produced record will get, Kafka's "high watermark").
   */
  logOffsets(topic: string): Promise<Map<number, { start: string; end: string }>>;
  /** From Kafka: the group's committed offset per partition of `topic`; partitions without a commit are absent. */
  committedOffsets(topic: string): Promise<Map<number, string>>;
  /**
   * In memory, never waiting on Redis: the next offset the scorer will apply in the partition,
   * or undefined while it does not know yet (just assigned, before its state was read).
   */
  nextOffsetToApply(topic: string, partition: number): string | undefined;
  /**
   * In memory: the best known timestamp (epoch ms) of the record at `offset`, or null when the
   * scorer has seen nothing that tells. An earlier record's timestamp may stand in for it (the
   * age then errs high by at most the gap between the two records).
   */
  recordTimestamp(topic: string, partition: number, offset: string): number | null;
}

export interface LagMonitorOptions {
  instrumentation: Instrumentation;
  source: LagSource;
  /** Default 5 s, like a Prometheus scrape of the pyramid job. */
  intervalMs?: number;
  logger: Logger;
  /** Clock, epoch ms; tests pass their own. */
  now?: () => number;
}

export interface LagMonitor {
  /** Measure every owned partition now and emit `consumer.lag` and `consumer.committed_lag` for each. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Emits, per owned partition on a timer independent of the consume loop (so lag keeps growing on
 * the dashboard while the consumer is paused or stuck, the case that matters):
 *
 * - `consumer.lag`, pyramid's view: messages = log end − next offset to apply (exact, BigInt);
 *   seconds = now − the best known timestamp of the record at that offset (see
 *   `LagSource.recordTimestamp`), 0 when caught up. Before the scorer knows its position, the
 *   position Kafka would start it from stands in: the committed offset, else the log start.
 * - `consumer.committed_lag`, Kafka's view (`kafka-consumer-groups --describe`): log end − the
 *   group's committed offset (the log start when nothing is committed), with seconds the same way.
 *
 * When no timestamp is known for a position that is behind, seconds is the time since this
 * monitor first saw that position behind the log end: a lower bound of the true age that still
 * grows while nothing moves, rather than a 0 that reads as "caught up".
 */
export function startLagMonitor(options: LagMonitorOptions): LagMonitor {
  const { instrumentation, source, logger } = options;
  const intervalMs = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  // Per view and partition: the position last measured and when it was first seen behind.
  const behindSince = new Map<string, { offset: string; since: number }>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const lagAt = (view: 'applied' | 'committed', topic: string, partition: number, end: string, offset: string): { messages: number; seconds: number } => {
    const behind = BigInt(end) - BigInt(offset);
    const key = `${view}:${partitionKey(topic, partition)}`;
    if (behind <= 0n) {
      behindSince.delete(key);
      return { messages: 0, seconds: 0 };
    }
    let seen = behindSince.get(key);
    if (seen?.offset !== offset) {
      seen = { offset, since: now() };
      behindSince.set(key, seen);
    }
    const timestamp = source.recordTimestamp(topic, partition, offset) ?? seen.since;
    return { messages: Number(behind), seconds: Math.max(0, (now() - timestamp) / 1000) };
  };

  const measure = async (): Promise<void> => {
    const owned = source.assignments();
    const topics = [...new Set(owned.map((tp) => tp.topic))];
    const fromKafka = new Map(
      await Promise.all(
        topics.map(async (topic) => {
          const [logs, committed] = await Promise.all([
            source.logOffsets(topic),
            // Without the committed offsets pyramid's own view still stands; it must not wait on them.
            source.committedOffsets(topic).catch((err: unknown) => {
              logger.warn({ err, topic }, 'cannot read the committed offsets for the committed lag');
              return undefined;
            }),
          ]);
          return [topic, { logs, committed }] as const;
        }),
      ),
    );
    const ownedKeys = new Set(owned.map((tp) => partitionKey(tp.topic, tp.partition)));
    for (const key of behindSince.keys()) if (!ownedKeys.has(key.slice(key.indexOf(':') + 1))) behindSince.delete(key);
    for (const { topic, partition } of owned) {
      const kafka = fromKafka.get(topic);
      const log = kafka?.logs.get(partition);
      if (kafka === undefined || log === undefined || stopped) continue;
      const committed = kafka.committed?.get(partition);
      const applied = source.nextOffsetToApply(topic, partition) ?? committed ?? log.start;
      instrumentation.emit('consumer.lag', { topic, partition, ...lagAt('applied', topic, partition, log.end, applied) });
      if (kafka.committed !== undefined) {
        instrumentation.emit('consumer.committed_lag', { topic, partition, ...lagAt('committed', topic, partition, log.end, committed ?? log.start) });
      }
    }
  };

  const refresh = (): Promise<void> => {
    // Serialised: a manual refresh and the timer never measure concurrently.
    running = running.then(measure).catch((err: unknown) => {
      logger.warn({ err }, 'consumer lag measurement failed');
    });
    return running;
  };

  const tick = async (): Promise<void> => {
    await refresh();
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  void tick();

  return {
    refresh,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
