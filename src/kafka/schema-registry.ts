import { PyramidError } from '../errors.js';

/** Where the Confluent-compatible Schema Registry is and how to authenticate (config `registry`). */
export interface SchemaRegistryClientOptions {
  url: string;
  username?: string;
  password?: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

/** A writer schema as the registry stores it. */
export interface RegisteredSchema {
  /** The schema text (Avro JSON for AVRO). */
  schema: string;
  /** AVRO unless the registry says otherwise (JSON, PROTOBUF). */
  schemaType: string;
}

/** The part of the Schema Registry REST API pyramid uses. */
export interface SchemaRegistryClient {
  /** The schema with this global id, or null when the registry does not know the id. */
  getSchemaById(id: number): Promise<RegisteredSchema | null>;
  /** Registers an Avro schema under a subject (idempotent: an existing identical schema keeps its id) and returns its global id. */
  registerAvro(subject: string, schema: string): Promise<number>;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/**
 * A small client for the Confluent Schema Registry REST API over Node's fetch. It does no caching:
 * the decoder caches per writer id, and registering happens once per producer start.
 * Network failures and 5xx are retriable `SCHEMA_REGISTRY_UNAVAILABLE`; a refused schema is
 * `SCHEMA_REJECTED`.
 */
export function createSchemaRegistryClient(options: SchemaRegistryClientOptions): SchemaRegistryClient {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { accept: CONTENT_TYPE, 'content-type': CONTENT_TYPE };
  if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  }

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new PyramidError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${base} unreachable: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (response.status >= 500) {
      throw new PyramidError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${base} answered ${response.status} to ${method} ${path}`, {
        retriable: true,
      });
    }
    if (response.status === 401 || response.status === 403) {
      throw new PyramidError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${base} refused the credentials (${response.status}); check PYRAMID_REGISTRY_USERNAME / PYRAMID_REGISTRY_PASSWORD`);
    }
    return { status: response.status, json };
  }

  return {
    async getSchemaById(id) {
      const { status, json } = await call('GET', `/schemas/ids/${id}`);
      if (status === 404) return null;
      const body = json as { schema?: unknown; schemaType?: unknown } | null;
      if (status !== 200 || typeof body?.schema !== 'string') {
        throw new PyramidError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${base} gave an unexpected answer (${status}) for schema id ${id}`, {
          retriable: true,
        });
      }
      return { schema: body.schema, schemaType: typeof body.schemaType === 'string' ? body.schemaType : 'AVRO' };
    },

    async registerAvro(subject, schema) {
      // No `schemaType`: AVRO is the type a body without it means to every registry, and
      // registries before Confluent 5.5 (which added JSON and Protobuf) refuse the field with 422
      // "Unrecognized field: schemaType". @kafkajs/confluent-schema-registry 3.9.0 leaves it out
      // for AVRO too; a register call for another type would have to send it.
      const { status, json } = await call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema });
      const body = json as { id?: unknown; message?: unknown } | null;
      if (status === 200 && typeof body?.id === 'number') return body.id;
      const reason = typeof body?.message === 'string' ? body.message : `status ${status}`;
      throw new PyramidError('SCHEMA_REJECTED', `schema registry ${base} refused the schema for subject ${subject}: ${reason}`);
    },
  };
}
