import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { silentLogger, type Logger } from '../logger.js';
import { ApiRegistry } from './api-registry.js';
import { apiVersionsHandler } from './apis/api-versions.js';
import { createTopicsHandler } from './apis/create-topics.js';
import { deleteTopicsHandler } from './apis/delete-topics.js';
import { fetchHandler } from './apis/fetch.js';
import { initProducerIdHandler } from './apis/init-producer-id.js';
import { listOffsetsHandler } from './apis/list-offsets.js';
import { metadataHandler } from './apis/metadata.js';
import { produceHandler } from './apis/produce.js';
import type { BrokerState } from './broker-state.js';
import { Connection } from './connection.js';
import type { BrokerPlugin, BrokerPluginInstance } from './broker-plugin.js';
import type { BrokerContext, BrokerEndpoint } from './context.js';
import type { FsyncPolicy } from './fsync-policy.js';
import { groupCoordinatorPlugin } from './group/plugin.js';
import { AppendNotifier } from './log/append-notifier.js';
import { lockDataDir } from '../dir-lock.js';
import { InternalTopics } from './log/internal-topics.js';
import { TopicStore } from './log/topic-store.js';
import { addOffsetsToTxnHandler } from './txn/apis/add-offsets-to-txn.js';
import { addPartitionsToTxnHandler } from './txn/apis/add-partitions-to-txn.js';
import { endTxnHandler } from './txn/apis/end-txn.js';
import { TransactionCoordinator, type TransactionCoordinatorOptions } from './txn/coordinator.js';
import { TxnStore } from './txn/txn-store.js';

export type { ApiHandler, RequestContext, ConnectionInfo } from './api-registry.js';
export type { BrokerPlugin, BrokerPluginInstance } from './broker-plugin.js';
export type { BrokerContext, BrokerEndpoint, InternalTopicWriter, TopicCatalogView } from './context.js';
export type { FsyncPolicy } from './fsync-policy.js';
export type { TransactionCoordinatorOptions } from './txn/coordinator.js';

export interface StartBrokerOptions {
  /** Interface to bind; also the advertised host unless it is a wildcard. Default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free one (tests). Default 9092. */
  port?: number;
  /** Host to advertise when it differs from the bound one (e.g. bound to 0.0.0.0). */
  advertisedHost?: string;
  /** Directory for logs and metadata; null/undefined keeps everything in memory. */
  dataDir?: string | null;
  /** Create unknown topics on Metadata requests that allow it. Default true. */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with num_partitions −1. Default 1. */
  defaultPartitions?: number;
  /** See {@link FsyncPolicy}. Default 'never' (ack after write(2), safe against kill -9). */
  fsync?: FsyncPolicy;
  /** Largest request frame accepted; larger ones close the connection. Default 100 MiB. */
  maxFrameSize?: number;
  /**
   * Components serving more APIs. Default: the group coordinator (`group/plugin.ts`), which
   * consumer groups need; pass `[]` for a broker without it.
   */
  plugins?: readonly BrokerPlugin[];
  /** Transaction coordinator settings (`transaction.max.timeout.ms` and the timeout check interval). */
  transactions?: TransactionCoordinatorOptions;
  logger?: Logger;
}

