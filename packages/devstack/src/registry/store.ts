import type { Type } from 'avsc';
import { parseAvroSchema } from './avro-schema.js';
import {
  DEFAULT_COMPATIBILITY,
  findIncompatibilities,
  type CompatibilityLevel,
} from './compatibility.js';
import {
  incompatibleSchema,
  invalidSchema,
  schemaNotFound,
  storeError,
  subjectNotFound,
  versionNotFound,
} from './errors.js';
import type { RegistryEvent, RegistryLog, SchemaReference } from './registry-log.js';

/** A schema as clients send it (`POST /subjects/{subject}/versions` and friends). */
export interface SchemaRequest {
  schema: string;
  references: SchemaReference[];
}

/** A schema by global id. */
export interface StoredSchema {
  id: number;
  schema: string;
  references: SchemaReference[];
}

/** One version of a subject, with its schema. */
export interface SubjectVersion extends StoredSchema {
  subject: string;
  version: number;
}

/** `latest` or a version number; parsing and range checks live with the HTTP routes. */
export type VersionSpec = number | 'latest';

interface StoredSchemaRecord extends StoredSchema {
  /** Identity: canonical text plus references; equal identities share one global id. */
  identity: string;
}

interface VersionRecord {
  version: number;
  id: number;
  /** Soft delete: hidden from lookups and compatibility checks; the id keeps decoding. */
  deleted: boolean;
}

/**
 * The registry's state and rules, free of HTTP. Every change is first appended to the log and then
 * applied, so memory never holds what the data directory does not. All methods are synchronous,
 * which keeps check-then-write sequences (compatibility, then new version) atomic on the event loop.
 */
export class RegistryStore {
  private readonly schemas = new Map<number, StoredSchemaRecord>();
  private readonly idByIdentity = new Map<string, number>();
  private readonly subjects = new Map<string, VersionRecord[]>();
  private readonly subjectCompatibility = new Map<string, CompatibilityLevel>();
  private globalCompatibility: CompatibilityLevel = DEFAULT_COMPATIBILITY;
  private nextId = 1;
  /** Parsed types by id, built lazily: only compatibility checks need them. */
  private readonly types = new Map<number, Type>();

  constructor(private readonly log: RegistryLog) {
    for (const event of log.replay) this.apply(event);
  }

  /** Register `request` under `subject`; the same schema again returns its id without a new version. */
  register(subject: string, request: SchemaRequest): number {
    const { type, text, identity } = this.parse(request);
    const active = this.activeVersions(subject);
    const existing = active.find((v) => this.schemas.get(v.id)?.identity === identity);
    if (existing !== undefined) return existing.id;

    const reasons = findIncompatibilities(
      type,
      active.map((v) => this.typeOf(v.id)),
      this.effectiveCompatibility(subject),
    );
    if (reasons.length > 0) throw incompatibleSchema(reasons);

    let id = this.idByIdentity.get(identity);
    if (id === undefined) {
      id = this.nextId;
      this.commit({ type: 'schema', id, schema: text, identity, references: request.references });
      this.types.set(id, type);
    }
    const versions = this.subjects.get(subject) ?? [];
    // Versions keep counting past soft-deleted ones, as in Confluent: a number is never reused.
    const version = (versions.at(-1)?.version ?? 0) + 1;
    this.commit({ type: 'version', subject, version, id });
    return id;
  }

  /** The subject's active version holding `request`'s schema (`POST /subjects/{subject}`). */
  lookup(subject: string, request: SchemaRequest): SubjectVersion {
    const active = this.activeVersions(subject);
    if (active.length === 0) throw subjectNotFound();
    const { identity } = this.parse(request);
    const match = active.find((v) => this.schemas.get(v.id)?.identity === identity);
    if (match === undefined) throw schemaNotFound();
    return this.toSubjectVersion(subject, match);
  }

  schemaById(id: number): StoredSchema {
    const record = this.schemas.get(id);
    if (record === undefined) throw schemaNotFound();
    return { id: record.id, schema: record.schema, references: record.references };
  }

  /** Active subject/version pairs that use schema `id`. */
  versionsOfSchema(id: number): { subject: string; version: number }[] {
    if (!this.schemas.has(id)) throw schemaNotFound();
    const found: { subject: string; version: number }[] = [];
    for (const [subject, versions] of this.subjects) {
      for (const v of versions) if (!v.deleted && v.id === id) found.push({ subject, version: v.version });
    }
    return found;
  }

  listSubjects(includeDeleted: boolean): string[] {
    return [...this.subjects]
      .filter(([, versions]) => includeDeleted || versions.some((v) => !v.deleted))
      .map(([subject]) => subject)
      .sort();
  }

  listVersions(subject: string, includeDeleted: boolean): number[] {
    const versions = (this.subjects.get(subject) ?? []).filter((v) => includeDeleted || !v.deleted);
    if (versions.length === 0) throw subjectNotFound();
    return versions.map((v) => v.version);
  }

  getVersion(subject: string, spec: VersionSpec): SubjectVersion {
    return this.toSubjectVersion(subject, this.findVersion(subject, spec, false));
  }

  /** Soft-delete every active version of `subject`; returns their numbers. */
  deleteSubject(subject: string): number[] {
    const active = this.activeVersions(subject);
    if (active.length === 0) throw subjectNotFound();
    for (const v of active) this.commit({ type: 'version-deleted', subject, version: v.version });
    return active.map((v) => v.version);
  }

