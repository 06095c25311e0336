import { startBackgroundPass, type BackgroundPass, type ReevaluatorOptions } from './background-pass.js';

/** What the BOUNDARY re-evaluation works with (defaults: 500 ms, 500, 20). */
export type BoundaryReevaluatorOptions = ReevaluatorOptions;

/** The running BOUNDARY re-evaluation. */
export type BoundaryReevaluator = BackgroundPass;

/**
 * After each new epoch of relative boundaries: re-evaluates every customer of every owned
 * partition against it (cause BOUNDARY), a bounded number of pages per partition per pass,
 * through the partition's serialised, fenced path, and publishes the changes through the outbox
 * relay (the model is the policy re-evaluator). The cursor in the partition meta moves only with
 * a committed page, so a crash neither loses nor doubles a BOUNDARY change.
 */
export function startBoundaryReevaluator(options: BoundaryReevaluatorOptions): BoundaryReevaluator {
  return startBackgroundPass({
    ownership: options.ownership,
    relay: options.relay,
    logger: options.logger,
    name: 'BOUNDARY re-evaluation',
    intervalMs: options.intervalMs ?? 500,
    pageSize: options.pageSize ?? 500,
    stepsPerPass: options.stepsPerPass ?? 20,
    due: (owned) => owned.boundaryPassDue,
    step: (owned, now, pageSize) => owned.boundaryStep(now, pageSize),
    report: (owned) => options.instrumentation.emit('ranking.reevaluation', { topic: owned.topic, partition: owned.partition, ...owned.boundaryProgress }),
  });
}
