import { startBackgroundPass, type BackgroundPass, type ReevaluatorOptions } from './background-pass.js';
import type { OwnedPartition } from './owned-partition.js';

/** What the BOUNDARY re-evaluation works with (defaults: 500 ms, 500, 20). */
export interface BoundaryReevaluatorOptions extends ReevaluatorOptions {
  /**
   * Event clock: a partition that held at a boundary instant has re-evaluated its epoch and may
   * apply its held records now (the caller resumes fetching it). Called inside the partition's
   * exclusive section, right after the step that released it.
   */
  onReleased?: (owned: OwnedPartition) => void;
}

/** The running BOUNDARY re-evaluation. */
export type BoundaryReevaluator = BackgroundPass;

/**
 * After each new epoch of relative boundaries: re-evaluates every customer of every owned
 * partition against it (cause BOUNDARY), a bounded number of pages per partition per pass,
 * through the partition's serialised, fenced path, and publishes the changes through the outbox
 * relay (the model is the policy re-evaluator). The cursor in the partition meta moves only with
 * a committed page, so a crash neither loses nor doubles a BOUNDARY change. On the event clock
 * the pass of a partition holding at a boundary instant runs once that instant's epoch is
 * published, at the instant, and releases the partition when done.
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
    step: async (owned, now, pageSize) => {
      const held = owned.holding;
      const step = await owned.boundaryStep(now, pageSize);
      if (held && !owned.holding) options.onReleased?.(owned);
      return step;
    },
    report: (owned) => options.instrumentation.emit('ranking.reevaluation', { topic: owned.topic, partition: owned.partition, ...owned.boundaryProgress }),
  });
}