/** A running broker. */
export interface BrokerHandle {
  readonly host: string;
  readonly port: number;
  /** `host:port`, what a client's `brokers` list takes. */
  readonly address: string;
  /** Stops accepting, drops connections, closes plugins and log files. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024;

/**
 * Starts a single-node broker speaking the Kafka wire protocol — enough of it that kafkajs and
 * librdkafka (kcat) run unchanged against it: ApiVersions, Metadata, CreateTopics, DeleteTopics,
 * Produce, Fetch, ListOffsets, InitProducerId, the transaction coordinator's AddPartitionsToTxn,
 * AddOffsetsToTxn and EndTxn, plus the group coordinator's APIs (or whatever `plugins` add; the
 * group coordinator also serves FindCoordinator and TxnOffsetCommit, which transactions need). For development, tests and demos.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerHandle> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const dataDir = options.dataDir ?? null;
  const defaultPartitions = options.defaultPartitions ?? 1;
  if (!Number.isInteger(defaultPartitions) || defaultPartitions < 1) {
    throw new RangeError(`defaultPartitions must be a positive integer, got ${defaultPartitions}`);
  }

  let unlock = (): void => undefined;
  if (dataDir !== null) {
    mkdirSync(dataDir, { recursive: true });
    unlock = lockDataDir(dataDir, 'broker.lock', 'broker');
  }
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const fsync = options.fsync ?? 'never';
  let store: TopicStore;
  let txnStore: TxnStore;
  try {
    store = TopicStore.open({ dataDir, logger, syncDirectories: fsync === 'always' });
    txnStore = TxnStore.open(dataDir, { durable: fsync === 'always' });
  } catch (err) {
    unlock();
    throw err;
  }
  const registry = new ApiRegistry();
  // Filled once the plugins have started (below); DeleteTopics reads it for the topic hooks and
  // the transaction coordinator for the offsets hook.
  const plugins: BrokerPluginInstance[] = [];
  const notifier = new AppendNotifier();
  const transactions = new TransactionCoordinator(
    { store: txnStore, topics: store, notifier, fsync, plugins, logger: logger.child({ component: 'transaction-coordinator' }) },
    options.transactions,
  );
  const state: BrokerState = {
    store,
    notifier,
    registry,
    config: { autoCreateTopics: options.autoCreateTopics ?? true, defaultPartitions, fsync, maxFrameSize },
    transactions,
    plugins,
  };
  for (const make of [
    apiVersionsHandler,
    metadataHandler,
    produceHandler,
    fetchHandler,
    listOffsetsHandler,
    createTopicsHandler,
    deleteTopicsHandler,
    initProducerIdHandler,
  ]) {
    registry.register(make(state));
  }
  for (const handler of [addPartitionsToTxnHandler(transactions), addOffsetsToTxnHandler(transactions), endTxnHandler(transactions)]) {
    registry.register(handler);
  }

  let endpoint: BrokerEndpoint | null = null;
  const context: BrokerContext = {
    nodeId: 0,
    clusterId: `pyramid-devstack-${randomBytes(6).toString('hex')}`,
    endpoint() {
      if (endpoint === null) throw new Error('broker endpoint requested before the listener was bound');
      return endpoint;
    },
    dataDir,
    fsync,
    topics: store,
    internalTopics: new InternalTopics(store, state.notifier, fsync),
    transactions,
    logger,
  };

  const connections = new Set<Connection>();
  let nextConnectionId = 1;
  const server = createServer((socket) => {
    const conn = new Connection({
      id: nextConnectionId++,
      socket,
      registry,
      broker: context,
      maxFrameSize,
      logger,
    });
    connections.add(conn);
    socket.on('close', () => connections.delete(conn));
  });
  server.on('error', (err) => logger.error({ err }, 'broker listener error'));

  try {
    await listen(server, host, options.port ?? 9092);
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('broker listener has no TCP address');
    const wildcard = host === '0.0.0.0' || host === '::';
    endpoint = { host: options.advertisedHost ?? (wildcard ? '127.0.0.1' : host), port: addr.port };
    // Plugins start after the endpoint is known (FindCoordinator answers it) but before any
    // request is read: connections accepted meanwhile only buffer bytes until the event loop
    // returns, and every handler is registered by then.
    for (const plugin of options.plugins ?? [groupCoordinatorPlugin()]) {
      const instance = await plugin.start(context);
      plugins.push(instance);
      for (const h of instance.handlers) registry.register(h);
    }
    // After the plugins: finishing a transaction a crash interrupted may commit group offsets.
    await transactions.start();
  } catch (err) {
    transactions.close();
    server.close();
    for (const p of plugins) await p.close?.();
    store.close();
    unlock();
    throw err;
  }
  const bound = endpoint;
  logger.info({ host: bound.host, port: bound.port, dataDir, apis: registry.list().map((h) => h.apiKey) }, 'broker listening');

  let closing: Promise<void> | null = null;
  return {
    host: bound.host,
    port: bound.port,
    address: `${bound.host}:${bound.port}`,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of connections) c.destroy();
        state.notifier.wakeAll();
        transactions.close();
        await stopped;
        for (const p of plugins) await p.close?.();
        store.close();
        unlock();
        logger.info('broker closed');
      })();
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
