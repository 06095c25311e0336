import { startDevStack } from '@pyramid/devstack';
import { describe, expect, it } from 'vitest';
import { loadEmbeddedStack, type StartEmbeddedStack } from '../../src/cli/embedded-stack.js';
import { isPyramidError } from '../../src/errors.js';

// Typecheck fails here if the dev stack's signature drifts from what the demo relies on.
const demoView: StartEmbeddedStack = startDevStack;

describe('loadEmbeddedStack', () => {
  it('loads the workspace dev stack by its package name', async () => {
    expect(await loadEmbeddedStack()).toBe(demoView);
  });

  it('names the missing package and the command to use when it is not installed', async () => {
    const error: unknown = await loadEmbeddedStack('@pyramid/no-such-devstack').catch((err: unknown) => err);
    expect(isPyramidError(error, 'PREREQUISITE_MISSING')).toBe(true);
    expect((error as Error).message).toMatch(/@pyramid\/no-such-devstack.*npm ci && npm run demo/);
  });
});
