import { type KafkaGroupProbeOptions } from '../../src/pipeline/readiness-probes.js';

/**
 * Group-probe options for tests whose member always holds partitions: the probe never needs the
 * coordinator then, so asking it is a failure the test would show.
 */
export const HOLDS_PARTITIONS: KafkaGroupProbeOptions = {
  topic: 'tx',
  partitionCount: 4,
  describeGroup: () => Promise.reject(new Error('the group coordinator was asked although the member holds partitions')),
};
