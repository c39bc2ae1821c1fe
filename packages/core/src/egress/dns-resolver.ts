import { lstatSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwarderResolvConf } from './dns-policy.js';
import { runCommand, type Privilege } from './privilege.js';
import { readText } from './host-facts.js';

export const RESOLV_CONF = '/etc/resolv.conf';

/**
 * How the job's resolver configuration was before the sentinel pointed it at its forwarder, kept in the step state
 * the runner holds for the post step (not in a file a later step could rewrite).
 */
export interface ResolverBefore {
  /** A symlink (systemd-resolved's stub-resolv.conf) is put back as that symlink; a file gets its content back. */
  symlink?: string;
  content: string;
  /** What the sentinel wrote: a resolv.conf found otherwise at the stop was changed by a step. */
  written: string;
}

/** Writes `content` to a fresh file only root and this process can read, then runs `command … file …` with it. */
async function withFile(privilege: Privilege, content: string, args: (file: string) => string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-gates-resolv-'));
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, content, { mode: 0o644 });
  try {
    const [command, ...rest] = args(file);
    return await runCommand(privilege, command!, rest);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Points /etc/resolv.conf at the forwarder: a regular file is rewritten in place (`cp` keeps the inode, so a bind
 * mount — `ip netns exec`, a container's — stays intact); a symlink is replaced by a file.
 */
export async function pointResolverAt(privilege: Privilege, forwarder: string): Promise<ResolverBefore> {
  const symlink = lstatSync(RESOLV_CONF, { throwIfNoEntry: false })?.isSymbolicLink()
    ? readlinkSync(RESOLV_CONF)
    : undefined;
  const content = readText(RESOLV_CONF);
  const written = forwarderResolvConf(content, forwarder);
  const result = await withFile(privilege, written, (file) =>
    symlink ? ['cp', '--remove-destination', file, RESOLV_CONF] : ['cp', file, RESOLV_CONF],
  );
  if (result.code !== 0)
    throw new Error(`could not point ${RESOLV_CONF} at the DNS forwarder: ${result.stderr.trim() || result.code}`);
  return { ...(symlink ? { symlink } : {}), content, written };
}

/** Puts the resolver configuration back; gives a problem to report, or undefined. */
export async function restoreResolver(privilege: Privilege, before: ResolverBefore): Promise<string | undefined> {
  const result = before.symlink
    ? await runCommand(privilege, 'ln', ['-sfn', before.symlink, RESOLV_CONF])
    : await withFile(privilege, before.content, (file) => ['cp', file, RESOLV_CONF]);
  return result.code === 0
    ? undefined
    : `${RESOLV_CONF} could not be restored: ${result.stderr.trim() || `exit code ${result.code}`}`;
}
