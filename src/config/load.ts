import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PyramidError } from '../errors.js';
import { configSchema, type PyramidConfig } from './schema.js';
import { takeUnknownFileKeys, unknownVariableProblems } from './unknown-names.js';
import { CONFIG_FILE_VARIABLE, CONFIG_VARIABLES, coerceEnvValue, type ConfigVariable } from './variables.js';

type Source = 'env' | 'file';
type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getAt(tree: unknown, path: readonly PropertyKey[]): unknown {
  let node = tree;
  for (const key of path) {
    if (!isTree(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function setAt(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isTree(next)) {
      node = next;
    } else {
      const created: Tree = {};
      node[key] = created;
      node = created;
    }
  }
  node[path[path.length - 1] as string] = value;
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PyramidError('CONFIG_INVALID', `config file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    // YAML errors quote the offending line, which may hold a secret: report the position only.
    const line = (err as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
    throw new PyramidError('CONFIG_INVALID', `config file ${file}: not valid YAML/JSON${line === undefined ? '' : ` (line ${line})`}`);
  }
  if (parsed == null) return {};
  if (!isTree(parsed)) throw new PyramidError('CONFIG_INVALID', `config file ${file}: must contain a mapping of settings`);
  return parsed;
}

/** The variable a zod issue path falls under (the deepest one whose path is a prefix of it). */
function variableFor(path: readonly PropertyKey[]): ConfigVariable | undefined {
  let best: ConfigVariable | undefined;
  for (const variable of CONFIG_VARIABLES) {
    const prefix = variable.path.every((key, i) => path[i] === key) && variable.path.length <= path.length;
    if (prefix && (best === undefined || variable.path.length > best.path.length)) best = variable;
  }
  return best;
}

interface Origin {
  file: string | undefined;
  sources: Map<string, Source>;
  merged: Tree;
  /** Unknown variables and file keys: reported with the schema's problems, never ignored. */
  unknown: string[];
}

/** Where to fix a problem: the environment variable if it was set there, else the file field. */
function describeLocation(path: readonly PropertyKey[], origin: Origin): string {
  const dotted = path.map(String).join('.');
  const variable = variableFor(path);
  const source = variable === undefined ? undefined : origin.sources.get(variable.path.join('.'));
  if (variable !== undefined && source === 'env') return variable.env;
  const inFile = origin.file === undefined ? 'a config file' : origin.file;
  if (source === 'file' || variable === undefined) return `${dotted} in ${inFile}`;
  return `${variable.env} (or ${dotted} in ${inFile})`;
}

function describeIssue(issue: z.core.$ZodIssue, origin: Origin): string {
  const missing = issue.code === 'invalid_type' && getAt(origin.merged, issue.path) === undefined;
  return `${describeLocation(issue.path, origin)}: ${missing ? 'is required' : issue.message}`;
}

/** Environment over file, with the source of every variable recorded for error messages. */
function mergeSources(env: NodeJS.ProcessEnv, file: string | undefined): Origin {
  const configFile = file ?? (env[CONFIG_FILE_VARIABLE] || undefined);
  const merged: Tree = configFile === undefined ? {} : readConfigFile(configFile);
  const unknown = [...unknownVariableProblems(env), ...(configFile === undefined ? [] : takeUnknownFileKeys(merged, configFile))];
  const sources = new Map<string, Source>();
  for (const variable of CONFIG_VARIABLES) {
    const key = variable.path.join('.');
    const fromFile = getAt(merged, variable.path);
    if (fromFile !== undefined) {
      sources.set(key, 'file');
      if (variable.kind === 'path' && typeof fromFile === 'string' && configFile !== undefined && !isAbsolute(fromFile)) {
        setAt(merged, variable.path, resolve(dirname(configFile), fromFile));
      }
    }
    const text = env[variable.env];
    if (text !== undefined && text !== '') {
      setAt(merged, variable.path, coerceEnvValue(variable.kind, text));
      sources.set(key, 'env');
    }
  }
  return { file: configFile, sources, merged, unknown };
}

function parseOrExplain<T extends z.ZodType>(schema: T, origin: Origin): z.output<T> {
  let result = schema.safeParse(origin.merged);
  // A whole missing section (no kafka settings at all) would be one vague "kafka is required";
  // present it as empty so zod names each missing setting inside, and with it the variable.
  for (let round = 0; !result.success && round < 3; round++) {
    const missingSections = result.error.issues.filter(
      (issue) => issue.code === 'invalid_type' && issue.expected === 'object' && getAt(origin.merged, issue.path) === undefined,
    );
    if (missingSections.length === 0) break;
    for (const issue of missingSections) setAt(origin.merged, issue.path.map(String), {});
    result = schema.safeParse(origin.merged);
  }
  if (result.success && origin.unknown.length === 0) return result.data;
  const problems = [...origin.unknown, ...(result.success ? [] : result.error.issues.map((issue) => describeIssue(issue, origin)))];
  throw new PyramidError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
    details: { problems },
  });
}

/**
 * Builds pyramid's configuration from environment variables over an optional YAML/JSON config
 * file (the file given here, else `PYRAMID_CONFIG_FILE`), validated once at start-up. Relative
 * paths in the file resolve against the file's folder. Empty environment variables count as
 * unset, as container runtimes often pass them.
 *
 * @throws PyramidError `CONFIG_INVALID` listing every problem, each naming the environment variable
 *   or file field to fix; values are never echoed, since they may be secrets. An unknown
 *   `PYRAMID_*` variable or file key is a problem too, named with the closest known name.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, file?: string): PyramidConfig {
  return parseOrExplain(configSchema, mergeSources(env, file));
}

const clientSchema = z.object({ kafka: configSchema.shape.kafka, registry: configSchema.shape.registry });

/** The connection settings a Kafka / registry client needs, without the scorer's own settings. */
export type ClientConfig = z.output<typeof clientSchema>;

/**
 * Only the `kafka` and `registry` settings, from the same variables and file as `loadConfig`:
 * for tools that talk to the cluster but do not score (`pyramid simulate`). Other settings are
 * ignored, not required.
 */
export function loadClientConfig(env: NodeJS.ProcessEnv = process.env, file?: string): ClientConfig {
  return parseOrExplain(clientSchema, mergeSources(env, file));
}

const stateSchema = z.object({
  redis: configSchema.shape.redis,
  policyFile: configSchema.shape.policyFile,
  keyPrefix: configSchema.shape.keyPrefix,
  topics: configSchema.shape.topics,
  clock: configSchema.shape.clock,
});

/** The settings that locate and read pyramid's Redis state, without any Kafka setting. */
export type StateConfig = z.output<typeof stateSchema>;

/**
 * Only what reading the Redis state needs (Redis, policy, key prefix, topic names, clock), from
 * the same variables and file as `loadConfig`: for `pyramid inspect` and `pyramid report`, which
 * an operator runs where no broker address is configured. Other settings are ignored.
 */
export function loadStateConfig(env: NodeJS.ProcessEnv = process.env, file?: string): StateConfig {
  return parseOrExplain(stateSchema, mergeSources(env, file));
}

/**
 * For commands that take no configuration beyond a variable or two (`pyramid demo`): refuses
 * unknown `PYRAMID_*` variables the way the loaders above do.
 * @throws PyramidError `CONFIG_INVALID` naming each unknown variable and the closest known one.
 */
export function assertKnownVariables(env: NodeJS.ProcessEnv = process.env): void {
  const problems = unknownVariableProblems(env);
  if (problems.length > 0) {
    throw new PyramidError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
  }
}
