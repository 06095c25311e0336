import { isRetriable } from '../errors.js';

/** Backoff for retriable failures (Redis down, broker restarting): one defaults object, kafkajs style. */
export interface RetryOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: each wait is drawn from [delay × (1 − jitter), delay]. */
  jitter: number;
}

export const DEFAULT_RETRY: RetryOptions = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.5 };

/** The wait before attempt `attempt + 1` (attempt counts from 0). */
export function backoffDelay(attempt: number, options: RetryOptions = DEFAULT_RETRY): number {
  const delay = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return delay * (1 - options.jitter * Math.random());
}

export interface RetryControl {
  /** Checked before each new attempt; true gives up (the result is then `undefined`). */
  shouldStop(): boolean;
  /** Called after each failed attempt, e.g. to heartbeat and log. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void | Promise<void>;
  options?: RetryOptions;
}

/**
 * Runs `work` until it succeeds. Retriable errors back off with jitter and try the same work
 * again (never skipping it); other errors are thrown at once. Resolves `{ done: false }` when
 * `shouldStop` turns true between attempts, so a stale batch or a stopping scorer stops waiting.
 */
export async function retrying<T>(work: () => Promise<T>, control: RetryControl): Promise<{ done: true; value: T } | { done: false }> {
  for (let attempt = 0; ; attempt++) {
    if (control.shouldStop()) return { done: false };
    try {
      return { done: true, value: await work() };
    } catch (err) {
      if (!isRetriable(err)) throw err;
      const delayMs = backoffDelay(attempt, control.options);
      await control.onRetry?.(err, attempt, delayMs);
      await sleepUnless(delayMs, control.shouldStop);
    }
  }
}

/** Sleeps `ms`, waking early (checked every 50 ms) once `stop` turns true. */
export async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, until - Date.now())));
  }
}
