import type { Signal } from '../engine/signals.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import { createAvroEncoder, createJsonEncoder, type RecordEncoder } from './tier-change-encoder.js';

/** Turns a signal into the record value signal subscribers read (same format as tier changes). */
export type SignalEncoder = RecordEncoder<Signal>;

/** JSON: the signal as it is, field for field schemas/signal.schema.json. */
export function createJsonSignalEncoder(): SignalEncoder {
  return createJsonEncoder();
}

/** Avro: schemas/signal-v1.avsc, registered and framed as tier changes are (createAvroEncoder). */
export function createAvroSignalEncoder(registry: SchemaRegistryClient, topic: string): Promise<SignalEncoder> {
  return createAvroEncoder(registry, topic, 'signal-v1', (signal: Signal) => `a ${signal.type} signal of policy ${signal.policyVersion}`);
}
