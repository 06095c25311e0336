/**
 * Why a dev-stack part refused to start. `CONFIG_INVALID` is the one code: bad options or a port
 * it cannot bind, both fixed by changing how it is started. Callers (pyramid's demo, the CLI)
 * print the message as it is, so the message names the option or the address.
 */
export class DevStackError extends Error {
  readonly code = 'CONFIG_INVALID';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DevStackError';
  }
}
