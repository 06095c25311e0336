import avro from 'avsc';
import { PyramidError } from '../errors.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import { writeSchemaFrame } from '../kafka/wire-format.js';
import type { TierChange } from '../engine/change.js';
import { loadContract, valueSubject, type ContractName } from './decode-schemas.js';

/** A tier change as the outbox holds it (field for field schemas/tier-change-v2.avsc). */
export type TierChangeRecord = TierChange;

/** Encoding of the output topics' records (config `outputFormat`). */
export type OutputFormat = 'avro' | 'json';

/** Turns a record of one output contract into the record value its subscribers read. */
export interface RecordEncoder<T> {
  readonly format: OutputFormat;
  encode(record: T): Buffer;
}

/** Turns a tier change into the record value downstream consumers read. */
export type TierChangeEncoder = RecordEncoder<TierChangeRecord>;

/** JSON: the record as it is, field for field its JSON schema in schemas/. */
export function createJsonEncoder<T>(): RecordEncoder<T> {
  return { format: 'json', encode: (record) => Buffer.from(JSON.stringify(record)) };
}

/**
 * Avro in the Confluent wire format: registers `contract` under `<topic>-value` (TopicNameStrategy;
 * idempotent, an identical schema keeps its id) once at start, then frames every value with that
 * id. `describe` names a record in the error when the contract cannot hold it.
 *
 * @throws PyramidError SCHEMA_REJECTED when the subject holds an incompatible schema,
 *   SCHEMA_REGISTRY_UNAVAILABLE (retriable) when the registry cannot be reached.
 */
export async function createAvroEncoder<T>(registry: SchemaRegistryClient, topic: string, contract: ContractName, describe: (record: T) => string): Promise<RecordEncoder<T>> {
  const text = loadContract(contract);
  const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  const schemaId = await registry.registerAvro(valueSubject(topic), text);
  return {
    format: 'avro',
    encode(record) {
      try {
        return writeSchemaFrame(schemaId, type.toBuffer(record));
      } catch (err) {
        // A record the contract cannot hold is an engine bug; never publish something half-valid.
        throw new PyramidError('STATE_SCRIPT_FAILED', `${describe(record)} does not fit ${contract}`, { cause: err });
      }
    },
  };
}

/** JSON: the change as it is, field for field schemas/tier-change.schema.json. */
export function createJsonTierChangeEncoder(): TierChangeEncoder {
  return createJsonEncoder();
}

/**
 * Avro: schemas/tier-change-v2.avsc (a subject holding v1 accepts it, BACKWARD: every field v2
 * adds has a default), see {@link createAvroEncoder}.
 */
export function createAvroTierChangeEncoder(registry: SchemaRegistryClient, topic: string): Promise<TierChangeEncoder> {
  return createAvroEncoder(registry, topic, 'tier-change-v2', (change: TierChangeRecord) => `a tier change of policy ${change.policyVersion}`);
}
