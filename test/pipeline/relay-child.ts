/**
 * A relay process that dies between produce and commit: run by outbox-relay.int.test.ts as
 * `node --import tsx relay-child.ts '<json options>'`. It flushes one input partition's outbox
 * through the real relay and transactional producer, but its socket swallows the EndTxn request
 * (Kafka API key 26) and prints `END_TXN` instead, so the transaction stays open with its records
 * written until the parent SIGKILLs it.
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import kafkajs from 'kafkajs';
import { wrapAdmin } from '../../src/kafka/admin.js';
import { coordinatorCachingProducers } from '../../src/kafka/coordinator-cache.js';
import { wrapTransactionalProducer } from '../../src/kafka/transactional-producer.js';
import { createOutboxRelay } from '../../src/pipeline/outbox-relay.js';
import { createJsonSignalEncoder } from '../../src/pipeline/signal-encoder.js';
import { createJsonTierChangeEncoder } from '../../src/pipeline/tier-change-encoder.js';
import { StateStore } from '../../src/state/store.js';

/** What the parent passes as the one argument. */
export interface RelayChildOptions {
  brokers: string[];
  redisUrl: string;
  prefix: string;
  input: string;
  tierChanges: string;
  groupId: string;
  transactionTimeoutMs: number;
}

const END_TXN = 26;
const options = JSON.parse(process.argv[2] ?? '{}') as RelayChildOptions;

const swallowEndTxn: kafkajs.ISocketFactory = ({ host, port, onConnect }) => {
  const socket = connect({ host, port }, onConnect);
  const write = socket.write.bind(socket) as (data: Buffer, encoding: BufferEncoding) => boolean;
  socket.write = ((data: Buffer, encoding: BufferEncoding) => {
    // kafkajs writes each request as one buffer: size (int32), then the api key (int16).
    if (Buffer.isBuffer(data) && data.length >= 6 && data.readInt16BE(4) === END_TXN) {
      process.stdout.write('END_TXN\n');
      return true;
    }
    return write(data, encoding);
  }) as typeof socket.write;
  return socket;
};

const kafka = new kafkajs.Kafka({ brokers: options.brokers, clientId: 'relay-child', logLevel: kafkajs.logLevel.NOTHING, socketFactory: swallowEndTxn });
const cachingProducer = coordinatorCachingProducers(kafka);
const redis = new Redis(options.redisUrl);
const relay = createOutboxRelay({
  store: new StateStore({ redis, prefix: options.prefix, partitionCount: 1 }),
  groupId: options.groupId,
  createProducer: (transactionalId) =>
    wrapTransactionalProducer(
      transactionalId,
      () => cachingProducer({ transactionalId, transactionTimeout: options.transactionTimeoutMs, idempotent: true, maxInFlightRequests: 1 }),
      () => wrapAdmin(kafka.admin()),
    ),
  topic: options.tierChanges,
  encoder: createJsonTierChangeEncoder(),
  signals: { topic: `${options.tierChanges}-signals`, encoder: createJsonSignalEncoder() },
});
await relay.flush(options.input, 0);
