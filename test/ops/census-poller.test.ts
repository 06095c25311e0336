import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Instrumentation, type InstrumentationEvents } from '../../src/instrumentation.js';
import { createLogger } from '../../src/logger.js';
import { startCensusPoller } from '../../src/ops/census-poller.js';
import { createStatusTracker } from '../../src/ops/status.js';

type Census = InstrumentationEvents['pyramid.census'];

const census = (vip: number): Census => ({ currency: 'CNY', minorUnitDigits: 2, tiers: [{ tier: 'VIP', rank: 1, customers: vip, revenueMinor: vip * 100 }] });

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ destination, level: 'warn' }), lines };
}

/** Resolve once `n` census events have been emitted on the bus. */
function censusEvents(bus: Instrumentation, n: number): Promise<Census[]> {
  const seen: Census[] = [];
  return new Promise((resolve) => {
    const off = bus.on('pyramid.census', (e) => {
      seen.push(e);
      if (seen.length === n) {
        off();
        resolve(seen);
      }
    });
  });
}

describe('startCensusPoller', () => {
  it('emits a census at once and then every interval, and the status page shows the latest', async () => {
    const bus = new Instrumentation();
    const tracker = createStatusTracker(bus);
    let calls = 0;
    const { logger } = capturingLogger();
    const events = censusEvents(bus, 3);
    const poller = startCensusPoller({ instrumentation: bus, source: { census: async () => census(++calls) }, intervalMs: 5, logger });
    expect((await events).map((e) => e.tiers[0]?.customers)).toEqual([1, 2, 3]);
    await poller.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(after);
    expect((await tracker.snapshot()).pyramid?.tiers[0]?.customers).toBe(after);
    tracker.close();
  });

  it('logs a failed census, keeps the previous one and tries again', async () => {
    const bus = new Instrumentation();
    const { logger, lines } = capturingLogger();
    let calls = 0;
    const events = censusEvents(bus, 2);
    const poller = startCensusPoller({
      instrumentation: bus,
      source: {
        census: async () => {
          calls += 1;
          if (calls === 2) throw new Error('READONLY You cannot write against a read only replica.');
          return census(calls);
        },
      },
      intervalMs: 5,
      logger,
    });
    expect((await events).map((e) => e.tiers[0]?.customers)).toEqual([1, 3]);
    await poller.stop();
    expect(lines.some((l) => l.includes('pyramid census failed') && l.includes('READONLY'))).toBe(true);
  });

  it('a census failing after stop() is not logged (a failed `pyramid run` start warned "the scorer is not started")', async () => {
    const bus = new Instrumentation();
    const { logger, lines } = capturingLogger();
    let fail: (err: Error) => void = () => undefined;
    const poller = startCensusPoller({
      instrumentation: bus,
      source: { census: () => new Promise<Census>((_resolve, reject) => (fail = reject)) },
      intervalMs: 5,
      logger,
    });
    const stopped = poller.stop();
    fail(new Error('the scorer is not started'));
    await stopped;
    expect(lines).toEqual([]);
  });
});
