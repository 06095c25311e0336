const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/**
 * Parses an operator-friendly duration (`500ms`, `30s`, `15m`, `12h`, `7d`, or a bare integer of
 * milliseconds) into integer milliseconds. Returns null for anything else so the caller can name
 * the variable in its error.
 */
export function parseDuration(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : null;
  const text = input.trim();
  if (/^\d+$/.test(text)) return parseDuration(Number(text));
  const match = DURATION.exec(text);
  if (match === null) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}
