import { PyramidError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The npm workspace package (packages/devstack) holding the embedded broker and registry. */
export const DEV_STACK_PACKAGE = '@pyramid/devstack';

/** What `pyramid demo` needs of a running embedded broker and schema registry. */
export interface EmbeddedStack {
  readonly brokers: string[];
  readonly registryUrl: string;
  close(): Promise<void>;
}

/** The options `pyramid demo` starts the embedded stack with. */
export interface EmbeddedStackOptions {
  brokerPort: number;
  registryPort: number;
  logger: Logger;
}

/** The dev stack's `startDevStack`, as far as `pyramid demo` uses it. */
export type StartEmbeddedStack = (options: EmbeddedStackOptions) => Promise<EmbeddedStack>;

/**
 * Load the dev stack at run time. The specifier is a variable on purpose: production code never
 * imports the dev stack statically, so `npm run build` cannot pull it into dist, and the production
 * image (which leaves the development package out) still starts every other command.
 * @throws PyramidError PREREQUISITE_MISSING when the package is not installed, or is its
 *   TypeScript source run by plain node (the compiled CLI in a clone).
 */
export async function loadEmbeddedStack(specifier: string = DEV_STACK_PACKAGE): Promise<StartEmbeddedStack> {
  let loaded: unknown;
  try {
    loaded = await import(specifier);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') {
      throw new PyramidError(
        'PREREQUISITE_MISSING',
        `the demo needs the development package ${specifier} (packages/devstack), which production installs leave out: run it from a clone with \`npm ci && npm run demo\``,
        { cause: err },
      );
    }
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new PyramidError('PREREQUISITE_MISSING', `${specifier} is TypeScript source: run the demo with \`npm run demo\` (through tsx), not the compiled CLI`, {
        cause: err,
      });
    }
    throw err;
  }
  const start = (loaded as { startDevStack?: unknown }).startDevStack;
  if (typeof start !== 'function') {
    throw new PyramidError('PREREQUISITE_MISSING', `${specifier} does not export startDevStack`);
  }
  return start as StartEmbeddedStack;
}
