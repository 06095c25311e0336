import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import type { TopicCatalogView } from '../context.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import { fsyncDirectory, readJsonIfExists, writeJsonAtomic } from './json-file.js';
import { PartitionLog } from './partition-log.js';
import { SegmentFile } from './segment-file.js';

/** A topic and its partition logs. */
interface Topic {
  readonly name: string;
  readonly partitions: readonly PartitionLog[];
  /** Written by the broker itself (`__consumer_offsets`); clients may read it but not produce to it. */
  readonly internal: boolean;
}

interface TopicMeta {
  name: string;
  partitions: number;
  /** Absent in topic.json files written before internal topics existed: those are not internal. */
  internal?: boolean;
}

interface ProducerIdsMeta {
  nextProducerId: number;
}

/** Kafka's own topic name rule: [a-zA-Z0-9._-]{1,249}, and not "." or "..". */
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** The only segment of a partition: there is no retention, so the log never rolls. */
const SEGMENT_FILE = '00000000000000000000.log';

export interface TopicStoreOptions {
  /** `null` keeps everything in memory. */
  readonly dataDir: string | null;
  readonly logger: Logger;
  /**
   * Fsync the directories a topic creation or deletion changed before returning (the broker's
   * `fsync: 'always'`; default off): a segment that Produce fdatasyncs is then still named by its
   * directory after a power cut, and a deleted topic does not come back.
   */
  readonly syncDirectories?: boolean;
}

/**
 * All topics of the broker and the producer-id counter, with their on-disk layout:
 *
 * ```
 * <dataDir>/topics/<topic>/topic.json              name + partition count (written last on create)
 * <dataDir>/topics/<topic>/<partition>/00000000000000000000.log
 * <dataDir>/producer-ids.json                      next producer id to hand out
 * <dataDir>/trash/                                 deleted topics, removed on the next start
 * ```
 *
 * A topic exists exactly when its topic.json exists; a directory without one is debris from a
 * crash during creation and is removed on start.
 */
export class TopicStore implements TopicCatalogView {
  private readonly topics = new Map<string, Topic>();
  private nextProducerId = 0;

  private constructor(private readonly options: TopicStoreOptions) {}

  /** Opens (and recovers) the store: every partition log is scanned and torn tails truncated. */
  static open(options: TopicStoreOptions): TopicStore {
    const store = new TopicStore(options);
    store.recover();
    return store;
  }

  private get topicsDir(): string | null {
    return this.options.dataDir === null ? null : join(this.options.dataDir, 'topics');
  }

