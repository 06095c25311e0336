import type { TransactionOutcome } from '../records/control-batch.js';

/** An aborted transaction on one partition, as Fetch's `aborted_transactions` lists it. */
export interface AbortedTxn {
  readonly producerId: number;
  /** Offset of the transaction's first data batch on this partition. */
  readonly firstOffset: number;
  /** Offset of its abort marker. */
  readonly lastOffset: number;
}

/**
 * Per-partition transaction state (KIP-98), derived entirely from the log like the idempotent
 * producer state: which producers have a transaction open here (from the first offset of their
 * first transactional batch until their marker), and every aborted transaction. Recovery rebuilds
 * it by replaying the log, so it cannot disagree with what the log holds.
 *
 * The last stable offset is the first offset of the oldest open transaction (the high watermark
 * when none is open): read_committed consumers may read below it only, since everything below is
 * decided.
 */
export class PartitionTxnIndex {
  /** producerId → first offset of its open transaction on this partition. */
  private readonly open = new Map<number, number>();
  /** In marker order, so also in lastOffset order. */
  private readonly aborted: AbortedTxn[] = [];

  /** Records a transactional data batch appended at `baseOffset`. */
  onData(producerId: number, baseOffset: number): void {
    if (!this.open.has(producerId)) this.open.set(producerId, baseOffset);
  }

  /** Records a marker appended at `offset`; a marker with no open transaction leaves no trace. */
  onMarker(producerId: number, outcome: TransactionOutcome, offset: number): void {
    const first = this.open.get(producerId);
    if (first === undefined) return;
    this.open.delete(producerId);
    if (outcome === 'abort') this.aborted.push({ producerId, firstOffset: first, lastOffset: offset });
  }

  /** True while `producerId` has data here that no marker has decided yet. */
  isOpen(producerId: number): boolean {
    return this.open.has(producerId);
  }

  /** See the class note; `highWatermark` is the answer when nothing is open. */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark;
    for (const first of this.open.values()) if (first < lso) lso = first;
    return lso;
  }

  /**
   * The aborted transactions a fetch of offsets `[fetchOffset, upperOffset)` must be told about:
   * those whose marker is at or after `fetchOffset` and that began before `upperOffset`, ordered
   * by first offset (kafkajs walks the list in that order).
   */
  abortedIn(fetchOffset: number, upperOffset: number): AbortedTxn[] {
    // Markers are appended in offset order, so the candidates are a suffix of the list.
    let lo = 0;
    let hi = this.aborted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.aborted[mid] as AbortedTxn).lastOffset < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    return this.aborted
      .slice(lo)
      .filter((t) => t.firstOffset < upperOffset)
      .sort((a, b) => a.firstOffset - b.firstOffset);
  }
}
