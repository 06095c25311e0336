import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import type { Logger } from '../../logger.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/**
 * DeleteTopics v0–v3 (https://kafka.apache.org/protocol#The_Messages_DeleteTopics); v4 is
 * flexible. Deletion is immediate; pending fetches on the topic are woken so they answer
 * UNKNOWN_TOPIC_OR_PARTITION instead of sitting out their wait. Every plugin's `onTopicDeleted`
 * runs for each deleted topic before the answer, so a client that re-creates the topic right
 * after the response finds no state of the old one (committed group offsets in particular).
 */
export function deleteTopicsHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.DeleteTopics,
    minVersion: 0,
    maxVersion: 3,
    async handle(ctx, body: Reader) {
      const names = body.readArray((r) => r.readString());
      body.readInt32(); // timeout_ms
      const answers: { name: string; errorCode: KafkaErrorCode }[] = [];
      for (const name of names) {
        let errorCode = state.store.deleteTopic(name);
        if (errorCode === KafkaErrorCode.NONE) {
          // Wake held fetches now, not after the hooks: they only need the log to be gone.
          state.notifier.wakeAll();
          if (!(await notifyPlugins(state, name, ctx.broker.logger))) errorCode = KafkaErrorCode.KAFKA_STORAGE_ERROR;
        }
        answers.push({ name, errorCode });
      }
      const w = new Writer(64);
      if (ctx.header.apiVersion >= 1) w.writeInt32(0); // throttle_time_ms
      w.writeArray(answers, (tw, a) => tw.writeString(a.name).writeInt16(a.errorCode));
      return w;
    },
  };
}

/**
 * Runs every plugin's hook for a deleted topic; false if any failed. All hooks run even after a
 * failure: each one's state is independent, and skipping one would leave more stale state behind.
 */
async function notifyPlugins(state: BrokerState, topic: string, logger: Logger): Promise<boolean> {
  let ok = true;
  for (const plugin of state.plugins) {
    if (plugin.onTopicDeleted === undefined) continue;
    try {
      await plugin.onTopicDeleted(topic);
    } catch (err) {
      // The log is already gone, so the topic stays deleted; the client learns that part of the
      // cleanup failed (a storage error) rather than getting a success that hides stale state.
      logger.error({ err, topic }, 'a plugin failed to drop the state of a deleted topic');
      ok = false;
    }
  }
  return ok;
}
