import { parseDuration as parseUnitDuration } from '../duration.js';

/**
 * Parses an operator-facing duration: the policy file's `<integer><unit>` form (`500ms`, `30s`,
 * `15m`, `12h`, `7d`, `2w`; one parser for both, src/duration.ts) or a bare integer of
 * milliseconds, as environment variables often carry. Returns null for anything else so the
 * caller can name the variable in its error.
 */
export function parseConfigDuration(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : null;
  const text = input.trim();
  if (/^\d+$/.test(text)) return parseConfigDuration(Number(text));
  try {
    return parseUnitDuration(text);
  } catch {
    return null;
  }
}
