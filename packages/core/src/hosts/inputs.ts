import { z } from 'zod';
import { UserError } from '../errors.js';
import { optional, withDefault } from '../inputs/schema.js';
import { LocalTarget } from './local.js';
import { SshTarget } from './ssh.js';
import type { Target } from './target.js';

/** Where a target-facing action acts: this machine, or a host over SSH with a pinned host key. */
export type TargetSpec =
  { kind: 'local' } | { kind: 'ssh'; user: string; host: string; port: number; privateKey: string; knownHosts: string };

export type TargetAddress = { kind: 'local' } | { kind: 'ssh'; user: string; host: string; port: number };

/** Parses `local` or `ssh://user@host[:port]`; undefined when it is neither. */
export function parseTargetAddress(text: string): TargetAddress | undefined {
  if (text === 'local') return { kind: 'local' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (
    url.protocol !== 'ssh:' ||
    !url.username ||
    !url.hostname ||
    url.password ||
    (url.pathname !== '' && url.pathname !== '/')
  )
    return undefined;
  return {
    kind: 'ssh',
    user: decodeURIComponent(url.username),
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 22,
  };
}

/** The target inputs every target-facing action declares, with the same names and defaults in action.yml. */
export const targetInputs = {
  target: withDefault(
    'local',
    z.string().transform((text, ctx) => {
      const address = parseTargetAddress(text.trim());
      if (!address) {
        ctx.addIssue({
          code: 'custom',
          message: `"${text.trim()}" is not a target; use local or ssh://user@host[:port]`,
        });
        return z.NEVER;
      }
      return address;
    }),
  ),
  'ssh-key': optional(),
  'known-hosts': optional(),
};

/** Checks the target inputs together: an ssh target needs a key and a pinned host key. */
export function targetSpec(
  address: TargetAddress,
  privateKey: string | undefined,
  knownHosts: string | undefined,
): TargetSpec {
  if (address.kind === 'local') return address;
  const missing = [!privateKey && 'ssh-key', !knownHosts && 'known-hosts'].filter(Boolean);
  if (missing.length > 0) {
    throw new UserError(
      `Input ${missing.map((name) => `"${name}"`).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required for target ssh://${address.user}@${address.host}:${address.port}: ` +
        'pass the deploy key from a secret and the host key line from `ssh-keyscan -p PORT HOST` (checked once, then stored as a secret or variable)',
    );
  }
  return { ...address, privateKey: privateKey!, knownHosts: knownHosts! };
}

/** Opens the target; the caller must `close()` it (that removes key files written for ssh). */
export async function openTarget(spec: TargetSpec): Promise<Target> {
  if (spec.kind === 'local') return new LocalTarget();
  return SshTarget.open(spec);
}
