import { partitionKey, type TopicPartition } from '../kafka/types.js';
import type { OwnedPartition } from './owned-partition.js';
import { SerialChains } from './serial.js';

/**
 * The one answer to "is this partition still mine, in this generation?" for the batch handler,
 * the relay and the sweeper. A partition is mine while the consumer group's current generation
 * assigned it to this instance and no other owner has claimed it in Redis since (a commit refused
 * for the owner token makes this instance a zombie for it until the next assignment).
 *
 * It also serialises work per partition: batches, sweeps and resyncs of one partition run one at
 * a time through {@link Ownership.exclusive}.
 */
export class Ownership {
  private generation = 0;
  private readonly partitions = new Map<string, OwnedPartition>();
  private readonly chains = new SerialChains();

  /** The consumer group generation the current assignment belongs to. */
  get currentGeneration(): number {
    return this.generation;
  }

  /** A new generation began (every rebalance, assigned or revoked). */
  startGeneration(generation: number): void {
    this.generation = generation;
  }

  /** Partitions (already claimed) this instance owns from now on. */
  adopt(owned: OwnedPartition): void {
    this.partitions.get(partitionKey(owned.topic, owned.partition))?.release();
    this.partitions.set(partitionKey(owned.topic, owned.partition), owned);
  }

  /** Partitions taken away by a rebalance: their cached state is dropped. */
  revoke(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const key = partitionKey(tp.topic, tp.partition);
      this.partitions.get(key)?.release();
      this.partitions.delete(key);
    }
  }

  /** The owned partition, while it is mine in `generation` (the current one when omitted). */
  get(tp: TopicPartition, generation = this.generation): OwnedPartition | undefined {
    if (generation !== this.generation) return undefined;
    const owned = this.partitions.get(partitionKey(tp.topic, tp.partition));
    return owned?.owned === true ? owned : undefined;
  }

  /** True while `tp` is mine in `generation`. */
  isMine(tp: TopicPartition, generation = this.generation): boolean {
    return this.get(tp, generation) !== undefined;
  }

  /** Every partition that is mine now. */
  owned(): OwnedPartition[] {
    return [...this.partitions.values()].filter((p) => p.owned);
  }

  /** Runs `task` after every earlier task of the same partition has settled. */
  exclusive<T>(tp: TopicPartition, task: () => Promise<T>): Promise<T> {
    return this.chains.run(partitionKey(tp.topic, tp.partition), task);
  }

  /** Settles once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.chains.idle();
  }
}
