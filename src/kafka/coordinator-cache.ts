import type kafkajs from 'kafkajs';
import type { Producer, ProducerConfig } from 'kafkajs';

/** What kafkajs's cluster answers a coordinator look-up with: a broker, opaque here. */
type Coordinator = unknown;

/** The one cluster method the cache replaces (kafkajs 2.2.4, `src/cluster/index.js`). */
interface CoordinatorLookup {
  findGroupCoordinator(query: { groupId: string; coordinatorType?: number }): Promise<Coordinator>;
}

/** A kafkajs producer whose coordinator look-ups are answered from a cache, and how to drop it. */
export interface CoordinatorCachingProducer {
  producer: Producer;
  /** Forgets every cached coordinator: the next look-up asks the cluster again. */
  forgetCoordinators(): void;
}

/**
 * kafkajs keeps the factory of each client's cluster under this symbol's description on the
 * `Kafka` instance (2.2.4, `src/index.js`); `producer()` calls it once, synchronously.
 */
const CREATE_CLUSTER = 'private:Kafka:createCluster';

/**
 * Builds kafkajs producers that look each coordinator up once instead of before every request.
 *
 * kafkajs 2.2.4 sends FindCoordinator before AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit
 * and EndTxn, so a relay transaction is nine sequential round trips instead of five (README,
 * "Performance"). The cache sits on the producer's own cluster object (each kafkajs producer
 * builds one), keyed by coordinator type and group or transactional id; a failed look-up is not
 * kept. A coordinator that moved answers NOT_COORDINATOR: the transaction fails, the caller calls
 * {@link CoordinatorCachingProducer.forgetCoordinators} and the next one looks it up again.
 *
 * @throws Error when this kafkajs does not keep its cluster factory where 2.2.4 does (a kafkajs
 *   upgrade must revisit this module rather than silently lose the cache)
 */
export function coordinatorCachingProducers(kafka: kafkajs.Kafka): (config: ProducerConfig) => CoordinatorCachingProducer {
  const holder = kafka as unknown as Record<symbol, unknown>;
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const createCluster = symbol === undefined ? undefined : holder[symbol];
  if (symbol === undefined || typeof createCluster !== 'function') {
    throw new Error(`kafkajs keeps no '${CREATE_CLUSTER}' factory on its client: the coordinator cache needs kafkajs 2.2.4`);
  }
  let built: CoordinatorLookup | undefined;
  holder[symbol] = (...args: unknown[]) => {
    built = (createCluster as (...a: unknown[]) => CoordinatorLookup)(...args);
    return built;
  };
  return (config) => {
    built = undefined;
    const producer = kafka.producer(config);
    const cluster = built as CoordinatorLookup | undefined;
    if (cluster === undefined) throw new Error('kafkajs built a producer without its cluster factory: the coordinator cache needs kafkajs 2.2.4');
    return { producer, forgetCoordinators: cacheCoordinators(cluster) };
  };
}

/** Replaces `cluster.findGroupCoordinator` with a cached one; returns what empties the cache. */
function cacheCoordinators(cluster: CoordinatorLookup): () => void {
  const lookup = cluster.findGroupCoordinator.bind(cluster);
  const known = new Map<string, Promise<Coordinator>>();
  cluster.findGroupCoordinator = (query) => {
    const key = `${query.coordinatorType ?? 0}:${query.groupId}`;
    let found = known.get(key);
    if (found === undefined) {
      found = lookup(query);
      known.set(key, found);
      found.catch(() => {
        if (known.get(key) === found) known.delete(key);
      });
    }
    return found;
  };
  return () => known.clear();
}
