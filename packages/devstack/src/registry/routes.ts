import { z } from 'zod';
import { COMPATIBILITY_LEVELS, parseCompatibilityLevel, type CompatibilityLevel } from './compatibility.js';
import {
  invalidCompatibilityLevel,
  invalidSchema,
  invalidVersion,
  RegistryError,
  schemaNotFound,
  unprocessable,
} from './errors.js';
import type { RegistryStore, SchemaRequest, StoredSchema, VersionSpec } from './store.js';

/** What a route gets: path parameters by name, the query string, the parsed JSON body. */
export interface RouteContext {
  store: RegistryStore;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  body: unknown;
}

/** A JSON answer, or `raw` JSON text sent as it is (a stored schema). */
export type RouteResult = { body: unknown } | { raw: string };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: HttpMethod;
  /** Segments; `:name` captures one (URL-decoded) segment. */
  path: string;
  /** Whether the handler reads a JSON body. */
  hasBody: boolean;
  handle(ctx: RouteContext): RouteResult;
}

const referenceShape = z.object({ name: z.string(), subject: z.string(), version: z.number().int() });
const schemaBodyShape = z.object({
  schema: z.string().min(1),
  schemaType: z.string().nullish(),
  references: z.array(referenceShape).nullish(),
});
const configBodyShape = z.object({ compatibility: z.string() });

const MAX_VERSION = 2 ** 31 - 1;

/**
 * The Confluent Schema Registry REST surface this registry serves (AVRO only). Deletes are soft:
 * a deleted version disappears from subject listings, lookups and compatibility checks, while its
 * schema id keeps resolving through `/schemas/ids/{id}` so old records still decode, and
 * `?deleted=true` still lists it. `?permanent=true` is accepted and also soft-deletes: a dev
 * registry never needs to forget an id, and keeping it means recorded test data always decodes.
 */
const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/', hasBody: false, handle: () => ({ body: {} }) },
  { method: 'GET', path: '/schemas/types', hasBody: false, handle: () => ({ body: ['AVRO'] }) },
  {
    method: 'GET',
    path: '/schemas/ids/:id',
    hasBody: false,
    handle: ({ store, params }) => ({ body: schemaBody(store.schemaById(parseId(params.id))) }),
  },
  {
    method: 'GET',
    path: '/schemas/ids/:id/schema',
    hasBody: false,
    handle: ({ store, params }) => ({ raw: store.schemaById(parseId(params.id)).schema }),
  },
  {
    method: 'GET',
    path: '/schemas/ids/:id/versions',
    hasBody: false,
    handle: ({ store, params }) => ({ body: store.versionsOfSchema(parseId(params.id)) }),
  },
  {
    method: 'GET',
    path: '/subjects',
    hasBody: false,
    handle: ({ store, query }) => ({ body: store.listSubjects(query.get('deleted') === 'true') }),
  },
  {
    method: 'POST',
    path: '/subjects/:subject',
    hasBody: true,
    handle: ({ store, params, body }) => {
      const found = store.lookup(subjectOf(params), schemaRequest(body));
      return { body: { subject: found.subject, version: found.version, id: found.id, ...schemaBody(found) } };
    },
  },
  {
    method: 'DELETE',
    path: '/subjects/:subject',
    hasBody: false,
    handle: ({ store, params }) => ({ body: store.deleteSubject(subjectOf(params)) }),
  },
  {
    method: 'GET',
    path: '/subjects/:subject/versions',
    hasBody: false,
    handle: ({ store, params, query }) => ({ body: store.listVersions(subjectOf(params), query.get('deleted') === 'true') }),
  },
  {
    method: 'POST',
    path: '/subjects/:subject/versions',
    hasBody: true,
    handle: ({ store, params, body }) => ({ body: { id: store.register(subjectOf(params), schemaRequest(body)) } }),
  },
  {
    method: 'GET',
    path: '/subjects/:subject/versions/:version',
    hasBody: false,
    handle: ({ store, params }) => {
      const version = parseVersion(params.version);
      const found = store.getVersion(subjectOf(params), version);
      return { body: { subject: found.subject, version: found.version, id: found.id, ...schemaBody(found) } };
    },
  },
  {
    method: 'GET',
    path: '/subjects/:subject/versions/:version/schema',
    hasBody: false,
    handle: ({ store, params }) => {
      const version = parseVersion(params.version);
      return { raw: store.getVersion(subjectOf(params), version).schema };
    },
  },
  {
    method: 'DELETE',
    path: '/subjects/:subject/versions/:version',
    hasBody: false,
    handle: ({ store, params }) => {
      const version = parseVersion(params.version);
      return { body: store.deleteVersion(subjectOf(params), version) };
    },
  },
  {
    method: 'GET',
    path: '/config',
    hasBody: false,
    handle: ({ store }) => ({ body: { compatibilityLevel: store.globalLevel } }),
  },
  {
    method: 'PUT',
    path: '/config',
    hasBody: true,
    handle: ({ store, body }) => {
      const level = compatibilityOf(body);
      store.setGlobalLevel(level);
      return { body: { compatibility: level } };
    },
  },
  {
    // GET answers `compatibilityLevel`, PUT takes and answers `compatibility`: Confluent's asymmetry, kept.
    method: 'GET',
    path: '/config/:subject',
    hasBody: false,
    handle: ({ store, params }) => ({ body: { compatibilityLevel: store.subjectLevel(subjectOf(params)) } }),
  },
  {
    method: 'PUT',
    path: '/config/:subject',
    hasBody: true,
    handle: ({ store, params, body }) => {
      const level = compatibilityOf(body);
      store.setSubjectLevel(subjectOf(params), level);
      return { body: { compatibility: level } };
    },
  },
  {
    method: 'DELETE',
    path: '/config/:subject',
    hasBody: false,
    handle: ({ store, params }) => ({ body: { compatibilityLevel: store.deleteSubjectLevel(subjectOf(params)) } }),
  },
  {
    method: 'POST',
    path: '/compatibility/subjects/:subject/versions/:version',
    hasBody: true,
    handle: ({ store, params, query, body }) => {
      const version = parseVersion(params.version);
      return compatibilityResult(store.testCompatibility(subjectOf(params), version, schemaRequest(body)), query);
    },
  },
  {
    method: 'POST',
    path: '/compatibility/subjects/:subject/versions',
    hasBody: true,
    handle: ({ store, params, query, body }) =>
      compatibilityResult(store.testCompatibility(subjectOf(params), 'all', schemaRequest(body)), query),
  },
];

