/** Levels at which a failed command also prints where it failed. */
const STACK_LEVELS = new Set(['debug', 'trace']);

/** The stack of `err` and of each error in its `cause` chain (bounded: causes may be cyclic). */
function stacks(err: unknown): string[] {
  const out: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    out.push(`${depth === 0 ? '' : 'caused by: '}${current instanceof Error ? (current.stack ?? current.message) : String(current)}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return out;
}

/**
 * What `pyramid` prints on stderr when a command fails: one line saying what failed, which is what
 * an operator acts on (the message names the setting); the stack, with the cause chain, only at
 * log level debug or trace, where someone is looking for the code that failed.
 */
export function failureReport(err: unknown, logLevel: string | undefined): string {
  const line = `pyramid: ${err instanceof Error ? err.message : String(err)}`;
  return logLevel !== undefined && STACK_LEVELS.has(logLevel) ? [line, ...stacks(err)].join('\n') : line;
}
