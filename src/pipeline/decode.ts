import avro from 'avsc';
import { PyramidError } from '../errors.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import { readSchemaFrame } from '../kafka/wire-format.js';
import { DecodeError, type DecodeResult } from './decode-error.js';
import { loadContract, TRANSACTION_READER_CONTRACT, type ContractName } from './decode-schemas.js';

/** How transaction values are encoded on the topic (config `inputFormat`). */
export type InputFormat = 'avro' | 'json';

export interface DecoderOptions {
  format: InputFormat;
  /** Required for `avro`: where writer schemas are looked up by id. */
  registry?: SchemaRegistryClient;
  /** The Avro reader schema every writer version resolves to; default the newest transaction contract. */
  contract?: ContractName;
}

/**
 * Turns record values into plain objects for the validator. `decode` is synchronous so a batch
 * costs no promise per record: the loop first awaits `prepare(values)` (which fetches the writer
 * schemas of ids not seen before, once each) and then decodes every record synchronously.
 */
export interface TransactionDecoder {
  readonly format: InputFormat;
  /**
   * Makes every writer schema id among `values` decodable. Resolves at once when all are cached.
   * @throws PyramidError SCHEMA_REGISTRY_UNAVAILABLE (retriable) when the registry cannot answer;
   *   the batch should be retried, not dead-lettered.
   */
  prepare(values: Iterable<Buffer | null>): Promise<void>;
  /**
   * Decodes one value, never throwing for bad data.
   * @throws PyramidError DECODE_FAILED only on misuse: an Avro id that `prepare` was never given.
   */
  decode(value: Buffer | null): DecodeResult<unknown>;
  /** Number of registry look-ups so far (for metrics and for tests of the cache). */
  readonly registryLookups: number;
}

/** A writer id's cached outcome: a ready decode function, or why its records are rejected. */
type WriterEntry = { decode: (payload: Buffer) => unknown } | { rejection: DecodeError };

const EMPTY = new DecodeError('EMPTY_VALUE', 'record has no value (tombstone)');

function createJsonDecoder(): TransactionDecoder {
  return {
    format: 'json',
    registryLookups: 0,
    prepare: () => Promise.resolve(),
    decode(value) {
      if (value === null || value.length === 0) return { ok: false, error: EMPTY };
      let parsed: unknown;
      try {
        parsed = JSON.parse(value.toString('utf8'));
      } catch {
        // JSON.parse quotes the input in its message; the input is customer data.
        return { ok: false, error: new DecodeError('INVALID_JSON', 'value is not valid UTF-8 JSON') };
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return { ok: false, error: new DecodeError('INVALID_JSON', 'value must be a JSON object') };
      }
      return { ok: true, value: parsed };
    },
  };
}

function createAvroDecoder(registry: SchemaRegistryClient, contract: ContractName): TransactionDecoder {
  const reader = avro.Type.forSchema(JSON.parse(loadContract(contract)) as avro.Schema);
  // Outcomes per writer id. Unknown ids are not cached as final: a registry read replica may lag
  // behind the producer's registration, so the next batch asks again.
  const writers = new Map<number, WriterEntry>();
  const unknownIds = new Set<number>();
  const inFlight = new Map<number, Promise<void>>();
  let lookups = 0;

  function entryFor(schemaText: string, schemaType: string, id: number): WriterEntry {
    if (schemaType !== 'AVRO') {
      return { rejection: new DecodeError('INCOMPATIBLE_SCHEMA', `writer schema ${id} is ${schemaType}, not AVRO`) };
    }
    let writer: avro.Type;
    try {
      writer = avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema);
    } catch {
      return { rejection: new DecodeError('INCOMPATIBLE_SCHEMA', `writer schema ${id} is not a valid Avro schema`) };
    }
    if (writer.equals(reader)) return { decode: (payload) => reader.fromBuffer(payload) };
    let resolver: avro.Resolver;
    try {
      resolver = reader.createResolver(writer);
    } catch {
      return { rejection: new DecodeError('INCOMPATIBLE_SCHEMA', `writer schema ${id} cannot be resolved to the ${contract} reader schema`) };
    }
    return { decode: (payload) => reader.fromBuffer(payload, resolver) };
  }

  function fetchWriter(id: number): Promise<void> {
    let pending = inFlight.get(id);
    if (pending === undefined) {
      lookups += 1;
      pending = registry
        .getSchemaById(id)
        .then((found) => {
          if (found === null) {
            unknownIds.add(id);
          } else {
            unknownIds.delete(id);
            writers.set(id, entryFor(found.schema, found.schemaType, id));
          }
        })
        .finally(() => inFlight.delete(id));
      inFlight.set(id, pending);
    }
    return pending;
  }

  return {
    format: 'avro',
    get registryLookups() {
      return lookups;
    },

    async prepare(values) {
      let missing: Set<number> | undefined;
      for (const value of values) {
        if (value === null) continue;
        const frame = readSchemaFrame(value);
        if (frame === null || writers.has(frame.schemaId)) continue;
        (missing ??= new Set()).add(frame.schemaId);
      }
      if (missing !== undefined) await Promise.all([...missing].map(fetchWriter));
    },

    decode(value) {
      if (value === null || value.length === 0) return { ok: false, error: EMPTY };
      const frame = readSchemaFrame(value);
      if (frame === null) {
        return { ok: false, error: new DecodeError('NO_MAGIC_BYTE', 'value does not start with the Schema Registry magic byte and schema id') };
      }
      const writer = writers.get(frame.schemaId);
      if (writer === undefined) {
        if (unknownIds.has(frame.schemaId)) {
          return { ok: false, error: new DecodeError('UNKNOWN_SCHEMA_ID', `schema id ${frame.schemaId} is not in the registry`) };
        }
        throw new PyramidError('DECODE_FAILED', `schema id ${frame.schemaId} was not prepared; call prepare(values) before decode`);
      }
      if ('rejection' in writer) return { ok: false, error: writer.rejection };
      try {
        return { ok: true, value: writer.decode(frame.payload) };
      } catch {
        // avsc messages can quote decoded values; keep customer data out of the DLQ headers.
        return { ok: false, error: new DecodeError('AVRO_DECODE_FAILED', `Avro body does not decode with writer schema ${frame.schemaId}`) };
      }
    },
  };
}

/** Builds the decoder for the configured input format (the balances topic passes its own contract). */
export function createDecoder(options: DecoderOptions): TransactionDecoder {
  if (options.format === 'json') return createJsonDecoder();
  if (options.registry === undefined) {
    throw new PyramidError('CONFIG_INVALID', 'Avro input needs a schema registry (PYRAMID_REGISTRY_URL)');
  }
  return createAvroDecoder(options.registry, options.contract ?? TRANSACTION_READER_CONTRACT);
}
