import { closestName } from './closest-name.js';
import { CONFIG_VARIABLES, KNOWN_VARIABLES, VARIABLE_PREFIX } from './variables.js';

function didYouMean(candidate: string | undefined): string {
  return candidate === undefined ? '' : `; did you mean ${candidate}?`;
}

/**
 * One problem per `PYRAMID_*` environment variable pyramid does not know, naming the closest
 * known one. Empty ones are left alone, as everywhere in config loading (unset).
 */
export function unknownVariableProblems(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith(VARIABLE_PREFIX) && env[name] !== '' && env[name] !== undefined && !KNOWN_VARIABLES.includes(name))
    .sort()
    .map((name) => `${name}: unknown variable${didYouMean(closestName(name, KNOWN_VARIABLES))}`);
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The keys that may appear under `prefix` in a config file, from the variables table. */
function keysUnder(prefix: readonly string[]): string[] {
  const keys = new Set<string>();
  for (const { path } of CONFIG_VARIABLES) {
    if (path.length > prefix.length && prefix.every((key, i) => path[i] === key)) keys.add(path[prefix.length] as string);
  }
  return [...keys];
}

function isSetting(path: readonly string[]): boolean {
  return CONFIG_VARIABLES.some((variable) => variable.path.length === path.length && variable.path.every((key, i) => path[i] === key));
}

/**
 * Finds the keys of a config file that are no setting, removes them from `tree` (so the schema
 * does not report them a second time) and returns one problem for each, naming the closest key
 * allowed at that place. Every setting has a variable, so the variables table is the whole list.
 */
export function takeUnknownFileKeys(tree: Tree, file: string): string[] {
  const problems: string[] = [];
  const walk = (node: Tree, prefix: string[]): void => {
    const allowed = keysUnder(prefix);
    for (const key of Object.keys(node)) {
      const path = [...prefix, key];
      if (!allowed.includes(key)) {
        problems.push(`${path.join('.')} in ${file}: unknown setting${didYouMean(closestName(key, allowed))}`);
        delete node[key];
        continue;
      }
      const value = node[key];
      // A setting's value is the schema's to judge; only sections are walked into.
      if (!isSetting(path) && isTree(value)) walk(value, path);
    }
  };
  walk(tree, []);
  return problems;
}
