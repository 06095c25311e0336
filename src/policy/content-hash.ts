import { createHash } from 'node:crypto';
import type { CompiledPolicy } from './types.js';

/** JSON with object keys sorted, so the same content always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A short hash of what the policy decides (every compiled field), stored with the state next to
 * the version: a file changed in place under the same version is told apart from the one in
 * force. 16 hex digits of SHA-256.
 */
export function policyContentHash(policy: CompiledPolicy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex').slice(0, 16);
}
