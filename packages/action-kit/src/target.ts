import { gracefulScope } from '#core/cancel.js';
import {
  describeAddress,
  openTarget,
  parseTargetAddress,
  type TargetAddress,
  type TargetSpec,
} from '#core/hosts/open.js';
import type { Target } from '#core/hosts/target.js';
import { UserError } from '#core/errors.js';
import { checkedBy, optional, withDefault } from './inputs.js';

/**
 * The target inputs, owned here: every action that works on a target declares them by spreading `targetInputs` (or
 * `sshInputs`, where the targets are named elsewhere, as release-services' services do), masks the key with
 * `targetSecrets`, and opens the target with `withTarget` / `withTargets`. Their action.yml descriptions are these
 * (test/repo/action-contract.test.ts checks every action.yml against them).
 */
export const TARGET_INPUT_DESCRIPTIONS = {
  target:
    'Where the action works: `local` (this runner) or `ssh://user@host[:port]`, a host reached with the OpenSSH client (needs `ssh-key` and `known-hosts`).',
  'ssh-key':
    'Private key for an ssh target, from a secret (no passphrase). Masked; written with mode 0600 to a private temp dir and removed when the step ends.',
  'known-hosts':
    'The pinned host key line(s) of the ssh target(s), as `ssh-keyscan -p PORT HOST` prints them (e.g. `[deploy.example.com]:2222 ssh-ed25519 AAAA…`), one per line. Required for ssh; host keys are checked strictly against it.',
} as const;

export const targetAddress = () =>
  checkedBy((text): { value: TargetAddress } | { problem: string } => {
    const address = parseTargetAddress(text);
    return address
      ? { value: address }
      : {
          problem: `"${text}" is not a target; use local or ssh://user@host[:port], e.g. ssh://deploy@app.example.com:2222`,
        };
  });

export const sshInputs = { 'ssh-key': optional(), 'known-hosts': optional() };
export const targetInputs = { target: withDefault('local', targetAddress()), ...sshInputs };
export const targetSecrets = { 'ssh-key': 'multiline' } as const;

export interface SshInputValues {
  'ssh-key'?: string;
  'known-hosts'?: string;
}
export interface TargetInputValues extends SshInputValues {
  target: TargetAddress;
}

/** Checks the target inputs together: an ssh target needs a key and a pinned host key. */
export function targetSpec(address: TargetAddress, inputs: SshInputValues): TargetSpec {
  if (address.kind === 'local') return address;
  const privateKey = inputs['ssh-key'];
  const knownHosts = inputs['known-hosts'];
  if (privateKey && knownHosts) return { ...address, privateKey, knownHosts };
  const missing = [!privateKey && 'ssh-key', !knownHosts && 'known-hosts'].filter((name): name is string => !!name);
  throw new UserError(
    `Input ${missing.map((name) => `"${name}"`).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required for target ${describeAddress(address)}: ` +
      'pass the deploy key from a secret and the host key line from `ssh-keyscan -p PORT HOST` (checked once, then stored as a secret or variable)',
  );
}

export interface WithTargetOptions {
  /** Where ssh key files go (the envelope's `context.tempDir`). */
  tempDir?: string;
  /**
   * Run inside a graceful scope: a cancelled job aborts `signal` and waits for `fn` to undo its work (stop a hook,
   * roll back, unlock) before the targets close and the process ends (core/cancel).
   */
  graceful?: boolean;
}

/**
 * Opens the targets of `addresses` (each distinct address once, every one checked before any is opened), runs `fn`
 * with them in the same order, and closes them all however `fn` ends. An ssh target's key files are also removed by
 * the cleanup it registers with core/cancel when the process is ended by a signal before `close()`.
 */
export async function withTargets<T>(
  inputs: SshInputValues,
  addresses: readonly TargetAddress[],
  fn: (targets: Target[], signal: AbortSignal | undefined) => Promise<T>,
  options: WithTargetOptions = {},
): Promise<T> {
  const specs = addresses.map((address) => targetSpec(address, inputs));
  const scope = options.graceful ? gracefulScope() : undefined;
  const opened = new Map<string, Target>();
  try {
    const targets: Target[] = [];
    for (const spec of specs) {
      const key = describeAddress(spec);
      if (!opened.has(key)) opened.set(key, await openTarget(spec, { tempDir: options.tempDir }));
      targets.push(opened.get(key)!);
    }
    return await fn(targets, scope?.signal);
  } finally {
    for (const target of opened.values()) await target.close();
    scope?.close();
  }
}

/** Opens the target of the target inputs, runs `fn` with it, and closes it however `fn` ends. */
export async function withTarget<T>(
  inputs: TargetInputValues,
  fn: (target: Target, signal: AbortSignal | undefined) => Promise<T>,
  options: WithTargetOptions = {},
): Promise<T> {
  return withTargets(inputs, [inputs.target], ([target], signal) => fn(target!, signal), options);
}
