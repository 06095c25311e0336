import { describe, expect, it } from 'vitest';
import { PyramidError, isPyramidError } from '../src/errors.js';

describe('PyramidError', () => {
  it('carries code, retriable and cause', () => {
    const cause = new Error('socket closed');
    const err = new PyramidError('REDIS_UNAVAILABLE', 'redis is down', { retriable: true, cause });
    expect(err.code).toBe('REDIS_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(isPyramidError(err, 'REDIS_UNAVAILABLE')).toBe(true);
    expect(isPyramidError(err, 'CONFIG_INVALID')).toBe(false);
  });

  it('is not retriable unless said so', () => {
    expect(new PyramidError('POLICY_INVALID', 'bad').retriable).toBe(false);
  });
});
