import type { Instrumentation, InstrumentationEvents } from '../instrumentation.js';
import type { Logger } from '../logger.js';

/** Whatever can count customers and revenue per tier (the state store, across partitions). */
export interface CensusSource {
  /**
   * Undefined: there is nothing to count, and never was (a scorer whose start failed or was
   * stopped); the poller emits nothing and logs nothing.
   */
  census(): Promise<InstrumentationEvents['pyramid.census'] | undefined>;
}

export interface CensusPollerOptions {
  instrumentation: Instrumentation;
  source: CensusSource;
  /** Default 15 s: a census scans state, and the pyramid moves slowly. */
  intervalMs?: number;
  logger: Logger;
}

/**
 * Bridge from a `CensusSource` to the `pyramid.census` event, so metrics and the status page stay
 * event-driven. Polls at once, then every interval; a slow census never overlaps the next one.
 */
export function startCensusPoller(options: CensusPollerOptions): { stop(): Promise<void> } {
  const intervalMs = options.intervalMs ?? 15_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    try {
      const census = await options.source.census();
      if (!stopped && census !== undefined) options.instrumentation.emit('pyramid.census', census);
    } catch (err) {
      // The page keeps the previous census; the next tick retries. A census failing after stop()
      // is the owner closing what it counts: not news.
      if (!stopped) options.logger.warn({ err }, 'pyramid census failed');
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), intervalMs);
  };
  running = tick();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
