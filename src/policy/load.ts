import { readFile } from 'node:fs/promises';
import { PyramidError } from '../errors.js';
import { parsePolicy } from './parse.js';
import type { CompiledPolicy } from './types.js';

/**
 * Reads and validates a policy file (YAML or JSON). The only I/O in src/policy.
 *
 * @throws PyramidError `POLICY_INVALID` naming the file (unreadable file, or see `parsePolicy`).
 */
export async function loadPolicyFile(path: string): Promise<CompiledPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PyramidError('POLICY_INVALID', `policy ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parsePolicy(text, path);
}
