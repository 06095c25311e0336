/**
 * Event-clock boundary instants (docs/ARCHITECTURE.md, "Relative boundaries"): with
 * `ranking.every` = E the boundaries are computed at the aligned instants k × E (epoch ms), the
 * same instants whenever and wherever the run starts. Epoch numbers follow from the instant, so a
 * replay publishes the same epoch numbers with the same boundaries.
 */

/** The epoch number of instant `instant` (a multiple of `everyMs`): k + 1, so epoch 0 keeps meaning "none". */
export function instantEpoch(instant: number, everyMs: number): number {
  return Math.floor(instant / everyMs) + 1;
}

/** The instant of epoch `epoch` (inverse of {@link instantEpoch}). */
export function epochInstant(epoch: number, everyMs: number): number {
  return (epoch - 1) * everyMs;
}

/** The latest aligned instant at or before `time`: the first instant a partition meets with its first record. */
export function instantAtOrBefore(time: number, everyMs: number): number {
  return Math.floor(time / everyMs) * everyMs;
}

/**
 * Where a partition's records stop before the next instant: the index of the first record (in
 * offset order, among those past the watermark `lastOffset`) whose event time is at or after
 * `next`, with the instant it meets; `next` null (nothing applied, no instant reached yet) makes
 * the first such record meet the instant at or before its own event time. Null when every record
 * is before the instant.
 */
export function barrierCut(
  records: readonly { offset: number; eventTime: number }[],
  lastOffset: number,
  next: number | null,
  everyMs: number,
): { index: number; instant: number } | null {
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as { offset: number; eventTime: number };
    if (record.offset <= lastOffset) continue;
    if (next === null) return { index: i, instant: instantAtOrBefore(record.eventTime, everyMs) };
    if (record.eventTime >= next) return { index: i, instant: next };
  }
  return null;
}

/**
 * The next boundary instant the coordinator publishes, and which partitions it still waits on:
 * the instant after the latest published epoch's (`latestAt`), or, before any epoch, the earliest
 * instant the partitions reached once every one of them reached one (null until then). A
 * partition waits while it reached no instant or one before that instant. `reached[i]` is
 * partition i's stored instant (meta `bt`), null when none.
 */
export function nextBarrier(latestAt: number | null, reached: readonly (number | null)[], everyMs: number): { instant: number | null; waits: boolean[] } {
  const known = reached.filter((t): t is number => t !== null);
  const instant = latestAt !== null ? latestAt + everyMs : known.length === reached.length && known.length > 0 ? Math.min(...known) : null;
  return { instant, waits: reached.map((at) => at === null || (instant !== null && at < instant)) };
}
