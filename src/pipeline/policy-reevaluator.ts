import { startBackgroundPass, type BackgroundPass, type ReevaluatorOptions } from './background-pass.js';

/** What the background re-evaluation of a policy switch works with (defaults: 1000 ms, 200, 5). */
export type PolicyReevaluatorOptions = ReevaluatorOptions;

/** The running background re-evaluation. */
export type PolicyReevaluator = BackgroundPass;

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
