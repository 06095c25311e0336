#!/usr/bin/env node
// Fails when any TypeScript module of the repository reaches itself through its imports. Type-only
// imports count: a cycle of types still means two files cannot be read (or moved) one without the
// other. Uses the TypeScript compiler's parser, so every form is seen: `import`, `import type`,
// `export ... from`, `import('...')` in code and in types. Only relative specifiers are followed;
// packages cannot close a cycle with this repository's files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['src', 'test', 'bench', 'packages/devstack/src', 'packages/devstack/test', 'packages/devstack/bench'];

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The relative specifiers `file` imports, in every syntactic form. */
function specifiers(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const found = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.startsWith('.'));
}

/** The file a relative specifier names: NodeNext spells `./x.js` for `./x.ts`. */
function resolveSpecifier(from, specifier) {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

const files = FOLDERS.flatMap((folder) => tsFiles(join(ROOT, folder)));
const graph = new Map(files.map((file) => [file, [...new Set(specifiers(file).map((s) => resolveSpecifier(file, s)).filter(Boolean))]]));

// Tarjan's strongly connected components: every component of more than one file (or a file that
// imports itself) is a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function connect(file) {
  index.set(file, counter);
  low.set(file, counter);
  counter++;
  stack.push(file);
  onStack.add(file);
  for (const next of graph.get(file) ?? []) {
    if (!index.has(next)) {
      connect(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (onStack.has(next)) {
      low.set(file, Math.min(low.get(file), index.get(next)));
    }
  }
  if (low.get(file) === index.get(file)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) cycles.push(component);
  }
}
for (const file of graph.keys()) if (!index.has(file)) connect(file);

const found = cycles.map((component) => component.map((f) => relative(ROOT, f)));
if (found.length > 0) {
  console.error(`import cycles: ${found.length} group(s) of files that import each other (type-only imports count)`);
  for (const component of found) console.error(`  ${[...component].sort().join('\n    <-> ')}`);
  process.exit(1);
}
console.log(`import cycles: none in ${graph.size} files`);
