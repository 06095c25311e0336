import type { PyramidConfig } from './schema.js';
import { CONFIG_VARIABLES } from './variables.js';

const REDACTED = '[redacted]';

/**
 * Dotted config paths of every variable marked `secret`: the one list both `redactedConfig` and
 * the logger's redaction derive from, so a new secret setting is redacted everywhere at once.
 */
export const SECRET_CONFIG_PATHS: readonly string[] = CONFIG_VARIABLES.filter((variable) => variable.secret === true).map(
  (variable) => variable.path.join('.'),
);

/**
 * A URL with its password blanked; scheme, host, port, user and database stay readable so an
 * operator can still check the wiring. Text that is not a URL is blanked whole, since it may be
 * a mistyped secret.
 */
export function redactUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    return REDACTED;
  }
}

/**
 * How a secret setting is shown in logs: URLs keep everything but their password, any other
 * value is replaced whole. `key` is the setting's last path segment.
 */
export function redactSecret(key: string | undefined, value: unknown): unknown {
  return key === 'url' && typeof value === 'string' ? redactUrlPassword(value) : REDACTED;
}

/**
 * The configuration as it may be logged at start-up: every secret (SASL and registry passwords,
 * the password in the Redis and registry URLs) replaced, everything an operator needs to check
 * the wiring kept. The argument is not modified.
 */
export function redactedConfig(config: PyramidConfig): PyramidConfig {
  const safe = structuredClone(config);
  for (const dotted of SECRET_CONFIG_PATHS) {
    const path = dotted.split('.');
    const key = path.pop();
    let parent: unknown = safe;
    for (const segment of path) parent = (parent as Record<string, unknown> | undefined)?.[segment];
    if (typeof parent !== 'object' || parent === null || key === undefined) continue;
    const holder = parent as Record<string, unknown>;
    if (holder[key] !== undefined) holder[key] = redactSecret(key, holder[key]);
  }
  return safe;
}
