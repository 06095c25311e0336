import { z } from 'zod';
import { parseDuration } from '../duration.js';

/**
 * The shape of a policy file (before cross-field rules and amount conversion, see compile.ts).
 * Every object is strict, so a misspelt key (`monetery`) is an error instead of a silently ignored
 * condition. Field-local parsing (durations, margin percent) happens here so issues carry the
 * exact field path; amounts stay raw because their conversion needs the sibling `currency`.
 */

const durationField = z.string({ error: 'expected a duration string such as "365d" or "12h"' }).transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const positiveDuration = durationField.refine((ms) => ms > 0, { message: 'must be a positive duration' });

/** A decimal amount: a quoted decimal string, or a whole number (YAML reads `58900` as one). */
const amountField = z.union([z.string(), z.number()], {
  error: 'expected an amount as a quoted decimal string such as "58900.00"',
});

const countField = z.number({ error: 'expected a whole number' }).int('expected a whole number').min(0, 'must be >= 0');

function bounds<T extends z.ZodType>(value: T) {
  return z
    .strictObject({ gt: value.optional(), gte: value.optional(), lt: value.optional(), lte: value.optional() })
    .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'needs at least one of gt, gte, lt, lte' })
    .refine((b) => b.gt === undefined || b.gte === undefined, { message: 'use either gt or gte, not both' })
    .refine((b) => b.lt === undefined || b.lte === undefined, { message: 'use either lt or lte, not both' });
}

const MARGIN_PATTERN = /^(\d{1,2})(?:\.(\d{1,2}))?%$/;

/** "10%" -> 1000 basis points; at most two decimals, below 100 %. */
const marginField = z.string({ error: 'expected a percentage string such as "10%"' }).transform((text, ctx) => {
  const match = MARGIN_PATTERN.exec(text.trim());
  if (match === null) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a percentage from "0%" to "99.99%" with at most two decimals` });
    return z.NEVER;
  }
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
});

const SHARE_PATTERN = /^(\d{1,3})(?:\.(\d{1,2}))?%$/;

/** "1%" -> 100 basis points of the ranked population; "12.5%" -> 1250; from "0%" to "100%". */
const shareField = z.string({ error: 'expected a share of customers as a percentage string such as "1%"' }).transform((text, ctx) => {
  const match = SHARE_PATTERN.exec(text.trim());
  const bps = match === null ? NaN : Number(match[1]) * 100 + Number((match?.[2] ?? '').padEnd(2, '0'));
  if (!(bps <= 10_000)) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a share from "0%" to "100%" with at most two decimals` });
    return z.NEVER;
  }
  return bps;
});

/**
 * A band of ranks by share of the ranked population: `{ top: "1%" }` (the first 1 %) or
 * `{ from: "20%", to: "40%" }` (after the first 20 %, through the first 40 %).
 */
const shareBand = z
  .strictObject({ top: shareField.optional(), from: shareField.optional(), to: shareField.optional() })
  .superRefine((band, ctx) => {
    if (band.top !== undefined) {
      if (band.from !== undefined || band.to !== undefined) ctx.addIssue({ code: 'custom', message: 'use either top or from/to, not both' });
      else if (band.top === 0) ctx.addIssue({ code: 'custom', path: ['top'], message: 'must be above "0%" (a band of no customers)' });
    } else if (band.from === undefined || band.to === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs top, or both from and to' });
    } else if (band.to <= band.from) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be above from' });
    }
  })
  .transform((band) => ({ fromBps: band.top === undefined ? (band.from ?? 0) : 0, toBps: band.top ?? band.to ?? 0 }));

const tierName = z
  .string({ error: 'expected a tier name' })
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must start with a letter and use only letters, digits, "_", "." or "-" (at most 64)');

const tierSchema = z.strictObject({
  name: tierName,
  when: z
    .strictObject({
      monetary: bounds(amountField).optional(),
      frequency: bounds(countField).optional(),
      recency: bounds(durationField).optional(),
      averageDailyBalance: bounds(amountField).optional(),
      profit: bounds(amountField).optional(),
    })
    .optional(),
  relative: z
    .strictObject({ monetary: shareBand.optional(), frequency: shareBand.optional() })
    .refine((r) => r.monetary !== undefined || r.frequency !== undefined, { message: 'needs monetary or frequency (or both)' })
    .optional(),
});

/**
 * `signals`: which warnings marketing gets before a change. `nearUpgrade.within` names its unit
 * explicitly (an `amount` in the policy currency, or a share `ofThreshold` of the next tier's
 * monetary threshold), so "10" can never be read as 10 % or as 10 CNY by mistake.
 */
const signalsSchema = z
  .strictObject({
    nearUpgrade: z
      .strictObject({
        within: z
          .strictObject({
            amount: amountField.optional(),
            ofThreshold: marginField.refine((bps) => bps > 0, { message: 'must be more than 0%' }).optional(),
          })
          .refine((w) => (w.amount === undefined) !== (w.ofThreshold === undefined), {
            message: 'give exactly one of amount (e.g. "500.00") or ofThreshold (e.g. "10%")',
          }),
        cooldown: positiveDuration,
      })
      .optional(),
    downgradePending: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .refine((s) => s.nearUpgrade !== undefined || s.downgradePending === true, {
    message: 'asks for no signal: set nearUpgrade and/or downgradePending: true, or remove signals',
  });

/** The policy file as validated by zod (durations in ms, margin in bps, amounts still raw). */
export const policyFileSchema = z.strictObject({
  version: z.string({ error: 'expected a string (quote it, e.g. version: "2026-11-01")' }).min(1, 'must not be empty'),
  name: z.string({ error: 'expected a string' }).min(1, 'must not be empty'),
  description: z.string({ error: 'expected a string' }).optional(),
  currency: z.string({ error: 'expected an ISO 4217 currency code such as "CNY"' }),
  window: positiveDuration,
  bucket: positiveDuration,
  inactivity: z.strictObject({ after: positiveDuration, tier: tierName }).optional(),
  hysteresis: z
    .strictObject({ downgradeGrace: durationField.optional(), downgradeMargin: marginField.optional() })
    .optional(),
  ranking: z
    .strictObject({
      population: z.literal('active-purchasers', { error: 'expected "active-purchasers" (customers with a purchase in the window who are not inactive)' }).optional(),
      every: positiveDuration.optional(),
    })
    .optional(),
  tiers: z.array(tierSchema, { error: 'expected a list of tiers' }).min(1, 'needs at least one tier'),
  fallback: tierName,
  signals: signalsSchema.optional(),
});

export type PolicyFile = z.output<typeof policyFileSchema>;
export type PolicyFileTier = PolicyFile['tiers'][number];
