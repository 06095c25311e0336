import type { Message, Producer } from 'kafkajs';
import { kafkaError } from './errors.js';
import type { OutgoingRecord } from './types.js';

/** A connected-on-demand producer of pyramid records. */
export interface PyramidProducer {
  connect(): Promise<void>;
  /**
   * Sends records to one topic and resolves once all in-sync replicas have them (acks = all).
   * @throws PyramidError KAFKA_UNAVAILABLE with the client's `retriable` verdict.
   */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A pyramid record as a kafkajs message (shared by the plain and the transactional producer). */
export function toMessage(record: OutgoingRecord): Message {
  const message: Message = { key: record.key, value: record.value };
  if (record.headers !== undefined) message.headers = record.headers;
  if (record.partition !== undefined) message.partition = record.partition;
  return message;
}

/** Records of one topic waiting for the next produce request, and the callers waiting for its outcome. */
interface PendingRequest {
  topic: string;
  messages: Message[];
  done: Promise<void>;
  settle(error?: unknown): void;
}

function pendingRequest(topic: string): PendingRequest {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // Every caller awaits `done`; this keeps a failure with no caller left from being unhandled.
  done.catch(() => undefined);
  return { topic, messages: [], done, settle: (error) => (error === undefined ? resolve() : reject(error)) };
}

/**
 * Adapts a kafkajs producer; built by `createKafkaClient().createProducer`.
 *
 * Sends to a topic made while a produce request is in flight are merged into one next request
 * for that topic, and each resolves once the request that carried its records was acknowledged.
 * An idempotent producer has one request in flight per broker anyway, so the DLQ writes of
 * several partitions would queue behind each other's round trips; merged, they share one. A lone send
 * goes out at once, as before; a caller's records stay in order; topics are never merged, so a
 * topic that fails (a missing DLQ topic, say) fails only its own senders.
 */
export function wrapProducer(producer: Producer): PyramidProducer {
  let connected: Promise<void> | undefined;
  const queue: PendingRequest[] = [];
  let sending = false;

  async function sendQueued(): Promise<void> {
    sending = true;
    try {
      for (let request = queue.shift(); request !== undefined; request = queue.shift()) {
        try {
          await producer.send({ topic: request.topic, acks: -1, messages: request.messages });
          request.settle();
        } catch (err) {
          request.settle(kafkaError(`produce to ${request.topic}`, err));
        }
      }
    } finally {
      sending = false;
    }
  }

  return {
    connect() {
      connected ??= producer.connect().catch((err: unknown) => {
        connected = undefined;
        throw kafkaError('producer connect', err);
      });
      return connected;
    },
    async send(topic, records) {
      if (records.length === 0) return;
      await this.connect();
      let request = queue.find((queued) => queued.topic === topic);
      if (request === undefined) {
        request = pendingRequest(topic);
        queue.push(request);
      }
      for (const record of records) request.messages.push(toMessage(record));
      if (!sending) void sendQueued();
      await request.done;
    },
    async disconnect() {
      connected = undefined;
      await producer.disconnect();
    },
  };
}
