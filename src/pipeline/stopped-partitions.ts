import type { PyramidError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import { partitionKey, type TopicPartition } from '../kafka/types.js';
import type { HealthProbe } from './readiness-probes.js';

/**
 * The assigned partitions this scorer refuses to apply (their stored state does not fit the topic
 * Kafka holds, or Kafka lost the offsets they need), each with its error. While any is listed the
 * scorer is not ready: a partition that cannot apply must not look healthy.
 */
export class StoppedPartitions {
  private readonly stopped = new Map<string, { tp: TopicPartition; error: PyramidError }>();

  constructor(private readonly instrumentation?: Instrumentation) {}

  /** `tp` cannot apply until the operator acts; emits `partition.stopped`. */
  stop(tp: TopicPartition, error: PyramidError): void {
    this.stopped.set(partitionKey(tp.topic, tp.partition), { tp, error });
    this.instrumentation?.emit('partition.stopped', { topic: tp.topic, partition: tp.partition, reason: error.code, stopped: true });
  }

  /** Partitions no longer assigned here are no longer this scorer's to report. */
  forget(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      if (!this.stopped.delete(partitionKey(tp.topic, tp.partition))) continue;
      this.instrumentation?.emit('partition.stopped', { topic: tp.topic, partition: tp.partition, reason: '', stopped: false });
    }
  }

  /** True while `tp` is stopped here. */
  has(tp: TopicPartition): boolean {
    return this.stopped.has(partitionKey(tp.topic, tp.partition));
  }

  /** Readiness: fails while any partition is stopped, naming each with its error. */
  probe(): HealthProbe {
    return {
      name: 'partitions',
      check: () => {
        const entries = [...this.stopped.values()];
        if (entries.length === 0) return Promise.resolve({ ok: true });
        return Promise.resolve({ ok: false, detail: entries.map(({ error }) => error.message).join(' | ') });
      },
    };
  }
}
