import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import type { OwnedPartition, ReevaluationStep } from './owned-partition.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { Ownership } from './ownership.js';

/** One kind of background re-evaluation of owned partitions (a policy switch, a boundary epoch). */
export interface BackgroundPassOptions {
  ownership: Ownership;
  relay: OutboxRelay;
  logger: Logger;
  /** Named in the warning of a failed step, e.g. "policy re-evaluation". */
  name: string;
  /** Pause between two passes, ms. */
  intervalMs: number;
  /** Customers per step (one HSCAN page, one fenced commit). */
  pageSize: number;
  /** Steps per partition per pass: with the interval, the rate bound. */
  stepsPerPass: number;
  /** Whether the partition still has customers to re-evaluate. */
  due(owned: OwnedPartition): boolean;
  /** Re-evaluates the next page of the partition and commits it (fenced). */
  step(owned: OwnedPartition, now: number, pageSize: number): Promise<ReevaluationStep>;
  /** After a partition's steps of one pass: report its progress. */
  report(owned: OwnedPartition): void;
}

/** A running background pass. */
export interface BackgroundPass {
  stop(): Promise<void>;
}

/** What a re-evaluator built on {@link startBackgroundPass} is started with (defaults its own). */
export interface ReevaluatorOptions {
  ownership: Ownership;
  relay: OutboxRelay;
  instrumentation: Instrumentation;
  /** Pause between two passes, ms. */
  intervalMs?: number;
  /** Customers per step (one HSCAN page, one fenced commit). */
  pageSize?: number;
  /** Steps per partition per pass: with the interval, the rate bound. */
  stepsPerPass?: number;
  logger: Logger;
}

/**
 * Every `intervalMs`, re-evaluates a bounded number of pages of every owned partition that is
 * `due`, each step inside the partition's exclusive section (so it never interleaves with a batch
 * or the sweeper), and publishes what the steps appended (tier changes and signals) through the
 * outbox relay. A failed step is logged and retried at the next pass: its cursor lives in the
 * partition meta and only moves with a committed page, so a crash neither loses nor repeats a
 * change.
 */
export function startBackgroundPass(options: BackgroundPassOptions): BackgroundPass {
  const { ownership, relay } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function steps(owned: OwnedPartition): Promise<void> {
    const tp = { topic: owned.topic, partition: owned.partition };
    const generation = ownership.currentGeneration;
    const stillMine = (): boolean => !stopped && ownership.get(tp, generation) === owned;
    const appended = await ownership.exclusive(tp, async () => {
      let made = 0;
      for (let i = 0; i < options.stepsPerPass && stillMine() && options.due(owned); i++) {
        const step = await options.step(owned, Date.now(), options.pageSize);
        made += step.changes + step.signals;
      }
      options.report(owned);
      return made;
    });
    if (appended > 0 && stillMine()) await relay.flush(tp.topic, tp.partition, stillMine);
  }

  const pass = async (): Promise<void> => {
    for (const owned of ownership.owned()) {
      if (stopped) return;
      if (!options.due(owned)) continue;
      try {
        await steps(owned);
      } catch (err) {
        options.logger.warn({ err, topic: owned.topic, partition: owned.partition }, `${options.name} step failed; retrying at the next pass`);
      }
    }
  };

  const tick = async (): Promise<void> => {
    running = running.then(pass);
    await running;
    if (!stopped) timer = setTimeout(() => void tick(), options.intervalMs);
  };
  timer = setTimeout(() => void tick(), options.intervalMs);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
