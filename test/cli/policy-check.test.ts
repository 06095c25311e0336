import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../e2e/support.js';
import { runCli } from './spawn-cli.js';

describe('pyramid policy check', () => {
  it('prints every tier rule, the inactivity rule and the hysteresis of a valid policy, exit 0', async () => {
    const result = await runCli(['policy', 'check', DEFAULT_POLICY], {});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('policy customer-pyramid version 2026-11-23.1');
    expect(result.stdout).toContain('1. vip: monetary > 58900.00 CNY');
    expect(result.stdout).toContain('2. major: monetary > 19000.00 CNY and monetary <= 58900.00 CNY');
    expect(result.stdout).toContain('4. small: frequency >= 1');
    expect(result.stdout).toContain('fallback prospect: when no tier matches');
    expect(result.stdout).toContain('inactive inactive: no purchase for 180d');
    expect(result.stdout).toContain('downgrade margin 5%');
    expect(result.stdout).toContain('downgrade grace 7d');
    expect(result.stdout).toMatch(/content hash [0-9a-f]{16}/);
    expect(result.stdout).toContain('signals: none');
  });

  it('describes the signal settings in words, and refuses one that could never act, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-policy-check-'));
    const file = join(dir, 'signals.yaml');
    const signals = '\nsignals:\n  nearUpgrade:\n    within: { amount: "500.00" }\n    cooldown: 30d\n  downgradePending: true\n';
    writeFileSync(file, readFileSync(DEFAULT_POLICY, 'utf8') + signals);
    const result = await runCli(['policy', 'check', file], {});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('NEAR_UPGRADE: when the spend still missing to the next tier is more than 0 and at most 500.00 CNY; at most once per 30d per customer');
    expect(result.stdout).toContain('DOWNGRADE_PENDING: when a downgrade starts waiting out the 7d grace');

    writeFileSync(file, readFileSync(DEFAULT_POLICY, 'utf8').replace('downgradeGrace: 7d', 'downgradeGrace: 0d') + signals);
    const refused = await runCli(['policy', 'check', file], {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('signals.downgradePending: needs hysteresis.downgradeGrace > 0');
  });

  it('exits 1 naming the invalid field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-policy-check-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, readFileSync(DEFAULT_POLICY, 'utf8').replace('gt: "19000.00"', 'gt: "19 thousand"'));
    const result = await runCli(['policy', 'check', file], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`policy ${file} is invalid`);
    expect(result.stderr).toContain('tiers[1].when.monetary.gt');
    expect(result.stdout).toBe('');
  });
});
