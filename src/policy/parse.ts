import { parse as parseYaml, YAMLParseError } from 'yaml';
import { PyramidError } from '../errors.js';
import { compilePolicy, type PolicyIssue } from './compile.js';
import { policyFileSchema } from './schema.js';
import type { CompiledPolicy } from './types.js';

/** `['tiers', 2, 'when', 'monetary', 'gt']` -> `tiers[2].when.monetary.gt`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text === '' ? '(root)' : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function invalid(source: string, issues: readonly PolicyIssue[]): PyramidError {
  const lines = issues.map((issue) => `  ${formatFieldPath(issue.path)}: ${issue.message}`);
  return new PyramidError('POLICY_INVALID', `policy ${source} is invalid:\n${lines.join('\n')}`, {
    details: { source, fields: issues.map((issue) => formatFieldPath(issue.path)) },
  });
}

/**
 * Parses and validates a policy. `input` is the file's text (YAML; JSON is valid YAML) or an
 * already-parsed value; `source` names it in messages (usually the file path).
 *
 * @throws PyramidError `POLICY_INVALID` whose message names `source` and, per problem, the field
 *   path (`tiers[2].when.monetary.gt: ...`); `details.fields` lists the paths.
 */
export function parsePolicy(input: unknown, source: string): CompiledPolicy {
  let data = input;
  if (typeof input === 'string') {
    try {
      data = parseYaml(input);
    } catch (err) {
      const where = err instanceof YAMLParseError && err.linePos !== undefined ? ` at line ${err.linePos[0].line}` : '';
      throw new PyramidError('POLICY_INVALID', `policy ${source} is not valid YAML/JSON${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  const parsed = policyFileSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((issue): PolicyIssue[] => {
      const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown field' }));
      }
      if (issue.code === 'invalid_type' && valueAt(data, path) === undefined) {
        return [{ path, message: 'is required' }];
      }
      return [{ path, message: issue.message }];
    });
    throw invalid(source, issues);
  }

  const compiled = compilePolicy(parsed.data);
  if (compiled.policy === null) throw invalid(source, compiled.issues);
  return compiled.policy;
}
