import { describe, expect, it } from 'vitest';
import { closestName } from '../../src/config/closest-name.js';

describe('closestName', () => {
  const names = ['PYRAMID_CLOCK', 'PYRAMID_CONFIG_FILE', 'PYRAMID_KAFKA_BROKERS', 'PYRAMID_HTTP_PORT', 'PYRAMID_HTTP_HOST'];

  it('finds the name one insertion, deletion, substitution or swap away', () => {
    expect(closestName('PYRAMID_CLOCKK', names)).toBe('PYRAMID_CLOCK');
    expect(closestName('PYRAMID_KAFKA_BROKER', names)).toBe('PYRAMID_KAFKA_BROKERS');
    expect(closestName('PYRAMID_HTTP_PROT', names)).toBe('PYRAMID_HTTP_PORT');
    expect(closestName('PYRAMID_HTTP_HOTS', names)).toBe('PYRAMID_HTTP_HOST');
  });

  it('ignores case and has no answer without candidates', () => {
    expect(closestName('pyramid_config_file', names)).toBe('PYRAMID_CONFIG_FILE');
    expect(closestName('anything', [])).toBeUndefined();
  });
});