/** The route for `method` and the decoded path `segments`, or which methods that path takes. */
export function matchRoute(
  method: string,
  segments: readonly string[],
): { route: Route; params: Record<string, string> } | { allowed: HttpMethod[] } | undefined {
  const allowed: HttpMethod[] = [];
  for (const route of ROUTES) {
    const params = matchPath(route.path, segments);
    if (params === undefined) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

function matchPath(path: string, segments: readonly string[]): Record<string, string> | undefined {
  const pattern = path.split('/').filter((s) => s !== '');
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of pattern.entries()) {
    const segment = segments[i] as string;
    if (part.startsWith(':')) {
      if (segment === '') return undefined;
      params[part.slice(1)] = segment;
    } else if (part !== segment) return undefined;
  }
  return params;
}

function subjectOf(params: Readonly<Record<string, string>>): string {
  return params.subject ?? '';
}

function schemaBody(schema: StoredSchema): { schema: string; references?: StoredSchema['references'] } {
  // AVRO is the default type, so like Confluent the answer carries no `schemaType`.
  return schema.references.length > 0 ? { schema: schema.schema, references: schema.references } : { schema: schema.schema };
}

function compatibilityResult(reasons: string[], query: URLSearchParams): RouteResult {
  const body: { is_compatible: boolean; messages?: string[] } = { is_compatible: reasons.length === 0 };
  if (query.get('verbose') === 'true') body.messages = reasons;
  return { body };
}

/** `latest`, `-1` (Confluent's alias for latest) or 1..2^31-1. */
function parseVersion(text: string | undefined): VersionSpec {
  const value = text ?? '';
  if (value === 'latest' || value === '-1') return 'latest';
  if (/^\d{1,10}$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= MAX_VERSION) return n;
  }
  throw invalidVersion(value);
}

function parseId(text: string | undefined): number {
  const value = text ?? '';
  if (!/^\d{1,10}$/.test(value)) throw schemaNotFound();
  return Number(value);
}

function schemaRequest(body: unknown): SchemaRequest {
  const parsed = schemaBodyShape.safeParse(body);
  if (!parsed.success) {
    const schemaProblem = parsed.error.issues.some((issue) => issue.path[0] === 'schema');
    if (schemaProblem) throw invalidSchema('the body needs "schema": the schema JSON as a non-empty string');
    throw unprocessable(`Invalid request body: ${z.prettifyError(parsed.error)}`);
  }
  const { schema, schemaType, references } = parsed.data;
  if (schemaType != null && schemaType.toUpperCase() !== 'AVRO') {
    throw new RegistryError(422, 42201, `Unsupported schemaType '${schemaType}': this development registry handles AVRO only`);
  }
  return { schema, references: references ?? [] };
}

function compatibilityOf(body: unknown): CompatibilityLevel {
  const parsed = configBodyShape.safeParse(body);
  if (!parsed.success) {
    throw unprocessable(`Invalid request body: expected {"compatibility": one of ${COMPATIBILITY_LEVELS.join(', ')}}`);
  }
  const level = parseCompatibilityLevel(parsed.data.compatibility);
  if (level === undefined) throw invalidCompatibilityLevel(parsed.data.compatibility);
  return level;
}
