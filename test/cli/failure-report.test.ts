import { describe, expect, it } from 'vitest';
import { failureReport } from '../../src/cli/failure-report.js';
import { PyramidError } from '../../src/errors.js';

describe('failureReport', () => {
  const err = new PyramidError('REDIS_UNAVAILABLE', 'cannot connect to Redis at 127.0.0.1:1: connect ECONNREFUSED', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });

  it('is one line at the default levels', () => {
    for (const level of [undefined, 'info', 'warn', '']) {
      expect(failureReport(err, level)).toBe('pyramid: cannot connect to Redis at 127.0.0.1:1: connect ECONNREFUSED');
    }
  });

  it('adds the stack and the cause chain at debug and trace', () => {
    for (const level of ['debug', 'trace']) {
      const lines = failureReport(err, level).split('\n');
      expect(lines[0]).toBe('pyramid: cannot connect to Redis at 127.0.0.1:1: connect ECONNREFUSED');
      expect(lines.some((line) => /^\s+at /.test(line))).toBe(true);
      expect(lines).toContain('caused by: Error: connect ECONNREFUSED 127.0.0.1:1');
    }
  });

  it('prints what was thrown when it is not an Error', () => {
    expect(failureReport('plain text', 'info')).toBe('pyramid: plain text');
  });
});
