import avro from 'avsc';
import type { Signal } from '../engine/signals.js';
import { PyramidError } from '../errors.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import { writeSchemaFrame } from '../kafka/wire-format.js';
import { loadContract, valueSubject } from './decode-schemas.js';
import type { OutputFormat } from './tier-change-encoder.js';

/** Turns a signal into the record value signal subscribers read (same format as tier changes). */
export interface SignalEncoder {
  readonly format: OutputFormat;
  encode(signal: Signal): Buffer;
}

/** JSON: the signal as it is, field for field schemas/signal.schema.json. */
export function createJsonSignalEncoder(): SignalEncoder {
  return { format: 'json', encode: (signal) => Buffer.from(JSON.stringify(signal)) };
}

/**
 * Avro in the Confluent wire format: registers schemas/signal-v1.avsc under `<topic>-value` once
 * at start, then frames every value with that id (as the tier-change encoder does).
 *
 * @throws PyramidError SCHEMA_REJECTED when the subject holds an incompatible schema,
 *   SCHEMA_REGISTRY_UNAVAILABLE (retriable) when the registry cannot be reached.
 */
export async function createAvroSignalEncoder(registry: SchemaRegistryClient, topic: string): Promise<SignalEncoder> {
  const text = loadContract('signal-v1');
  const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  const schemaId = await registry.registerAvro(valueSubject(topic), text);
  return {
    format: 'avro',
    encode(signal) {
      try {
        return writeSchemaFrame(schemaId, type.toBuffer(signal));
      } catch (err) {
        // A signal the contract cannot hold is an engine bug; never publish something half-valid.
        throw new PyramidError('STATE_SCRIPT_FAILED', `a ${signal.type} signal of policy ${signal.policyVersion} does not fit signal-v1`, { cause: err });
      }
    },
  };
}
