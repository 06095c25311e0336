import avsc from 'avsc';
import type { Type } from 'avsc';
import { invalidSchema } from './errors.js';

/** A schema the registry accepted: its avsc type plus the two text forms the store keeps. */
export interface ParsedAvroSchema {
  type: Type;
  /** Compact JSON the registry stores and serves back; keeps every attribute (logicalType, doc, custom props). */
  text: string;
  /**
   * Identity of the schema: the same text with object keys sorted, so registering the same schema
   * with other whitespace or key order yields the same global id.
   */
  canonical: string;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/**
 * Parse and validate an Avro schema given as text, the way clients send it (`"schema": "<json>"`).
 * `referenceTexts` are the schemas named in `references`, dependencies first; their named types
 * become resolvable from the main schema.
 *
 * @throws RegistryError 42201 when the text is not JSON or not a valid Avro schema.
 */
export function parseAvroSchema(schemaText: string, referenceTexts: readonly string[] = []): ParsedAvroSchema {
  const json = parseJson(schemaText);
  const references = referenceTexts.map(parseJson);
  // One registry per parse: named types from references must not leak into other schemas.
  const registry: Record<string, Type> = {};
  try {
    // normalize and stableStringify recurse like avsc does, so they are inside the try too: a
    // schema nested deeper than the stack is bad input (422), not an internal error.
    const value = normalize(json);
    for (const reference of references) avsc.Type.forSchema(reference as avsc.Schema, { registry });
    const type = avsc.Type.forSchema(value as avsc.Schema, { registry });
    return { type, text: JSON.stringify(value), canonical: stableStringify(value) };
  } catch (err) {
    if (err instanceof RangeError) throw invalidSchema('nested too deeply');
    throw invalidSchema(err instanceof Error ? err.message : String(err));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidSchema(`not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** `{"type":"string"}` and `"string"` are the same Avro type (Avro spec, "Primitive Types"). */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]?.[0] === 'type' && typeof entries[0][1] === 'string' && PRIMITIVES.has(entries[0][1])) {
      return entries[0][1];
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    const obj = value as Record<string, unknown>;
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
