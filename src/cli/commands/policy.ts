import type { Command } from 'commander';
import { describePolicy } from '../../policy/describe.js';
import { loadPolicyFile } from '../../policy/load.js';
import { policyContentHash } from '../../policy/content-hash.js';

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
}

async function check(file: string): Promise<void> {
  // An invalid file throws POLICY_INVALID naming each field; main prints it and exits 1.
  const policy = await loadPolicyFile(file);
  console.log([`${file}: valid`, ...describePolicy(policy), `content hash ${policyContentHash(policy)}`].join('\n'));
}
