import { isPyramidError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { OwnedPartition } from './owned-partition.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { Ownership } from './ownership.js';

export interface SweeperOptions {
  ownership: Ownership;
  relay: OutboxRelay;
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Timers fired per commit (bounded, so one commit never grows large); default 500. */
  limit?: number;
  /** Commits per partition per tick, so one backlogged partition cannot starve the others; default 20. */
  maxCallsPerTick?: number;
  /**
   * A sweep's commit was refused or failed (STATE_FENCED): re-read the partition and seek back,
   * as the batch handler does. Called inside the partition's exclusive section.
   */
  onFenced(owned: OwnedPartition, err: unknown, stillMine: () => boolean): Promise<unknown>;
  logger: Logger;
}

export interface Sweeper {
  /** One pass over the owned partitions now. */
  sweepOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wall-clock mode only: fires the due timers of every owned partition at the wall clock, through
 * the same engine and fenced commit as the consumer, and publishes the resulting changes through
 * the same outbox relay. (In event-clock mode timers fire inside the apply, at event time, so
 * there is none.) A failed pass is logged and retried at the next tick; nothing is lost, since
 * due timers stay due. A sweep of a partition waits for its batch in hand and vice versa.
 */
export function startSweeper(options: SweeperOptions): Sweeper {
  const { ownership, relay } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const limit = options.limit ?? 500;
  const maxCalls = options.maxCallsPerTick ?? 20;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function sweepPartition(owned: OwnedPartition): Promise<void> {
    const tp = { topic: owned.topic, partition: owned.partition };
    const generation = ownership.currentGeneration;
    // Ownership is re-checked before every commit and produce request, not only at the start of
    // a pass: a partition revoked mid-pass belongs to its new owner.
    const stillMine = (): boolean => !stopped && ownership.get(tp, generation) === owned;
    // Tier changes and signals appended to the outbox: either needs the relay.
    const appended = await ownership.exclusive(tp, async () => {
      let fired = 0;
      try {
        for (let call = 0; call < maxCalls && stillMine(); call++) {
          const result = await owned.sweep(Date.now(), limit);
          fired += result.changes + result.signals;
          if (!result.more) break;
        }
      } catch (err) {
        // Without this, an idle partition whose state was lost would fail every sweep forever:
        // no batch would come to re-read it.
        if (!isPyramidError(err, 'STATE_FENCED')) throw err;
        await options.onFenced(owned, err, stillMine);
        return 0;
      }
      return fired;
    });
    if (appended > 0 && stillMine()) await relay.flush(tp.topic, tp.partition, stillMine);
  }

  const pass = async (): Promise<void> => {
    for (const owned of ownership.owned()) {
      if (stopped) return;
      try {
        await sweepPartition(owned);
      } catch (err) {
        options.logger.warn({ err, topic: owned.topic, partition: owned.partition }, 'sweep failed; retrying at the next tick');
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
