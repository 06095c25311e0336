import { join } from 'node:path';
import { silentLogger, type Logger } from './logger.js';
import { groupCoordinatorPlugin } from './broker/group/plugin.js';
import { startBroker, type BrokerHandle } from './broker/index.js';
import { startSchemaRegistry, type SchemaRegistryHandle } from './registry/index.js';

/** The running embedded broker, as `startBroker` returns it. */
export type DevStackBroker = BrokerHandle;

/** Options of {@link startDevStack}. */
export interface DevStackOptions {
  /** Default 9092; 0 picks a free port (tests). */
  brokerPort?: number;
  /** Default 8081; 0 picks a free port (tests). */
  registryPort?: number;
  /** Interface both bind to and the broker advertises; default 127.0.0.1. */
  host?: string;
  /** Root of `broker/` and `registry/`; undefined keeps everything in memory. */
  dataDir?: string;
  /** Create a topic on first produce/metadata request, like Kafka's `auto.create.topics.enable`; default true. */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics; the broker's default when undefined. */
  defaultPartitions?: number;
  logger?: Logger;
}

/** A running dev stack: what clients need to connect, plus both parts. */
export interface DevStackHandle {
  /** Bootstrap addresses for kafkajs (`host:port`). */
  brokers: string[];
  registryUrl: string;
  broker: DevStackBroker;
  registry: SchemaRegistryHandle;
  /** Stop the registry, then the broker. */
  close(): Promise<void>;
}

/**
 * Start the embedded Kafka-protocol broker and the schema registry side by side: everything pyramid
 * needs from Kafka for development, tests and demos, without a JVM or Docker. Each part keeps its
 * data in its own folder under `dataDir`, so either can be wiped alone.
 */
export async function startDevStack(options: DevStackOptions = {}): Promise<DevStackHandle> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const dataDir = options.dataDir;

  const broker = await startBroker({
    host,
    port: options.brokerPort ?? 9092,
    dataDir: dataDir === undefined ? undefined : join(dataDir, 'broker'),
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: options.defaultPartitions,
    // Consumer groups are a plugin of the broker; pyramid's pipeline cannot run without them.
    plugins: [groupCoordinatorPlugin()],
    logger,
  });
  let registry: SchemaRegistryHandle;
  try {
    registry = await startSchemaRegistry({
      host,
      port: options.registryPort ?? 8081,
      dataDir: dataDir === undefined ? undefined : join(dataDir, 'registry'),
      logger,
    });
  } catch (err) {
    await broker.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    brokers: [broker.address],
    registryUrl: registry.url,
    broker,
    registry,
    close() {
      // Registry first: it is the cheap one, and the broker's close is where slow clients linger.
      closing ??= registry.close().finally(() => broker.close());
      return closing;
    },
  };
}
