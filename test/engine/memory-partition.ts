import { applyRecords, fireTimers, type ClockMode, type EngineResult } from '../../src/engine/apply.js';
import type { TierChange } from '../../src/engine/change.js';
import type { Signal } from '../../src/engine/signals.js';
import type { BalanceRecord, CustomerState, EngineCounts, EngineRecord } from '../../src/engine/types.js';
import type { CompiledPolicy } from '../../src/policy/types.js';

/**
 * One partition's state in plain maps, driven through the pure engine with everything loaded
 * (every customer, timer and claim): the engine alone, without the store, the cache or partial
 * timer loads, for the pure property tests.
 */
export class MemoryPartition {
  readonly customers = new Map<string, CustomerState>();
  readonly timers = new Map<string, number>();
  readonly claims = new Map<string, number>();
  readonly changes: TierChange[] = [];
  readonly signals: Signal[] = [];
  readonly counts: EngineCounts = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, signals: 0, timersFired: 0, claimsShortened: 0 };
  lastOffset = -1;
  balanceLastOffset = -1;
  eventWatermark: number | null = null;

  constructor(
    private readonly policy: CompiledPolicy,
    private readonly clock: ClockMode,
    private readonly dedupeHorizonMs: number | null = null,
  ) {}

  private input() {
    return {
      policy: this.policy,
      clock: this.clock,
      position: { lastOffset: this.lastOffset, balanceLastOffset: this.balanceLastOffset, eventWatermark: this.eventWatermark },
      customers: this.customers,
      timers: [...this.timers].map(([customerId, at]) => ({ customerId, at })),
      timersKnownThrough: Infinity,
      claims: this.claims,
      dedupeHorizonMs: this.dedupeHorizonMs,
    };
  }

  apply(records: readonly (EngineRecord | BalanceRecord)[], now?: number): EngineResult {
    const result = applyRecords(this.input(), records, now);
    if (result.consumed !== records.length) throw new Error('with every timer known the engine must consume every record');
    this.absorb(result);
    return result;
  }

  sweep(now: number): EngineResult {
    const result = fireTimers(this.input(), now);
    this.absorb(result);
    return result;
  }

  private absorb(result: EngineResult): void {
    for (const [id, state] of result.customers) this.customers.set(id, state);
    for (const [id, at] of result.timers) {
      if (at === null) this.timers.delete(id);
      else this.timers.set(id, at);
    }
    for (const claim of result.claims) this.claims.set(claim.transactionId, claim.expiresAt);
    if (result.clock !== null) for (const [id, expiry] of this.claims) if (expiry <= result.clock) this.claims.delete(id);
    this.changes.push(...result.changes);
    this.signals.push(...result.signals);
    for (const key of Object.keys(this.counts) as (keyof EngineCounts)[]) this.counts[key] += result.counts[key];
    this.lastOffset = result.position.lastOffset;
    this.balanceLastOffset = result.position.balanceLastOffset ?? -1;
    this.eventWatermark = result.position.eventWatermark;
  }
}
