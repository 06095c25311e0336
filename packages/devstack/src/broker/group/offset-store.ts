import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import type { FsyncPolicy } from '../fsync-policy.js';
import { applyLine, OffsetLog, type CommittedOffset, type LogLine, type OffsetState, type OffsetTable } from './offset-log.js';
import type { OffsetsTopicWriter } from './offsets-topic.js';

export type { CommittedOffset } from './offset-log.js';

/** One partition's offset in an OffsetCommit. */
export interface OffsetCommitEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

/** A committed offset with its place, as OffsetFetch with `topics = null` lists them. */
export interface CommittedPartition extends CommittedOffset {
  readonly topic: string;
  readonly partition: number;
}

/**
 * Committed consumer offsets per group, topic and partition. With a data directory every change
 * goes through {@link OffsetLog} before the method returns; without one (in-memory broker) offsets
 * live as long as the process. OffsetFetch reads this table, as Kafka reads its offset cache.
 *
 * With a mirror ({@link OffsetsTopicWriter}), every change is then also appended to
 * `__consumer_offsets` in Kafka's record format, for readers of that topic (Burrow). The offset
 * log stays the store the broker recovers from: it is compacted and small, where the topic has
 * no compaction here. A change whose mirror write fails throws like a failed log write, so the
 * client's retry writes it again (both writes are idempotent for the same offset).
 */
export class OffsetStore {
  private readonly state: OffsetState;
  /**
   * Set by close: a later change must fail loudly rather than write to a closed descriptor number
   * that the process may already have reused for another file.
   */
  private closed = false;

  private mirror: OffsetsTopicWriter | null = null;

  private constructor(
    private readonly log: OffsetLog | null,
    state: OffsetState,
  ) {
    this.state = state;
  }

  private get table(): OffsetTable {
    return this.state.committed;
  }

  /** From now on, also append every change to the offsets topic. */
  mirrorTo(writer: OffsetsTopicWriter): void {
    this.mirror = writer;
  }

  /**
   * Opens the store under `<dataDir>/groups/`, or in memory when `dataDir` is null. `fsync` is the
   * broker's policy (default `'never'`); under `'always'` every change is fdatasync'ed before the
   * method returns.
   */
  static open(dataDir: string | null, logger: Logger, fsync: FsyncPolicy = 'never'): OffsetStore {
    if (dataDir === null) return new OffsetStore(null, { committed: new Map(), pending: new Map() });
    const { log, state } = OffsetLog.open(join(dataDir, 'groups'), logger, fsync);
    return new OffsetStore(log, state);
  }

  /**
   * The fsync policy changes are written with; `null` in memory, where nothing reaches a disk.
   */
  get fsync(): FsyncPolicy | null {
    return this.log?.fsync ?? null;
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.table.get(groupId)?.get(topic)?.get(partition);
  }

  /** Every committed offset of a group, topics and partitions in ascending order. */
  list(groupId: string): CommittedPartition[] {
    const topics = this.table.get(groupId);
    if (topics === undefined) return [];
    const out: CommittedPartition[] = [];
    for (const topic of [...topics.keys()].sort()) {
      const partitions = topics.get(topic) as Map<number, CommittedOffset>;
      for (const partition of [...partitions.keys()].sort((a, b) => a - b)) {
        out.push({ topic, partition, ...(partitions.get(partition) as CommittedOffset) });
      }
    }
    return out;
  }

  /** Groups that have at least one committed offset (they exist as Empty groups after a restart). */
  groupIds(): string[] {
    return [...this.table.entries()].filter(([, topics]) => topics.size > 0).map(([groupId]) => groupId);
  }

  /** Stores the offsets of one OffsetCommit request; persisted (when there is a log) before returning. */
  commit(groupId: string, entries: readonly OffsetCommitEntry[]): void {
    if (entries.length === 0) return;
    this.apply({ g: groupId, c: entries.map((e) => [e.topic, e.partition, e.offset, e.metadata] as const) });
    this.mirror?.write(groupId, entries);
  }

  /**
   * Stores the offsets of one TxnOffsetCommit as pending for producer `producerId`: invisible to
   * OffsetFetch until {@link endTransaction} commits them. Persisted before returning.
   */
  commitPending(producerId: number, groupId: string, entries: readonly OffsetCommitEntry[]): void {
    if (entries.length === 0) return;
    this.apply({ g: groupId, c: entries.map((e) => [e.topic, e.partition, e.offset, e.metadata] as const), p: producerId });
  }

  /**
   * Ends producer `producerId`'s transaction for `groupIds`: its pending offsets of those groups
   * become committed (`commit`) or are dropped. Persisted before returning; a repeat finds nothing
   * pending and changes nothing.
   */
  endTransaction(producerId: number, groupIds: readonly string[], commit: boolean): void {
    const pending = this.state.pending.get(producerId);
    if (pending === undefined) return;
    // What becomes committed is mirrored like any other commit, once the log has it.
    const committed: [string, OffsetCommitEntry[]][] = [];
    if (commit) {
      for (const groupId of groupIds) {
        const entries: OffsetCommitEntry[] = [];
        for (const [topic, partitions] of pending.get(groupId) ?? []) {
          for (const [partition, { offset, metadata }] of partitions) entries.push({ topic, partition, offset, metadata });
        }
        if (entries.length > 0) committed.push([groupId, entries]);
      }
    }
    this.apply({ te: producerId, ok: commit, gs: groupIds });
    for (const [groupId, entries] of committed) this.mirror?.write(groupId, entries);
  }

  /**
   * Forgets every group's offsets of a deleted topic, so a re-created topic starts uncommitted
   * (Kafka does the same). Called through the group plugin's `onTopicDeleted` hook from
   * DeleteTopics; persisted (when there is a log) before returning, so it survives a restart.
   */
  deleteTopic(topic: string): void {
    // Kafka writes a tombstone per removed offset; collect them before the table forgets them.
    const removed: [string, number[]][] = [];
    for (const [groupId, topics] of this.table) {
      const partitions = topics.get(topic);
      if (partitions !== undefined) removed.push([groupId, [...partitions.keys()].sort((a, b) => a - b)]);
    }
    let pending = false;
    for (const table of this.state.pending.values()) for (const topics of table.values()) pending ||= topics.has(topic);
    if (removed.length === 0 && !pending) return;
    this.apply({ dt: topic });
    for (const [groupId, partitions] of removed) {
      this.mirror?.write(groupId, partitions.map((partition) => ({ topic, partition, offset: null, metadata: '' })));
    }
  }

  private apply(line: LogLine): void {
    if (this.closed) throw new Error('offset store is closed');
    // Log first: if the write fails, memory must not claim a commit the disk does not have.
    this.log?.append(line);
    applyLine(line, this.state);
    this.log?.maybeCompact(this.state);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log?.close();
  }
}
