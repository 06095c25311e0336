import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { startBackgroundPass } from './background-pass.js';
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
  return startBackgroundPass({
    ownership: options.ownership,
    relay: options.relay,
    logger: options.logger,
    name: 'policy re-evaluation',
    intervalMs: options.intervalMs ?? 1000,
    pageSize: options.pageSize ?? 200,
    stepsPerPass: options.stepsPerPass ?? 5,
    due: (owned) => owned.reevaluating,
    step: (owned, now, pageSize) => owned.reevaluateStep(now, pageSize),
    report: (owned) => options.instrumentation.emit('policy.reevaluation', { topic: owned.topic, partition: owned.partition, ...owned.policyStatus }),
  });
}
