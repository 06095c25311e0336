import avro from 'avsc';
import { PyramidError } from '../errors.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import { writeSchemaFrame } from '../kafka/wire-format.js';
import type { TierChange } from '../engine/change.js';
import { loadContract, valueSubject } from './decode-schemas.js';

/** A tier change as the outbox holds it (field for field schemas/tier-change-v2.avsc). */
export type TierChangeRecord = TierChange;

/** Encoding of tier-change events on the output topic (config `outputFormat`). */
export type OutputFormat = 'avro' | 'json';

/** Turns a tier change into the record value downstream consumers read. */
export interface TierChangeEncoder {
  readonly format: OutputFormat;
  encode(change: TierChangeRecord): Buffer;
}

/** JSON: the change as it is, field for field schemas/tier-change.schema.json. */
export function createJsonTierChangeEncoder(): TierChangeEncoder {
  return { format: 'json', encode: (change) => Buffer.from(JSON.stringify(change)) };
}

/**
 * Avro in the Confluent wire format: registers schemas/tier-change-v2.avsc under
 * `<topic>-value` (TopicNameStrategy; idempotent, an identical schema keeps its id; a subject
 * holding v1 accepts it, BACKWARD: every field v2 adds has a default) once at start, then frames
 * every value with that id.
 *
 * @throws PyramidError SCHEMA_REJECTED when the subject holds an incompatible schema,
 *   SCHEMA_REGISTRY_UNAVAILABLE (retriable) when the registry cannot be reached.
 */
export async function createAvroTierChangeEncoder(registry: SchemaRegistryClient, topic: string): Promise<TierChangeEncoder> {
  const text = loadContract('tier-change-v2');
  const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  const schemaId = await registry.registerAvro(valueSubject(topic), text);
  return {
    format: 'avro',
    encode(change) {
      try {
        return writeSchemaFrame(schemaId, type.toBuffer(change));
      } catch (err) {
        // A change the contract cannot hold is an engine bug; never publish something half-valid.
        throw new PyramidError('STATE_SCRIPT_FAILED', `a tier change of policy ${change.policyVersion} does not fit tier-change-v2`, { cause: err });
      }
    },
  };
}
