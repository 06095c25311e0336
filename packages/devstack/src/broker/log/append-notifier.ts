interface Waiter {
  readonly keys: ReadonlySet<string>;
  readonly wake: () => void;
}

/**
 * Wakes Fetch long-polls when data arrives on a partition they wait for. Keys are
 * `<topic>\u0000<partition>`; waiters are few (one per pending fetch), so a scan per append is
 * cheaper than an index.
 */
export class AppendNotifier {
  private readonly waiters = new Set<Waiter>();

  static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /**
   * Resolves when one of `keys` gets an append, `timeoutMs` passes, or `signal` aborts —
   * whichever comes first. Never rejects.
   */
  wait(keys: ReadonlySet<string>, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || timeoutMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { keys, wake: done };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(waiter);
    });
  }

  notify(topic: string, partition: number): void {
    if (this.waiters.size === 0) return;
    const key = AppendNotifier.key(topic, partition);
    for (const w of [...this.waiters]) if (w.keys.has(key)) w.wake();
  }

  /** Wakes every waiter (broker shutdown, topic deletion). */
  wakeAll(): void {
    for (const w of [...this.waiters]) w.wake();
  }
}