  /** Soft-delete one version; returns its number. */
  deleteVersion(subject: string, spec: VersionSpec): number {
    const record = this.findVersion(subject, spec, false);
    this.commit({ type: 'version-deleted', subject, version: record.version });
    return record.version;
  }

  /**
   * Reasons `request` is incompatible with `subject` under the subject's level; empty when it is
   * compatible. `spec` names one version to test against; `'all'` applies the level as registration would.
   */
  testCompatibility(subject: string, spec: VersionSpec | 'all', request: SchemaRequest): string[] {
    const { type } = this.parse(request);
    const level = this.effectiveCompatibility(subject);
    if (spec === 'all') {
      return findIncompatibilities(type, this.activeVersions(subject).map((v) => this.typeOf(v.id)), level);
    }
    const target = this.findVersion(subject, spec, false);
    // Against one named version "transitive" has nothing more to add.
    return findIncompatibilities(type, [this.typeOf(target.id)], level);
  }

  get globalLevel(): CompatibilityLevel {
    return this.globalCompatibility;
  }

  setGlobalLevel(level: CompatibilityLevel): void {
    this.commit({ type: 'config', subject: null, compatibility: level });
  }

  /** The subject's own level; 40401 when it has none (the kafkajs client relies on that 404). */
  subjectLevel(subject: string): CompatibilityLevel {
    const level = this.subjectCompatibility.get(subject);
    if (level === undefined) throw subjectNotFound();
    return level;
  }

  setSubjectLevel(subject: string, level: CompatibilityLevel): void {
    this.commit({ type: 'config', subject, compatibility: level });
  }

  /** Remove the subject's own level (it falls back to the global one); returns the removed level. */
  deleteSubjectLevel(subject: string): CompatibilityLevel {
    const level = this.subjectLevel(subject);
    this.commit({ type: 'config', subject, compatibility: null });
    return level;
  }

  close(): void {
    this.log.close();
  }

  private effectiveCompatibility(subject: string): CompatibilityLevel {
    return this.subjectCompatibility.get(subject) ?? this.globalCompatibility;
  }

  private activeVersions(subject: string): VersionRecord[] {
    return (this.subjects.get(subject) ?? []).filter((v) => !v.deleted);
  }

  private findVersion(subject: string, spec: VersionSpec, includeDeleted: boolean): VersionRecord {
    const versions = (this.subjects.get(subject) ?? []).filter((v) => includeDeleted || !v.deleted);
    if (versions.length === 0) throw subjectNotFound();
    const found = spec === 'latest' ? versions.at(-1) : versions.find((v) => v.version === spec);
    if (found === undefined) throw versionNotFound();
    return found;
  }

  private toSubjectVersion(subject: string, record: VersionRecord): SubjectVersion {
    return { subject, version: record.version, ...this.schemaById(record.id) };
  }

  private parse(request: SchemaRequest): { type: Type; text: string; identity: string } {
    const parsed = parseAvroSchema(request.schema, this.referenceTexts(request.references, new Set()));
    const identity =
      request.references.length === 0 ? parsed.canonical : `${parsed.canonical}|${JSON.stringify(request.references)}`;
    return { type: parsed.type, text: parsed.text, identity };
  }

  /** Texts of the referenced schemas, dependencies first, each once. */
  private referenceTexts(references: readonly SchemaReference[], seen: Set<number>): string[] {
    const texts: string[] = [];
    for (const ref of references) {
      let target: VersionRecord;
      try {
        // Deleted versions still resolve: a stored schema that references one must keep parsing.
        target = this.findVersion(ref.subject, ref.version, true);
      } catch {
        throw invalidSchema(`reference '${ref.name}' names ${ref.subject} version ${ref.version}, which does not exist`);
      }
      if (seen.has(target.id)) continue;
      seen.add(target.id);
      const schema = this.schemaById(target.id);
      texts.push(...this.referenceTexts(schema.references, seen), schema.schema);
    }
    return texts;
  }

  private typeOf(id: number): Type {
    let type = this.types.get(id);
    if (type === undefined) {
      const record = this.schemaById(id);
      type = parseAvroSchema(record.schema, this.referenceTexts(record.references, new Set())).type;
      this.types.set(id, type);
    }
    return type;
  }

  /** Persist, then apply: a failed write leaves the in-memory state untouched. */
  private commit(event: RegistryEvent): void {
    try {
      this.log.append(event);
    } catch (err) {
      throw storeError(err);
    }
    this.apply(event);
  }

  private apply(event: RegistryEvent): void {
    switch (event.type) {
      case 'schema':
        this.schemas.set(event.id, {
          id: event.id,
          schema: event.schema,
          references: event.references,
          identity: event.identity,
        });
        this.idByIdentity.set(event.identity, event.id);
        this.nextId = Math.max(this.nextId, event.id + 1);
        break;
      case 'version': {
        const versions = this.subjects.get(event.subject) ?? [];
        versions.push({ version: event.version, id: event.id, deleted: false });
        this.subjects.set(event.subject, versions);
        break;
      }
      case 'version-deleted': {
        const record = this.subjects.get(event.subject)?.find((v) => v.version === event.version);
        if (record !== undefined) record.deleted = true;
        break;
      }
      case 'config':
        if (event.subject === null) this.globalCompatibility = event.compatibility ?? DEFAULT_COMPATIBILITY;
        else if (event.compatibility === null) this.subjectCompatibility.delete(event.subject);
        else this.subjectCompatibility.set(event.subject, event.compatibility);
        break;
    }
  }
}
