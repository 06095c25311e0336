import { describe, expect, it } from 'vitest';
import { barrierCut, epochInstant, instantAtOrBefore, instantEpoch, nextBarrier } from '../../src/engine/barrier.js';

const HOUR = 3_600_000;

describe('event-clock boundary instants', () => {
  it('numbers an epoch by its instant, and back', () => {
    expect(instantEpoch(0, HOUR)).toBe(1);
    expect(instantEpoch(5 * HOUR, HOUR)).toBe(6);
    expect(epochInstant(6, HOUR)).toBe(5 * HOUR);
    expect(instantAtOrBefore(5 * HOUR + 1, HOUR)).toBe(5 * HOUR);
  });

  it('cuts a partition\'s records at the next instant, past its watermark', () => {
    const records = [0, 1, 2, 3].map((offset) => ({ offset, eventTime: [10, 20, HOUR + 5, HOUR + 6][offset] as number }));
    // First instant: the one at or before the first record not yet applied.
    expect(barrierCut(records, -1, null, HOUR)).toEqual({ index: 0, instant: 0 });
    expect(barrierCut(records, 1, HOUR, HOUR)).toEqual({ index: 2, instant: HOUR });
    expect(barrierCut(records, 1, 2 * HOUR, HOUR)).toBeNull();
  });

  it('waits for every partition to reach an instant before the first epoch, then for the instant after the latest', () => {
    // Before any epoch: the earliest instant reached, once every partition reached one.
    expect(nextBarrier(null, [2 * HOUR, null, HOUR], HOUR)).toEqual({ instant: null, waits: [false, true, false] });
    expect(nextBarrier(null, [2 * HOUR, 3 * HOUR, HOUR], HOUR)).toEqual({ instant: HOUR, waits: [false, false, false] });
    // After the epoch of 1 h: the instant of 2 h, which one partition has not reached.
    expect(nextBarrier(HOUR, [2 * HOUR, 3 * HOUR, HOUR], HOUR)).toEqual({ instant: 2 * HOUR, waits: [false, false, true] });
  });
});
