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
  private young = new Map<string, CustomerState>();
  private old = new Map<string, CustomerState>();
  /** Customers whose latest state is not committed yet: the commit number that will write it. */
  private readonly pending = new Map<string, number>();

  constructor(private readonly budget: CacheBudget) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The cached state (marked as used); undefined when not cached. */
  get(id: string): CustomerState | undefined {
    const state = this.young.get(id);
    if (state !== undefined) return state;
    const old = this.old.get(id);
    if (old !== undefined) {
      this.old.delete(id);
      this.young.set(id, old);
    }
    return old;
  }

  has(id: string): boolean {
    return this.young.has(id) || this.old.has(id);
  }

  /** Caches a state read from Redis (committed). */
  putCommitted(id: string, state: CustomerState): void {
    this.put(id, state);
  }

  /** Caches a state that commit number `commit` will write; it cannot be dropped before. */
  putPending(id: string, state: CustomerState, commit: number): void {
    this.put(id, state);
    this.pending.set(id, commit);
  }

  /** Commit `commit` is acknowledged: the customers it wrote (and nothing newer) may be dropped. */
  committed(commit: number, ids: Iterable<string>): void {
    for (const id of ids) if (this.pending.get(id) === commit) this.pending.delete(id);
  }

  /** Forget everything (the partition is re-read from Redis, or no longer owned). */
  clear(): void {
    this.budget.size -= this.size;
    this.young.clear();
    this.old.clear();
    this.pending.clear();
  }

  private put(id: string, state: CustomerState): void {
    if (this.young.has(id)) {
      this.young.set(id, state);
      return;
    }
    if (this.old.delete(id)) this.budget.size -= 1;
    this.young.set(id, state);
    this.budget.size += 1;
    if (this.budget.size > this.budget.max) this.retire();
  }

  /** Drops the old generation (but what is not committed yet, which moves up) and ages the young one. */
  private retire(): void {
    let dropped = 0;
    for (const [id, state] of this.old) {
      if (this.pending.has(id)) this.young.set(id, state);
      else dropped++;
    }
    this.budget.size -= dropped;
    this.old = this.young;
    this.young = new Map();
  }
}
