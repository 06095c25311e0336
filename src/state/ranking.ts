import type { Cluster, Redis } from 'ioredis';
import { decodeBoundaries, encodeBoundaries, rankingKeys, type RankingKeys, type StoredBoundaries } from './layout.js';
import { publishRefusal, toStateError } from './script-errors.js';
import { loadScript, runScript } from './scripts.js';

const HOLD = loadScript('holdLease-2.lua');
const PUBLISH = loadScript('publishBoundaries-3.lua');

/** What {@link RankingStore.holdLease} found. */
export type LeaseState = { held: true; token: number } | { held: false; holder: string };

/**
 * The narrow store of relative-boundary coordination under one key prefix: the coordinator
 * lease with its fencing token, and the published epochs (layout.ts, `rankingKeys`).
 */
export class RankingStore {
  private readonly keys: RankingKeys;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
  ) {
    this.keys = rankingKeys(prefix);
  }

  /** Take the lease for `instance`, or renew it when `instance` holds it, for `ttlMs`. */
  async holdLease(instance: string, ttlMs: number): Promise<LeaseState> {
    let reply: unknown[];
    try {
      reply = (await runScript(this.redis, HOLD, [this.keys.lease, this.keys.tokens], [instance, ttlMs])) as unknown[];
    } catch (err) {
      throw toStateError('holdLease', err);
    }
    return reply[0] === 1 ? { held: true, token: Number(reply[1]) } : { held: false, holder: String(reply[1]) };
  }

  /**
   * Publish `stored` as epoch `stored.boundaries.epoch`, fenced by `token`. `byInstant`: epochs
   * are numbered by their event-time instant (src/engine/barrier.ts), so the epoch need only be
   * after the latest; otherwise it must be the one right after it.
   *
   * @throws PyramidError STATE_FENCED (not retriable) when the lease is no longer held with
   *   `token`, or the epoch is not the next one (another coordinator published it).
   */
  async publish(token: number, stored: StoredBoundaries, byInstant = false): Promise<void> {
    const epoch = stored.boundaries.epoch;
    let reply: unknown[];
    try {
      reply = (await runScript(this.redis, PUBLISH, [this.keys.lease, this.keys.epochs, this.keys.current], [token, epoch, encodeBoundaries(stored), byInstant ? '1' : '0'])) as unknown[];
    } catch (err) {
      throw toStateError('publishBoundaries', err);
    }
    if (reply[0] !== 0) throw publishRefusal(reply, epoch, token);
  }

  /** The latest published epoch number; 0 when none. */
  async latestEpoch(): Promise<number> {
    try {
      return Number((await this.redis.get(this.keys.current)) ?? 0);
    } catch (err) {
      throw toStateError('latestEpoch', err);
    }
  }

  /** Epoch `epoch` as published; null when it never was. */
  async readEpoch(epoch: number): Promise<StoredBoundaries | null> {
    let text: string | null;
    try {
      text = await this.redis.hget(this.keys.epochs, String(epoch));
    } catch (err) {
      throw toStateError('readEpoch', err);
    }
    return text === null ? null : decodeBoundaries(text);
  }

  /** The latest published epoch; null when none. */
  async readLatest(): Promise<StoredBoundaries | null> {
    const epoch = await this.latestEpoch();
    return epoch === 0 ? null : this.readEpoch(epoch);
  }

  /** Every published epoch, ascending (tests and audits; the hash grows by one field per epoch). */
  async readAll(): Promise<StoredBoundaries[]> {
    let all: Record<string, string>;
    try {
      all = await this.redis.hgetall(this.keys.epochs);
    } catch (err) {
      throw toStateError('readAllEpochs', err);
    }
    return Object.values(all)
      .map(decodeBoundaries)
      .sort((a, b) => a.boundaries.epoch - b.boundaries.epoch);
  }
}
