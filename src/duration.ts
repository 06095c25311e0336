/**
 * Durations as the policy file and the operator settings spell them: a whole number followed by
 * one unit, e.g. `365d`, `12h`, `90m`, `2w`.
 * Fractions and compound forms (`1d12h`) are rejected on purpose: every duration then has exactly
 * one spelling per value, and the compiled policy stays in integer milliseconds.
 */

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

type DurationUnit = keyof typeof UNIT_MS;

const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d|w)$/;

/**
 * Parses a duration string into milliseconds.
 *
 * @throws RangeError with a reader-facing reason when the text is not `<integer><unit>` or the
 *   result is not a safe integer. Zero is accepted here; callers that need a positive duration
 *   check that themselves (the reason differs per field).
 */
export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) {
    throw new RangeError(
      `"${text}" is not a duration; write a whole number and one unit of ms, s, m, h, d, w (e.g. "365d", "12h")`,
    );
  }
  const amount = Number(match[1]);
  const ms = amount * UNIT_MS[match[2] as DurationUnit];
  if (!Number.isSafeInteger(ms)) {
    throw new RangeError(`"${text}" is too long a duration`);
  }
  return ms;
}

/**
 * Formats milliseconds in the largest unit that divides them exactly (`15552000000` -> `180d`),
 * so rule texts read like the policy file. Weeks are shown as days, which reads better in rules.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0d';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
