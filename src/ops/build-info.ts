import { readFileSync } from 'node:fs';

/** What is running: shown on the status page and exported as `pyramid_build_info`. */
export interface BuildInfo {
  version: string;
  nodeVersion: string;
}

let cached: BuildInfo | undefined;

/** The package version (read once from package.json) and the Node.js version. */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  // Same relative path from src/ops (tsx) and dist/ops (built), so no bundler trick is needed.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  cached = { version: typeof pkg.version === 'string' ? pkg.version : 'unknown', nodeVersion: process.version };
  return cached;
}
