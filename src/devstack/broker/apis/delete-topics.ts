import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { ApiKey } from '../protocol/api-keys.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/**
 * DeleteTopics v0–v3 (https://kafka.apache.org/protocol#The_Messages_DeleteTopics); v4 is
 * flexible. Deletion is immediate; pending fetches on the topic are woken so they answer
 * UNKNOWN_TOPIC_OR_PARTITION instead of sitting out their wait.
 */
export function deleteTopicsHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.DeleteTopics,
    minVersion: 0,
    maxVersion: 3,
    handle(ctx, body: Reader) {
      const names = body.readArray((r) => r.readString());
      body.readInt32(); // timeout_ms
      const answers = names.map((name) => ({ name, errorCode: state.store.deleteTopic(name) }));
      if (answers.length > 0) state.notifier.wakeAll();
      const w = new Writer(64);
      if (ctx.header.apiVersion >= 1) w.writeInt32(0); // throttle_time_ms
      w.writeArray(answers, (tw, a) => tw.writeString(a.name).writeInt16(a.errorCode));
      return w;
    },
  };
}
