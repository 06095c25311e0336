import { describe, expect, it } from 'vitest';
import { isRetriable, PyramidError } from '../../src/errors.js';
import { backoffDelay, retrying } from '../../src/pipeline/retry.js';

const fast = { initialMs: 1, maxMs: 4, factor: 2, jitter: 0.5 };

describe('retrying', () => {
  it('retries a retriable failure with the same work until it succeeds', async () => {
    let calls = 0;
    const result = await retrying(
      async () => {
        calls += 1;
        if (calls < 4) throw new PyramidError('REDIS_UNAVAILABLE', 'down', { retriable: true });
        return 'applied';
      },
      { shouldStop: () => false, options: fast },
    );
    expect(result).toEqual({ done: true, value: 'applied' });
    expect(calls).toBe(4);
  });

  it('throws a non-retriable error at once', async () => {
    let calls = 0;
    const work = async (): Promise<never> => {
      calls += 1;
      throw new PyramidError('STATE_LAYOUT_MISMATCH', 'wrong layout');
    };
    await expect(retrying(work, { shouldStop: () => false, options: fast })).rejects.toMatchObject({ code: 'STATE_LAYOUT_MISMATCH' });
    expect(calls).toBe(1);
  });

  it('gives up without a result once shouldStop turns true (stale batch), never skipping silently', async () => {
    let stale = false;
    const result = await retrying(
      async () => {
        stale = true;
        throw new PyramidError('KAFKA_UNAVAILABLE', 'broker restarting', { retriable: true });
      },
      { shouldStop: () => stale, options: fast },
    );
    expect(result).toEqual({ done: false });
  });

  it('backs off exponentially up to the cap, with jitter below the nominal delay', () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 };
    for (let attempt = 0; attempt < 10; attempt++) {
      const nominal = Math.min(1_000, 100 * 2 ** attempt);
      const delay = backoffDelay(attempt, options);
      expect(delay).toBeLessThanOrEqual(nominal);
      expect(delay).toBeGreaterThanOrEqual(nominal / 2);
    }
  });

  it('treats only errors marked retriable as retriable', () => {
    expect(isRetriable(new PyramidError('REDIS_UNAVAILABLE', 'x', { retriable: true }))).toBe(true);
    expect(isRetriable(new PyramidError('STATE_SCRIPT_FAILED', 'x'))).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });
});
