import type { TopicPartition } from '../kafka/types.js';
import type { Logger } from '../logger.js';
import type { StateStore } from '../state/store.js';
import type { OutboxRelay } from './outbox-relay.js';

export interface SweeperOptions {
  store: StateStore;
  relay: OutboxRelay;
  /** Partitions this instance owns right now. */
  owned(): TopicPartition[];
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Timers fired per Lua call (bounded, so Redis is never blocked long); default 500. */
  limit?: number;
  /** Calls per partition per tick, so one backlogged partition cannot starve the others; default 20. */
  maxCallsPerTick?: number;
  logger: Logger;
}

export interface Sweeper {
  /** One pass over the owned partitions now. */
  sweepOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wall-clock mode only: fires the due timers of every owned partition at the wall clock, in
 * bounded Lua calls, and publishes the resulting changes through the same outbox relay as the
 * consumer. (In event-clock mode timers fire inside the apply, at event time, so there is none.)
 * A failed pass is logged and retried at the next tick; nothing is lost, since due timers stay due.
 */
export function startSweeper(options: SweeperOptions): Sweeper {
  const intervalMs = options.intervalMs ?? 1000;
  const limit = options.limit ?? 500;
  const maxCalls = options.maxCallsPerTick ?? 20;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  // Ownership is re-checked before every Lua call and produce request, not only at the start of
  // a pass: a partition revoked mid-pass belongs to its new owner, whose sweeps and flushes count.
  const stillOwned = ({ topic, partition }: TopicPartition): boolean =>
    !stopped && options.owned().some((tp) => tp.topic === topic && tp.partition === partition);

  async function sweepPartition(tp: TopicPartition): Promise<void> {
    const { topic, partition } = tp;
    let changes = 0;
    for (let call = 0; call < maxCalls && stillOwned(tp); call++) {
      const result = await options.store.sweepPartition(topic, partition, Date.now(), limit);
      changes += result.changes;
      if (!result.more) break;
    }
    if (changes > 0 && stillOwned(tp)) await options.relay.flush(topic, partition, () => stillOwned(tp));
  }

  const pass = async (): Promise<void> => {
    for (const tp of options.owned()) {
      if (stopped) return;
      try {
        await sweepPartition(tp);
      } catch (err) {
        options.logger.warn({ err, topic: tp.topic, partition: tp.partition }, 'sweep failed; retrying at the next tick');
      }
    }
  };

  const sweepOnce = (): Promise<void> => {
    running = running.then(pass);
    return running;
  };

  const tick = async (): Promise<void> => {
    await sweepOnce();
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  timer = setTimeout(() => void tick(), intervalMs);

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
