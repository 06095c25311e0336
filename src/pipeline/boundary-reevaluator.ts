import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import type { OwnedPartition } from './owned-partition.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { Ownership } from './ownership.js';

/** What the BOUNDARY re-evaluation works with. */
export interface BoundaryReevaluatorOptions {
  ownership: Ownership;
  relay: OutboxRelay;
  instrumentation: Instrumentation;
  /** Pause between two passes, ms; default 500. */
  intervalMs?: number;
  /** Customers per step (one HSCAN page, one fenced commit); default 500. */
  pageSize?: number;
  /** Steps per partition per pass; default 20. */
  stepsPerPass?: number;
  logger: Logger;
}

/** The running BOUNDARY re-evaluation. */
export interface BoundaryReevaluator {
  stop(): Promise<void>;
}

/**
 * After each new epoch of relative boundaries: re-evaluates every customer of every owned
 * partition against it (cause BOUNDARY), a bounded number of pages per partition per pass,
 * through the partition's serialised, fenced path, and publishes the changes through the outbox
 * relay (the model is the policy re-evaluator). The cursor in the partition meta moves only with
 * a committed page, so a crash neither loses nor doubles a BOUNDARY change.
 */
export function startBoundaryReevaluator(options: BoundaryReevaluatorOptions): BoundaryReevaluator {
  const { ownership, relay } = options;
  const intervalMs = options.intervalMs ?? 500;
  const pageSize = options.pageSize ?? 500;
  const steps = options.stepsPerPass ?? 20;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function step(owned: OwnedPartition): Promise<void> {
    const tp = { topic: owned.topic, partition: owned.partition };
    const generation = ownership.currentGeneration;
    const stillMine = (): boolean => !stopped && ownership.get(tp, generation) === owned;
    const changes = await ownership.exclusive(tp, async () => {
      let made = 0;
      for (let i = 0; i < steps && stillMine() && owned.boundaryPassDue; i++) made += (await owned.boundaryStep(Date.now(), pageSize)).changes;
      options.instrumentation.emit('ranking.reevaluation', { ...tp, ...owned.boundaryProgress });
      return made;
    });
    if (changes > 0 && stillMine()) await relay.flush(tp.topic, tp.partition, stillMine);
  }

  const pass = async (): Promise<void> => {
    for (const owned of ownership.owned()) {
      if (stopped) return;
      if (!owned.boundaryPassDue) continue;
      try {
        await step(owned);
      } catch (err) {
        options.logger.warn({ err, topic: owned.topic, partition: owned.partition }, 'BOUNDARY re-evaluation step failed; retrying at the next pass');
      }
    }
  };

  const tick = async (): Promise<void> => {
    running = running.then(pass);
    await running;
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  timer = setTimeout(() => void tick(), intervalMs);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
