import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import type { OwnedPartition } from './owned-partition.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { Ownership } from './ownership.js';

/** What the background re-evaluation of a policy switch works with. */
export interface PolicyReevaluatorOptions {
  ownership: Ownership;
  relay: OutboxRelay;
  instrumentation: Instrumentation;
  /** Pause between two passes, ms; default 1000. */
  intervalMs?: number;
  /** Customers per step (one HSCAN page, one fenced commit); default 200. */
  pageSize?: number;
  /** Steps per partition per pass: with the interval, the rate bound; default 5. */
  stepsPerPass?: number;
  logger: Logger;
}

/** The running background re-evaluation. */
export interface PolicyReevaluator {
  stop(): Promise<void>;
}

/**
 * Re-evaluates, in both clocks, the customers of every owned partition that is switching policy,
 * a bounded number of pages per partition per pass (the customers no transaction touches would
 * otherwise keep the old policy's tier), through the partition's serialised, fenced path, and
 * publishes the POLICY changes through the outbox relay. A failed pass is logged and retried at
 * the next: the cursor in the partition meta only moves with a committed page.
 */
export function startPolicyReevaluator(options: PolicyReevaluatorOptions): PolicyReevaluator {
  const { ownership, relay } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const pageSize = options.pageSize ?? 200;
  const steps = options.stepsPerPass ?? 5;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function step(owned: OwnedPartition): Promise<void> {
    const tp = { topic: owned.topic, partition: owned.partition };
    const generation = ownership.currentGeneration;
    const stillMine = (): boolean => !stopped && ownership.get(tp, generation) === owned;
    // Tier changes and signals appended to the outbox: either needs the relay.
    const appended = await ownership.exclusive(tp, async () => {
      let made = 0;
      for (let i = 0; i < steps && stillMine() && owned.reevaluating; i++) {
        const step = await owned.reevaluateStep(Date.now(), pageSize);
        made += step.changes + step.signals;
      }
      options.instrumentation.emit('policy.reevaluation', { ...tp, ...owned.policyStatus });
      return made;
    });
    if (appended > 0 && stillMine()) await relay.flush(tp.topic, tp.partition, stillMine);
  }

  const pass = async (): Promise<void> => {
    for (const owned of ownership.owned()) {
      if (stopped) return;
      if (!owned.reevaluating) continue;
      try {
        await step(owned);
      } catch (err) {
        options.logger.warn({ err, topic: owned.topic, partition: owned.partition }, 'policy re-evaluation step failed; retrying at the next pass');
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
