/**
 * A boundary coordinator in a process of its own, for relative-boundaries-failover.int.test.ts:
 * `node --import tsx coordinator-child.ts '<json options>'`. It runs the real coordinator (lease,
 * recompute, fenced publication) until the parent SIGKILLs it, printing `EPOCH <n>` per epoch it
 * published.
 */
import { Redis } from 'ioredis';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { startBoundaryCoordinator } from '../../src/pipeline/relative-boundaries.js';
import { RankingStore } from '../../src/state/ranking.js';
import { StateStore } from '../../src/state/store.js';

/** What the parent passes as the one argument. */
export interface CoordinatorChildOptions {
  redisUrl: string;
  prefix: string;
  topic: string;
  partitions: number;
  customerShards: number;
  policyFile: string;
  intervalMs: number;
  leaseMs: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as CoordinatorChildOptions;
const policy = await loadPolicyFile(options.policyFile);
const redis = new Redis(options.redisUrl);
const instrumentation = new Instrumentation();
instrumentation.on('ranking.epoch_published', (e) => process.stdout.write(`EPOCH ${e.epoch}\n`));
startBoundaryCoordinator({
  ranking: new RankingStore(redis, options.prefix),
  store: new StateStore({ redis, prefix: options.prefix, partitionCount: options.partitions, customerShards: options.customerShards }),
  topic: options.topic,
  partitions: Array.from({ length: options.partitions }, (_, p) => p),
  policy,
  policyHash: policyContentHash(policy),
  instance: `child-${process.pid}`,
  intervalMs: options.intervalMs,
  leaseMs: options.leaseMs,
  instrumentation,
  logger: silentLogger,
});
