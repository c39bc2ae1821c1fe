import type { Target } from './target.js';

/**
 * Where files and commands live, as an address (`local`, `ssh://user@host[:port]`) and, for ssh, with the credentials
 * that open it. Action-kit's `withTarget` reads these from the target inputs.
 */

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

/**
 * Opens the target; the caller must `close()` it (that removes key files written for ssh, which go to a private
 * directory under `tempDir`, the runner's temporary directory).
 */
export async function openTarget(spec: TargetSpec, { tempDir }: { tempDir?: string } = {}): Promise<Target> {
  // Loaded here, on first use: reading and checking an action's inputs (parseTargetAddress) needs neither.
  if (spec.kind === 'local') return new (await import('./local.js')).LocalTarget();
  return (await import('./ssh.js')).SshTarget.open(spec, tempDir);
}

/** `local` or `ssh://user@host:port`, as a target's description says it; safe to log. */
export function describeAddress(address: TargetAddress): string {
  return address.kind === 'local' ? 'local' : `ssh://${address.user}@${address.host}:${address.port}`;
}
