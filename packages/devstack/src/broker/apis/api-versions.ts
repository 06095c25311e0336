import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

const MAX_VERSION = 3;

/**
 * ApiVersions v0–v3 (https://kafka.apache.org/protocol#api_versions). Advertises exactly the
 * registered handlers. v3 is the only flexible request this broker parses (librdkafka opens every
 * connection with it, WIRE-FACTS.md §0, headline fact 2); its response still uses header v0.
 */
export function apiVersionsHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.ApiVersions,
    minVersion: 0,
    maxVersion: MAX_VERSION,
    flexibleFrom: 3,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      if (version >= 3) {
        body.readCompactString(); // client_software_name
        body.readCompactString(); // client_software_version
        body.readTaggedFields();
      }
      const handlers = state.registry.list();
      const w = new Writer(512);
      w.writeInt16(KafkaErrorCode.NONE);
      if (version >= 3) {
        w.writeCompactArray(handlers, (w2, h) => {
          w2.writeInt16(h.apiKey).writeInt16(h.minVersion).writeInt16(h.maxVersion).writeEmptyTaggedFields();
        });
      } else {
        w.writeArray(handlers, (w2, h) => {
          w2.writeInt16(h.apiKey).writeInt16(h.minVersion).writeInt16(h.maxVersion);
        });
      }
      if (version >= 1) w.writeInt32(0); // throttle_time_ms
      if (version >= 3) w.writeEmptyTaggedFields();
      return w;
    },
  };
}

/**
 * The answer to an ApiVersions version this broker does not know: a v0-format body with error 35
 * and our own ApiVersions range, no throttle field — what Kafka 2.4 sends (WIRE-FACTS.md §1,
 * headline fact 4; KIP-511). Clients then retry with a lower version on the same connection.
 */
export function unsupportedApiVersionsBody(): Writer {
  const w = new Writer(16);
  w.writeInt16(KafkaErrorCode.UNSUPPORTED_VERSION);
  w.writeInt32(1);
  w.writeInt16(ApiKey.ApiVersions).writeInt16(0).writeInt16(MAX_VERSION);
  return w;
}
