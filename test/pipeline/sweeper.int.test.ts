import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { OutboxRelay } from '../../src/pipeline/outbox-relay.js';
import { Ownership } from '../../src/pipeline/ownership.js';
import { startSweeper } from '../../src/pipeline/sweeper.js';
import { testPolicy } from '../state/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { ownedPartition } from './owned-partition-fixture.js';

const relay: OutboxRelay = { flush: () => Promise.resolve({ published: 0, complete: true }), close: () => Promise.resolve() };

describe('sweeper', () => {
  const { redis, newPrefix } = useStateRedis();

  it('hands a refused sweep commit to the recovery instead of failing every tick', async () => {
    const prefix = newPrefix('sweep-fenced');
    const policy = testPolicy();
    const { owned } = await ownedPartition({ redis, prefix, policy, clock: 'wall' });
    // A vip purchase whose bucket leaves the 100 ms window at 1100: a timer due then.
    await owned.apply([{ offset: 0, transactionId: 't0', customerId: 'a', kind: 'purchase', amountMinor: 1500, eventTime: 1005 }], 1005);
    await owned.settled();
    const ownership = new Ownership();
    ownership.startGeneration(1);
    ownership.adopt(owned);
    // Another instance claims the partition: this one's next commit is refused.
    await ownedPartition({ redis, prefix, policy, clock: 'wall' });
    const fenced: unknown[] = [];
    const sweeper = startSweeper({
      ownership,
      relay,
      intervalMs: 60_000,
      logger: silentLogger,
      onFenced: async (partition, err) => {
        fenced.push(err);
        await partition.resync();
      },
    });
    try {
      await sweeper.sweepOnce();
      expect(fenced).toHaveLength(1);
      expect(isPyramidError(fenced[0], 'STATE_FENCED')).toBe(true);
      expect(owned.owned).toBe(false);
    } finally {
      await sweeper.stop();
    }
  });
});
