import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadStateConfig, type StateConfig } from '../../config/load.js';
import { PyramidError } from '../../errors.js';
import { policyMoveMatrix } from '../../pipeline/policy-diff.js';
import { describePolicy, formatShare } from '../../policy/describe.js';
import { formatMinor } from '../../policy/money.js';
import { loadPolicyFile } from '../../policy/load.js';
import { policyContentHash } from '../../policy/content-hash.js';
import { assertSwitchable } from '../../policy/switch-compatibility.js';
import { parsePolicy } from '../../policy/parse.js';
import { changedInPlace, readGroupPolicy, storeGroupPolicy } from '../../state/group-policy.js';
import { formatMoveMatrix } from '../format.js';
import { openState } from '../state-access.js';

interface StateOptions {
  config?: string;
}

interface DiffOptions extends StateOptions {
  json?: boolean;
  pageSize: string;
  pause: string;
}

/**
 * `pyramid policy check|diff|apply <file>`: the policy lifecycle. `check` validates a file and
 * prints it in words; it needs no Redis and no Kafka, so it runs wherever the file is edited.
 */
export function register(program: Command): void {
  const policy = program.command('policy').description('Check a policy file, preview its effect on the live state, and apply it');
  policy
    .command('check')
    .description('Validate a policy file and print every rule in words (exit 1 naming the field when invalid)')
    .argument('<file>', 'the policy file (YAML or JSON)')
    .action(async (file: string) => {
      await check(file);
    });
  policy
    .command('diff')
    .description("Preview a policy against the live state of the configured key prefix: the move matrix (current tier x new tier), changing nothing")
    .argument('<file>', 'the new policy file (YAML or JSON)')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it)')
    .option('--json', 'print the move matrix as JSON')
    .option('--page-size <n>', 'customers read per HSCAN page', '500')
    .option('--pause <ms>', 'pause between two pages, so a diff next to live scorers takes a bounded share of Redis', '10')
    .action(async (file: string, opts: DiffOptions) => {
      await diff(file, opts);
    });
  policy
    .command('apply')
    .description('Make a policy the one in force for the configured key prefix; running scorers pick it up without a restart, switch each partition at its next commit and re-evaluate every customer (one POLICY event per customer whose tier changes)')
    .argument('<file>', 'the new policy file (YAML or JSON); a changed policy needs a new version')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it)')
    .action(async (file: string, opts: StateOptions) => {
      await apply(file, opts);
    });
}

/**
 * The state settings; the policy file the scorers run with does not matter to these commands,
 * so the file given on the command line stands in when none is configured.
 */
function stateConfig(file: string, opts: StateOptions): StateConfig {
  return loadStateConfig({ PYRAMID_POLICY_FILE: file, ...process.env }, opts.config);
}

function positiveInteger(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new PyramidError('CONFIG_INVALID', `${flag} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return value;
}

async function diff(file: string, opts: DiffOptions): Promise<void> {
  const pageSize = positiveInteger(opts.pageSize, '--page-size', 1);
  const pauseMs = positiveInteger(opts.pause, '--pause', 0);
  const policy = await loadPolicyFile(file);
  const config = stateConfig(file, opts);
  const state = await openState(config);
  try {
    const matrix = await policyMoveMatrix({ store: state.store, topic: config.topics.transactions, partitions: state.partitions, policy, clock: config.clock, pageSize, pauseMs });
    if (opts.json === true) {
      console.log(JSON.stringify(matrix, null, 2));
      return;
    }
    const order = [...policy.tiers.map((tier) => tier.name), policy.fallbackTier, ...(policy.inactiveTier === null ? [] : [policy.inactiveTier])];
    const current = matrix.currentVersions.length === 0 ? 'no state yet' : `state now on policy ${matrix.currentVersions.join(', ')}`;
    console.log(`pyramid policy diff: ${policy.name} ${policy.version} against key prefix ${config.keyPrefix} (${matrix.partitions} partitions, ${current}, ${config.clock} clock)`);
    console.log(formatMoveMatrix(matrix, order, policy.minorUnitDigits, policy.currency));
    if (matrix.boundaries !== undefined) {
      console.log(`relative boundaries over the stored customers (${matrix.boundaries.population} ranked):`);
      for (const cut of matrix.boundaries.cuts) {
        const value = cut.key === null ? 'nobody (rank 0)' : cut.metric === 'monetary' ? `${formatMinor(cut.key.value, policy.minorUnitDigits)} ${policy.currency}` : String(cut.key.value);
        console.log(`  top ${formatShare(cut.bps)} by ${cut.metric}: rank ${cut.rank}, boundary ${value}`);
      }
    }
  } finally {
    state.close();
  }
}

async function check(file: string): Promise<void> {
  // An invalid file throws POLICY_INVALID naming each field; main prints it and exits 1.
  const policy = await loadPolicyFile(file);
  console.log([`${file}: valid`, ...describePolicy(policy), `content hash ${policyContentHash(policy)}`].join('\n'));
}

async function apply(file: string, opts: StateOptions): Promise<void> {
  const policy = await loadPolicyFile(file);
  const content = await readFile(file, 'utf8');
  const hash = policyContentHash(policy);
  const config = stateConfig(file, opts);
  const state = await openState(config);
  try {
    // State scored before any policy was stored for the prefix names its policy only in the
    // partition metas: a changed file under one of those versions is refused too.
    for (const partition of state.partitions) {
      const meta = await state.store.readMeta(config.topics.transactions, partition);
      if (meta?.policyVersion === policy.version && meta.policyHash !== null && meta.policyHash !== hash) {
        throw changedInPlace(file, policy.version, meta.policyHash, hash);
      }
    }
    // The stored state keeps money in the currency's minor units and spend in buckets: neither
    // can change in place.
    const inForce = await readGroupPolicy(state.redis, config.keyPrefix);
    if (inForce !== null && inForce.content !== '' && inForce.version !== policy.version) {
      assertSwitchable(parsePolicy(inForce.content, `${inForce.source} (in force)`), policy, file);
    }
    const applied = await storeGroupPolicy(state.redis, config.keyPrefix, { version: policy.version, hash, content, source: file }, Date.now());
    if (applied.outcome === 'unchanged') {
      console.log(`pyramid policy apply: ${policy.name} ${policy.version} is already in force for key prefix ${config.keyPrefix}; nothing changed`);
      return;
    }
    const was = applied.previousVersion === null ? 'no policy stored before' : `was ${applied.previousVersion}`;
    console.log(
      [
        `pyramid policy apply: ${policy.name} ${policy.version} (content hash ${hash}) is now in force for key prefix ${config.keyPrefix} (${was})`,
        'Running scorers pick it up without a restart (at once, or at their next poll of the stored policy): each partition',
        'switches at its next commit, and every customer is re-evaluated in the background: one POLICY tier-change event per',
        'customer whose tier changes (pyramid policy diff shows which), carrying both versions; progress on the status page',
        'and in pyramid_policy_reevaluation_progress_ratio.',
        `Now set PYRAMID_POLICY_FILE=${file} in the scorers' deployment: a scorer (re)started with another policy file is refused.`,
      ].join('\n'),
    );
  } finally {
    state.close();
  }
}
