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

function toMessage(record: OutgoingRecord): Message {
  const message: Message = { key: record.key, value: record.value };
  if (record.headers !== undefined) message.headers = record.headers;
  if (record.partition !== undefined) message.partition = record.partition;
  return message;
}

/** Adapts a kafkajs producer; built by `createKafkaClient().createProducer`. */
export function wrapProducer(producer: Producer): PyramidProducer {
  let connected: Promise<void> | undefined;
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
      try {
        await producer.send({ topic, acks: -1, messages: records.map(toMessage) });
      } catch (err) {
        throw kafkaError(`produce to ${topic}`, err);
      }
    },
    async disconnect() {
      connected = undefined;
      await producer.disconnect();
    },
  };
}
