import type { Logger } from '../logger.js';

/**
 * Resolves with the first SIGINT or SIGTERM. A second signal while shutting down exits at once
 * with status 1 (an operator pressing Ctrl-C twice means it).
 */
export function nextStopSignal(): { signal: Promise<NodeJS.Signals>; dispose(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (received) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', forceExit);
      process.once('SIGTERM', forceExit);
      resolve(received);
    };
  });
  const forceExit = (): never => process.exit(1);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', forceExit);
      process.off('SIGTERM', forceExit);
    },
  };
}

/**
 * `work` (a start-up step) or the stop signal, whichever comes first. A failing `work` still
 * throws; once the signal has won, its later failure is nobody's news.
 */
export async function unlessStopped<T>(work: Promise<T>, signal: Promise<NodeJS.Signals>): Promise<{ value: T } | { signal: NodeJS.Signals }> {
  work.catch(() => undefined);
  return Promise.race([work.then((value) => ({ value })), signal.then((received) => ({ signal: received }))]);
}

/** Longest the ops server and the like get to close before a stop during start-up exits anyway. */
const START_UP_CLOSE_GRACE_MS = 2_000;

/**
 * Ends the process with status 0 after a stop signal that came during start-up. Nothing was
 * consumed, so there is nothing to finish or commit; and the step in progress cannot be
 * cancelled: kafkajs retries a connect on its own, and `disconnect()` during a group join waits
 * for the JoinGroup answer (held by the broker until a crashed previous member's session times
 * out, 30 s by default), then restarts the consumer, which joins after all. Ending the process
 * closes every socket; the broker drops the half-joined member with its connection.
 */
export async function exitStoppedDuringStartUp(signal: NodeJS.Signals, logger: Logger, close: () => Promise<void>): Promise<never> {
  logger.info({ signal }, 'stopping during start-up: nothing consumed yet, exiting');
  const grace = new Promise<void>((resolve) => setTimeout(resolve, START_UP_CLOSE_GRACE_MS).unref());
  await Promise.race([close().catch(() => undefined), grace]);
  process.exit(0);
}

/** How long a stopped scorer may take to close its last sockets and timers by itself. */
const EXIT_GRACE_MS = 5_000;

/**
 * The scorer has stopped (cleanly: outboxes flushed, offsets committed, group left; or after a
 * failure main reports): the process should end as soon as its last handles close. If one stays
 * open (seen under load after a stop that met a rebalance: two sockets and timers left, the
 * process alive minutes later), ending here is what the stop asked for, with the status main set;
 * the open resources are logged so the leak stays visible.
 */
export function exitOnceStopped(logger: Logger): void {
  setTimeout(() => {
    logger.warn({ open: process.getActiveResourcesInfo() }, `still running ${EXIT_GRACE_MS} ms after the scorer stopped; exiting`);
    process.exit();
  }, EXIT_GRACE_MS).unref();
}
