import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { PyramidConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../logger.js';
import { wrapAdmin, type PyramidAdmin } from './admin.js';
import { coPartitionedAssigner } from './co-partitioned-assigner.js';
import { coordinatorCachingProducers } from './coordinator-cache.js';
import { wrapConsumer, type ConsumerOptions, type PyramidConsumer } from './consumer.js';
import { createKafkaLogCreator, kafkaLogLevelFor } from './log.js';
import { createPartitionLogReader, type PartitionLogReader } from './partition-logs.js';
import { wrapProducer, type PyramidProducer } from './producer.js';
import { wrapTransactionalProducer, type PyramidTransactionalProducer, type TransactionalProducerOptions } from './transactional-producer.js';

/** The connection settings of config `kafka`. */
export type KafkaConnectionConfig = PyramidConfig['kafka'];

export interface KafkaClientOptions {
  /** kafkajs log lines go here (redacted JSON); default silent. */
  logger?: Logger;
}

export interface ProducerOptions {
  /**
   * Default true: the broker dedupes the producer's retries (producer id + sequence numbers), so a
   * retried send cannot duplicate or reorder records. Needs acks = all, which `send` always uses.
   */
  idempotent?: boolean;
}

/** Factory for the Kafka clients pyramid uses, all sharing one connection configuration. */
export interface PyramidKafka {
  createProducer(options?: ProducerOptions): PyramidProducer;
  /**
   * A transactional producer for one transactional id: publishes records and records progress
   * atomically, fencing older instances with the same id. See {@link PyramidTransactionalProducer}.
   * @throws RangeError for an empty transactional id or a timeout that is not a positive integer
   */
  createTransactionalProducer(options: TransactionalProducerOptions): PyramidTransactionalProducer;
  createConsumer(options: ConsumerOptions): PyramidConsumer;
  createAdmin(): PyramidAdmin;
  /** Reads where each partition's log starts and its first record (the topic's incarnation). */
  createPartitionLogReader(): PartitionLogReader;
}

/**
 * The kafkajs client configuration for pyramid's `kafka` settings: brokers, client id, TLS
 * (optionally with a private CA bundle read from disk) and SASL PLAIN / SCRAM.
 */
export function toKafkaJsConfig(config: KafkaConnectionConfig, logger: Logger = silentLogger): KafkaConfig {
  const ssl: KafkaConfig['ssl'] = config.tls.enabled
    ? {
        rejectUnauthorized: config.tls.rejectUnauthorized,
        ...(config.tls.caFile === undefined ? {} : { ca: [readFileSync(config.tls.caFile, 'utf8')] }),
      }
    : false;
  const sasl: SASLOptions | undefined =
    config.sasl === undefined
      ? undefined
      : config.sasl.mechanism === 'plain'
        ? { mechanism: 'plain', username: config.sasl.username, password: config.sasl.password }
        : config.sasl.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username: config.sasl.username, password: config.sasl.password }
          : { mechanism: 'scram-sha-512', username: config.sasl.username, password: config.sasl.password };
  return {
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl,
    ...(sasl === undefined ? {} : { sasl }),
    logLevel: kafkaLogLevelFor(logger.level),
    logCreator: createKafkaLogCreator(logger),
  };
}

/**
 * Builds pyramid's Kafka clients from configuration. This folder is the only production code that
 * knows kafkajs; everything else sees the types in ./types.ts.
 */
export function createKafkaClient(config: KafkaConnectionConfig, options: KafkaClientOptions = {}): PyramidKafka {
  const kafka = new kafkajs.Kafka(toKafkaJsConfig(config, options.logger ?? silentLogger));
  const cachingProducer = coordinatorCachingProducers(kafka);
  return {
    createProducer(producerOptions = {}) {
      const idempotent = producerOptions.idempotent ?? true;
      // One request in flight keeps order on retry without relying on the broker's sequence window.
      return wrapProducer(
        kafka.producer({
          idempotent,
          maxInFlightRequests: idempotent ? 1 : 5,
          allowAutoTopicCreation: false,
          // murmur2 on the key, as the Java client: a customer lands on the same partition whoever produces.
          createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
        }),
      );
    },
    createTransactionalProducer({ transactionalId, transactionTimeoutMs = 60_000 }) {
      if (transactionalId === '') throw new RangeError('transactionalId must not be empty');
      if (!Number.isInteger(transactionTimeoutMs) || transactionTimeoutMs < 1) {
        throw new RangeError(`transactionTimeoutMs must be a positive integer, got ${transactionTimeoutMs}`);
      }
      return wrapTransactionalProducer(
        transactionalId,
        () =>
          cachingProducer({
            transactionalId,
            transactionTimeout: transactionTimeoutMs,
            // Transactions need the idempotent producer, and kafkajs allows only one request in flight with it.
            idempotent: true,
            maxInFlightRequests: 1,
            allowAutoTopicCreation: false,
            createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
          }),
        () => wrapAdmin(kafka.admin()),
      );
    },
    createConsumer(consumerOptions) {
      return wrapConsumer(
        kafka.consumer({
          groupId: consumerOptions.groupId,
          sessionTimeout: consumerOptions.sessionTimeoutMs ?? 30_000,
          rebalanceTimeout: consumerOptions.rebalanceTimeoutMs ?? 60_000,
          heartbeatInterval: consumerOptions.heartbeatIntervalMs ?? 3_000,
          maxBytesPerPartition: consumerOptions.maxBytesPerPartition ?? 1_048_576,
          maxWaitTimeInMs: consumerOptions.maxWaitTimeMs ?? 250,
          readUncommitted: (consumerOptions.isolation ?? 'read_committed') === 'read_uncommitted',
          allowAutoTopicCreation: false,
          ...(consumerOptions.coPartitioned === true ? { partitionAssigners: [coPartitionedAssigner] } : {}),
        }),
        consumerOptions,
      );
    },
    createAdmin() {
      return wrapAdmin(kafka.admin());
    },
    createPartitionLogReader() {
      return createPartitionLogReader(kafka);
    },
  };
}
