import type { BrokerPlugin } from '../context.js';
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

export type { GroupCoordinatorOptions } from './coordinator.js';

/**
 * The group coordinator as a broker plugin: pass it in `startBroker({ plugins: [...] })`. It
 * serves FindCoordinator (for groups and, the node being also the transaction coordinator, for
 * transactional ids), JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * TxnOffsetCommit, DescribeGroups and ListGroups, and keeps committed offsets under `<dataDir>/groups/` (in memory
 * when the broker has no data directory), written with the broker's fsync policy. Deleting a topic
 * drops every group's committed offsets of it, durably, before DeleteTopics answers. A transaction
 * that committed offsets of a group (TxnOffsetCommit) makes them committed when it commits.
 */
export function groupCoordinatorPlugin(options: Omit<GroupCoordinatorOptions, 'logger'> = {}): BrokerPlugin {
  return {
    name: 'group-coordinator',
    start(ctx) {
      const logger = ctx.logger.child({ component: 'group-coordinator' });
      const offsets = OffsetStore.open(ctx.dataDir, logger, ctx.fsync);
      const coordinator = new GroupCoordinator(offsets, { ...options, logger });
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
