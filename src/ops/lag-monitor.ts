import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { partitionKey } from '../kafka/types.js';

/**
 * What the lag monitor needs to know about the input topic. The pipeline implements it with the
 * Kafka admin client (log end offsets), the Redis partition watermark (the authoritative
 * position, see DESIGN.md §2) and a one-record fetch for the timestamp.
 */
export interface LagSource {
  /** Input partitions this instance owns right now. */
  assignments(): { topic: string; partition: number }[];
  /** Per partition of `topic`, the offset the next produced record will get (Kafka's "high watermark"). */
  logEndOffsets(topic: string): Promise<Map<number, string>>;
  /** The next offset this scorer will process in that partition. */
  nextOffset(topic: string, partition: number): Promise<string>;
  /**
   * Timestamp (epoch ms) of the record at `offset`, i.e. the oldest unprocessed one; null when it
   * cannot be read (e.g. deleted by retention: then the source should return the earliest record's).
   */
  recordTimestamp(topic: string, partition: number, offset: string): Promise<number | null>;
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
  /** Measure every owned partition now and emit `consumer.lag` for each. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Emits `consumer.lag` per owned partition on a timer, independent of the consume loop, so lag
 * keeps growing on the dashboard while the consumer is paused or stuck (the case that matters).
 * messages = log end − next offset (exact, BigInt); seconds = now − timestamp of the record at
 * the next offset, 0 when caught up. The timestamp is looked up once per position.
 */
export function startLagMonitor(options: LagMonitorOptions): LagMonitor {
  const { instrumentation, source, logger } = options;
  const intervalMs = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  const timestamps = new Map<string, { offset: string; timestamp: number | null }>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const measure = async (): Promise<void> => {
    const owned = source.assignments();
    const topics = [...new Set(owned.map((tp) => tp.topic))];
    const ends = new Map(await Promise.all(topics.map(async (topic) => [topic, await source.logEndOffsets(topic)] as const)));
    await Promise.all(
      owned.map(async ({ topic, partition }) => {
        const end = ends.get(topic)?.get(partition);
        if (end === undefined) return;
        const next = await source.nextOffset(topic, partition);
        const behind = BigInt(end) - BigInt(next);
        const messages = behind > 0n ? Number(behind) : 0;
        let seconds = 0;
        if (messages > 0) {
          const key = partitionKey(topic, partition);
          let cached = timestamps.get(key);
          if (cached?.offset !== next) {
            cached = { offset: next, timestamp: await source.recordTimestamp(topic, partition, next) };
            timestamps.set(key, cached);
          }
          if (cached.timestamp !== null) seconds = Math.max(0, (now() - cached.timestamp) / 1000);
        }
        if (!stopped) instrumentation.emit('consumer.lag', { topic, partition, messages, seconds });
      }),
    );
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
