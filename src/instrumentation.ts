import { EventEmitter } from 'node:events';

/**
 * Namespaced instrumentation events (kafkajs style). Core code emits them; `src/ops/metrics.ts`
 * listens and turns them into Prometheus metrics, so core code never imports prom-client.
 * Payloads carry no customer ids.
 */
export interface InstrumentationEvents {
  /** One record left the pipeline with an outcome. */
  'consumer.record': { topic: string; partition: number; outcome: 'scored' | 'duplicate' | 'late' | 'dlq' | 'stale' };
  /** A record went to the DLQ; `reason` is an error class such as DECODE_FAILED. */
  'consumer.dlq': { topic: string; partition: number; reason: string };
  /** A partition batch finished; durations in seconds per stage. */
  'consumer.batch': {
    topic: string;
    partition: number;
    size: number;
    stages: { decode: number; validate: number; apply: number; publish: number };
  };
  /** now − event time of a scored record, in seconds. */
  'consumer.end_to_end_latency': { topic: string; seconds: number };
  /** Consumer position vs. high watermark, refreshed periodically. */
  'consumer.lag': { topic: string; partition: number; messages: number; seconds: number };
  'consumer.rebalance': { groupId: string; kind: 'assigned' | 'revoked'; partitions: number };
  'consumer.group_joined': { groupId: string; memberId: string };
  /** A tier change was published downstream. */
  'tier.change': { from: string | null; to: string; cause: string };
  'outbox.pending': { topic: string; partition: number; pending: number };
  'state.script': { script: string; seconds: number; ok: boolean };
}

export type InstrumentationEventName = keyof InstrumentationEvents;

/** A typed EventEmitter. One instance per running scorer; tests create their own. */
export class Instrumentation {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(50);
  }

  emit<K extends InstrumentationEventName>(name: K, payload: InstrumentationEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  on<K extends InstrumentationEventName>(name: K, listener: (payload: InstrumentationEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