  private recover(): void {
    const { dataDir, logger } = this.options;
    const topicsDir = this.topicsDir;
    if (dataDir === null || topicsDir === null) return;
    mkdirSync(topicsDir, { recursive: true });
    rmSync(join(dataDir, 'trash'), { recursive: true, force: true });
    let maxProducerId = -1;
    for (const dirName of readdirSync(topicsDir)) {
      const dir = join(topicsDir, dirName);
      const meta = readJsonIfExists(join(dir, 'topic.json')) as TopicMeta | undefined;
      if (meta === undefined) {
        logger.warn({ dir }, 'removing topic directory without topic.json (interrupted create)');
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const partitions: PartitionLog[] = [];
      for (let p = 0; p < meta.partitions; p++) {
        const partDir = join(dir, String(p));
        mkdirSync(partDir, { recursive: true });
        const log = new PartitionLog(meta.name, p, new SegmentFile(join(partDir, SEGMENT_FILE)));
        const truncated = log.recover();
        if (truncated > 0) {
          logger.warn({ topic: meta.name, partition: p, truncatedBytes: truncated }, 'truncated torn log tail on recovery');
        }
        maxProducerId = Math.max(maxProducerId, log.producers.maxProducerId());
        partitions.push(log);
      }
      this.topics.set(meta.name, { name: meta.name, partitions, internal: meta.internal === true });
    }
    const ids = readJsonIfExists(join(dataDir, 'producer-ids.json')) as ProducerIdsMeta | undefined;
    this.nextProducerId = Math.max(ids?.nextProducerId ?? 0, maxProducerId + 1);
    logger.info({ topics: this.topics.size, nextProducerId: this.nextProducerId }, 'broker log recovered');
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length;
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  /** Whether `topic` exists and is internal (created with `{ internal: true }`). */
  isInternal(topic: string): boolean {
    return this.topics.get(topic)?.internal === true;
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /**
   * Creates a topic; returns NONE or the error code CreateTopics should answer. `internal` marks a
   * topic the broker writes itself (persisted in topic.json, so it stays internal after a restart).
   */
  createTopic(name: string, numPartitions: number, options: { internal?: boolean } = {}): KafkaErrorCode {
    const internal = options.internal === true;
    if (!isLegalTopicName(name)) return KafkaErrorCode.INVALID_TOPIC_EXCEPTION;
    if (this.topics.has(name)) return KafkaErrorCode.TOPIC_ALREADY_EXISTS;
    if (!Number.isInteger(numPartitions) || numPartitions < 1 || numPartitions > 10_000) {
      return KafkaErrorCode.INVALID_PARTITIONS;
    }
    const partitions: PartitionLog[] = [];
    const topicsDir = this.topicsDir;
    if (topicsDir === null) {
      for (let p = 0; p < numPartitions; p++) partitions.push(new PartitionLog(name, p, null));
    } else {
      const dir = join(topicsDir, name);
      try {
        for (let p = 0; p < numPartitions; p++) {
          const partDir = join(dir, String(p));
          mkdirSync(partDir, { recursive: true });
          partitions.push(new PartitionLog(name, p, new SegmentFile(join(partDir, SEGMENT_FILE))));
        }
        const durable = this.options.syncDirectories === true;
        if (durable) for (let p = 0; p < numPartitions; p++) fsyncDirectory(join(dir, String(p)));
        writeJsonAtomic(join(dir, 'topic.json'), (internal ? { name, partitions: numPartitions, internal } : { name, partitions: numPartitions }) satisfies TopicMeta);
        if (durable) fsyncDirectory(topicsDir);
      } catch {
        // The disk refused (full, failing): nothing is registered and no handle stays open, and
        // without topic.json a restart removes the half-made directory; a retry redoes it.
        for (const partition of partitions) partition.close();
        return KafkaErrorCode.KAFKA_STORAGE_ERROR;
      }
    }
    this.topics.set(name, { name, partitions, internal });
    this.options.logger.info({ topic: name, partitions: numPartitions, internal }, 'topic created');
    return KafkaErrorCode.NONE;
  }

  /** Deletes a topic and its data; returns NONE or UNKNOWN_TOPIC_OR_PARTITION. */
  deleteTopic(name: string): KafkaErrorCode {
    const topic = this.topics.get(name);
    if (topic === undefined) return KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    this.topics.delete(name);
    for (const p of topic.partitions) p.close();
    const { dataDir } = this.options;
    const topicsDir = this.topicsDir;
    if (dataDir !== null && topicsDir !== null) {
      // Move out of topics/ first (one atomic rename), so a crash mid-delete cannot leave half a
      // topic behind that recovery would resurrect.
      const trash = join(dataDir, 'trash');
      mkdirSync(trash, { recursive: true });
      const moved = join(trash, `${name}-${randomUUID()}`);
      renameSync(join(topicsDir, name), moved);
      if (this.options.syncDirectories === true) fsyncDirectory(topicsDir);
      rmSync(moved, { recursive: true, force: true });
    }
    this.options.logger.info({ topic: name }, 'topic deleted');
    return KafkaErrorCode.NONE;
  }

  /** Hands out a producer id that was never handed out before, persisted before it is returned. */
  allocateProducerId(): number {
    const id = this.nextProducerId++;
    if (this.options.dataDir !== null) {
      writeJsonAtomic(join(this.options.dataDir, 'producer-ids.json'), { nextProducerId: this.nextProducerId } satisfies ProducerIdsMeta);
    }
    return id;
  }

  close(): void {
    for (const topic of this.topics.values()) for (const p of topic.partitions) p.close();
    this.topics.clear();
  }
}

/** True for names Kafka accepts as topic names. */
function isLegalTopicName(name: string): boolean {
  return LEGAL_TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}
