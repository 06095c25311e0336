import type { ApiHandler } from './api-registry.js';
import type { BrokerContext, TransactionEnd } from './context.js';

/** What a plugin hands back once started: its handlers, and how to stop it. */
export interface BrokerPluginInstance {
  readonly handlers: readonly ApiHandler[];
  /**
   * Called by DeleteTopics for each topic it deleted, after the topic's log is gone and before the
   * response is sent, so the plugin can drop state keyed by the topic (the group coordinator drops
   * the topic's committed offsets, as Kafka does, so a re-created topic starts uncommitted). Make
   * the removal durable before returning. A throw (or rejection) is logged and answers that
   * topic with KAFKA_STORAGE_ERROR; the topic stays deleted.
   */
  onTopicDeleted?(topic: string): void | Promise<void>;
  /**
   * Called by the transaction coordinator when a transaction that added offsets of some groups
   * (AddOffsetsToTxn) commits or aborts, before EndTxn answers: the group coordinator makes the
   * transaction's pending offsets committed, or drops them. Make it durable before returning; a
   * throw leaves the transaction prepared, and the client's retry of EndTxn calls this again.
   */
  onTransactionEnd?(end: TransactionEnd): void | Promise<void>;
  /** Called on broker close, after the listener stops; flush and release resources here. */
  close?(): Promise<void>;
}

/**
 * A set of APIs served by a separate component, e.g. the group coordinator
 * (`src/broker/group/`). `startBroker` starts every plugin with the broker's context
 * (after recovery of the log, before the listener accepts connections) and registers its handlers.
 */
export interface BrokerPlugin {
  readonly name: string;
  start(ctx: BrokerContext): Promise<BrokerPluginInstance> | BrokerPluginInstance;
}
