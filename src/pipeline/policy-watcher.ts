import type { Cluster, Redis } from 'ioredis';
import { isPyramidError } from '../errors.js';
import type { Logger } from '../logger.js';
import { policyContentHash } from '../policy/content-hash.js';
import { parsePolicy } from '../policy/parse.js';
import { assertSwitchable } from '../policy/switch-compatibility.js';
import type { CompiledPolicy } from '../policy/types.js';
import { readGroupPolicy, type GroupPolicy } from '../state/group-policy.js';
import { groupPolicyChannel } from '../state/layout.js';

/** The policy a scorer scores with, and its content hash. */
export interface PolicyInUse {
  policy: CompiledPolicy;
  hash: string;
}

/** What {@link createPolicyWatcher} needs. */
export interface PolicyWatcherOptions {
  redis: Redis | Cluster;
  prefix: string;
  /** The policy the scorer started with (the one in force then). */
  initial: PolicyInUse;
  /** How often the stored policy is read, ms; default 2000. */
  intervalMs?: number;
  /**
   * Called, one at a time, with each policy applied since: the scorer switches its partitions.
   * `stored` is what `pyramid policy apply` wrote.
   */
  onSwitch(next: PolicyInUse, stored: GroupPolicy): Promise<void>;
  logger: Logger;
}

/** The running pick-up of applied policies. */
export interface PolicyWatcher {
  /** The policy to score with now. */
  current(): PolicyInUse;
  /**
   * Reads the stored policy now and switches to it when it changed (after any refresh in
   * progress); resolves to the policy to score with. A stored policy that cannot be compiled or
   * switched to in place is logged once and not taken.
   */
  refresh(): Promise<PolicyInUse>;
  /** Starts polling (and listening for the apply hint). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Picks up, while the scorer runs, a policy `pyramid policy apply` stored for the key prefix:
 * polls the stored policy (the correctness path: a lost hint only delays the pick-up by one
 * interval) and listens to the apply command's pub/sub hint to do so at once. The new policy is
 * compiled from the stored content, so every scorer runs the very rules that were applied; its
 * content hash must be the stored one.
 */
export function createPolicyWatcher(options: PolicyWatcherOptions): PolicyWatcher {
  const { redis, prefix, logger } = options;
  const intervalMs = options.intervalMs ?? 2000;
  let current = options.initial;
  let chain: Promise<PolicyInUse> = Promise.resolve(current);
  /** The stored hash last refused, so a policy that cannot be taken is reported once, not every poll. */
  let refused: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let subscriber: Redis | Cluster | undefined;

  async function check(): Promise<PolicyInUse> {
    const stored = await readGroupPolicy(redis, prefix);
    if (stored === null || stored.hash === current.hash || stored.hash === refused) return current;
    let next: PolicyInUse;
    try {
      const policy = parsePolicy(stored.content, `${stored.source} (stored for key prefix ${prefix})`);
      const hash = policyContentHash(policy);
      if (hash !== stored.hash || policy.version !== stored.version) {
        throw new Error(`the stored content compiles to version ${policy.version}, content hash ${hash}, not the stored ${stored.version}, ${stored.hash}`);
      }
      assertSwitchable(current.policy, policy, stored.source);
      next = { policy, hash };
    } catch (err) {
      refused = stored.hash;
      logger.error({ err, version: stored.version, source: stored.source }, 'the policy applied for the key prefix cannot be taken; scoring on with the current one');
      return current;
    }
    logger.info({ from: current.policy.version, to: next.policy.version, source: stored.source }, 'policy applied for the key prefix; switching the owned partitions at their next commit');
    current = next;
    await options.onSwitch(next, stored);
    return current;
  }

  function refresh(): Promise<PolicyInUse> {
    chain = chain.then(check, check);
    return chain;
  }

  function poll(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err: unknown) => {
          if (!isPyramidError(err, 'REDIS_UNAVAILABLE')) logger.warn({ err }, 'reading the policy in force failed; retrying at the next poll');
        })
        .finally(poll);
    }, intervalMs);
  }

  return {
    current: () => current,
    refresh,
    async start() {
      poll();
      // The hint: a subscription of its own (a subscribed connection can issue no other command).
      try {
        const sub = redis.duplicate();
        subscriber = sub;
        sub.on('error', (err: unknown) => logger.debug({ err }, 'policy hint subscription'));
        sub.on('message', () => void refresh().catch(() => undefined));
        // The scorer's connection is lazy and has no offline queue: the copy must connect first.
        if (sub.status === 'wait') await sub.connect();
        await sub.subscribe(groupPolicyChannel(prefix));
      } catch (err) {
        logger.warn({ err }, 'cannot subscribe to the policy apply hint; picking applied policies up by polling only');
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      subscriber?.disconnect();
      await chain.catch(() => undefined);
    },
  };
}
