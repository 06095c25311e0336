import type { CustomerState } from '../engine/types.js';

/**
 * The bound shared by the customer caches of one scorer's partitions: at most `max` customers in
 * memory across all of them.
 */
export class CacheBudget {
  size = 0;
  constructor(readonly max: number) {}
}

/**
 * The customers of one owned partition that the scorer holds in memory. Redis stays the source of
 * truth: a customer is dropped only once its state is committed, so the cache can always be
 * cleared and rebuilt from Redis.
 *
 * Approximately least recently used, in two generations (as quick-lru does): hits in the young
 * generation cost one lookup, a hit in the old one moves the entry up. When the shared budget is
 * exceeded, the partition that adds a customer retires its old generation (every customer not
 * used since the last retirement) and its young one becomes old. A strict LRU moved an entry on
 * every hit (a Map delete and set), which cost more than the engine's work per event.
 */
export class PartitionCache {
  private young = new Map<string, CacheEntry>();
  private old = new Map<string, CacheEntry>();

  constructor(private readonly budget: CacheBudget) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The cached state (marked as used); undefined when not cached. */
  get(id: string): CustomerState | undefined {
    return this.entry(id)?.state;
  }

  has(id: string): boolean {
    return this.young.has(id) || this.old.has(id);
  }

  /** Caches a state read from Redis (committed). */
  putCommitted(id: string, state: CustomerState): void {
    const entry = this.entry(id);
    if (entry !== undefined) {
      entry.state = state;
      return;
    }
    this.young.set(id, { state, pending: NOT_PENDING });
    this.budget.size += 1;
    if (this.budget.size > this.budget.max) this.retire();
  }

  /**
   * Caches a state that commit number `commit` will write; it cannot be dropped before. Returns
   * the entry, for {@link PartitionCache.committed}.
   */
  putPending(id: string, state: CustomerState, commit: number): CacheEntry {
    let entry = this.entry(id);
    if (entry !== undefined) {
      entry.state = state;
      entry.pending = commit;
      return entry;
    }
    entry = { state, pending: commit };
    this.young.set(id, entry);
    this.budget.size += 1;
    if (this.budget.size > this.budget.max) this.retire();
    return entry;
  }

  /** Commit `commit` is acknowledged: its entries (unless written again since) may be dropped. */
  committed(commit: number, entries: readonly CacheEntry[]): void {
    for (const entry of entries) if (entry.pending === commit) entry.pending = NOT_PENDING;
  }

  /** Forget everything (the partition is re-read from Redis, or no longer owned). */
  clear(): void {
    this.budget.size -= this.size;
    this.young.clear();
    this.old.clear();
  }

  /** The entry of `id`, moved up to the young generation when found in the old one. */
  private entry(id: string): CacheEntry | undefined {
    const young = this.young.get(id);
    if (young !== undefined) return young;
    const old = this.old.get(id);
    if (old !== undefined) {
      this.old.delete(id);
      this.young.set(id, old);
    }
    return old;
  }

  /** Drops the old generation (but what is not committed yet, which moves up) and ages the young one. */
  private retire(): void {
    let dropped = 0;
    for (const [id, entry] of this.old) {
      if (entry.pending !== NOT_PENDING) this.young.set(id, entry);
      else dropped++;
    }
    this.budget.size -= dropped;
    this.old = this.young;
    this.young = new Map();
  }
}

const NOT_PENDING = -1;

/** A cached customer: its state, and the commit that will write it (-1 once committed). */
export interface CacheEntry {
  state: CustomerState;
  pending: number;
}
