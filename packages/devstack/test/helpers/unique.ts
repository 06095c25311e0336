import { randomBytes } from 'node:crypto';

/** A name no other test (or earlier run) uses: for topics, groups and key prefixes. */
export function uniqueName(base: string): string {
  return `${base}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
