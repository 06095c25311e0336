import type { Type } from 'avsc';

/** Confluent's compatibility levels; the registry-wide default is BACKWARD, as in Confluent. */
export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;

export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

/** Levels arrive in any case from clients (`"backward"`); Confluent compares them upper-cased. */
export function parseCompatibilityLevel(value: unknown): CompatibilityLevel | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return (COMPATIBILITY_LEVELS as readonly string[]).includes(upper) ? (upper as CompatibilityLevel) : undefined;
}

/**
 * Why `candidate` may not follow `previous` (oldest first) under `level`; empty when it may.
 * Uses real Avro schema resolution: a reader can read a writer's data exactly when avsc can build
 * a resolver from the writer type to the reader type.
 * - BACKWARD: the new schema reads data written with the old one.
 * - FORWARD: the old schema reads data written with the new one.
 * - FULL: both. Non-transitive levels look at the latest previous schema only.
 */
export function findIncompatibilities(candidate: Type, previous: readonly Type[], level: CompatibilityLevel): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const transitive = level.endsWith('_TRANSITIVE');
  const against = transitive ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const reasons: string[] = [];
  for (const old of against) {
    if (backward) {
      const reason = cannotRead(candidate, old);
      if (reason !== undefined) reasons.push(`new schema cannot read data written with an earlier one: ${reason}`);
    }
    if (forward) {
      const reason = cannotRead(old, candidate);
      if (reason !== undefined) reasons.push(`an earlier schema cannot read data written with the new one: ${reason}`);
    }
  }
  return reasons;
}

function cannotRead(reader: Type, writer: Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
