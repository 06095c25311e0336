import type { BrokerPlugin } from '../broker-plugin.js';
import { describeGroupsHandler } from './apis/describe-groups.js';
import { findCoordinatorHandler } from './apis/find-coordinator.js';
import { heartbeatHandler } from './apis/heartbeat.js';
import { joinGroupHandler } from './apis/join-group.js';
import { leaveGroupHandler } from './apis/leave-group.js';
import { listGroupsHandler } from './apis/list-groups.js';
import { offsetCommitHandler } from './apis/offset-commit.js';
import { offsetFetchHandler } from './apis/offset-fetch.js';
import { syncGroupHandler } from './apis/sync-group.js';
import { txnOffsetCommitHandler } from './apis/txn-offset-commit.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from './coordinator.js';
import { OffsetStore } from './offset-store.js';
import { OffsetsTopicWriter } from './offsets-topic.js';

export type { GroupCoordinatorOptions } from './coordinator.js';

/** Options of the group coordinator plugin. */
export interface GroupCoordinatorPluginOptions extends Omit<GroupCoordinatorOptions, 'logger'> {
  /**
   * Kafka's `offsets.topic.num.partitions` for a `__consumer_offsets` this broker creates (an
   * existing one keeps its count). Default 1: a single node gains nothing from more, and each
   * partition is a directory and a Fetch target for readers such as Burrow. Kafka defaults to 50.
   */
  readonly offsetsTopicPartitions?: number;
}

/**
 * The group coordinator as a broker plugin: pass it in `startBroker({ plugins: [...] })`. It
 * serves FindCoordinator (for groups and, the node being also the transaction coordinator, for
 * transactional ids), JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * TxnOffsetCommit, DescribeGroups and ListGroups, and keeps committed offsets under `<dataDir>/groups/` (in memory
 * when the broker has no data directory), written with the broker's fsync policy. Deleting a topic
 * drops every group's committed offsets of it, durably, before DeleteTopics answers. Every change
 * is also appended to the internal topic `__consumer_offsets` in Kafka's record format (created on
 * start), where offset monitors such as Burrow read commits. A transaction that committed offsets
 * of a group (TxnOffsetCommit) makes them committed when it commits.
 */
export function groupCoordinatorPlugin(options: GroupCoordinatorPluginOptions = {}): BrokerPlugin {
  const { offsetsTopicPartitions = 1, ...coordinatorOptions } = options;
  return {
    name: 'group-coordinator',
    start(ctx) {
      const logger = ctx.logger.child({ component: 'group-coordinator' });
      const offsets = OffsetStore.open(ctx.dataDir, logger, ctx.fsync);
      try {
        offsets.mirrorTo(OffsetsTopicWriter.open(ctx.internalTopics, offsetsTopicPartitions));
      } catch (err) {
        offsets.close();
        throw err;
      }
      const coordinator = new GroupCoordinator(offsets, { ...coordinatorOptions, logger });
      return {
        handlers: [
          findCoordinatorHandler(),
          joinGroupHandler(coordinator),
          syncGroupHandler(coordinator),
          heartbeatHandler(coordinator),
          leaveGroupHandler(coordinator),
          offsetCommitHandler(coordinator),
          offsetFetchHandler(coordinator),
          txnOffsetCommitHandler(coordinator),
          describeGroupsHandler(coordinator),
          listGroupsHandler(coordinator),
        ],
        // Only the offsets are keyed by topic; live members learn of the deletion from Metadata
        // and rejoin, as with Kafka.
        onTopicDeleted: (topic) => offsets.deleteTopic(topic),
        onTransactionEnd: (end) => coordinator.endTransaction(end.producerId, end.groupIds, end.outcome === 'commit'),
        close: async () => coordinator.close(),
      };
    },
  };
}
