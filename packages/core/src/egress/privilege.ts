import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Runs a command with the privilege the sentinel has: directly as root, else through `sudo -n`. */
export interface Privilege {
  /** `[]` as root, `['sudo', '-n']` with passwordless sudo. */
  prefix: readonly string[];
}

export function runCommand(
  privilege: Privilege,
  command: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Through sudo a script goes in a file (0600, removed after): sudo does not always pass a pipe through.
  let script: string | undefined;
  if (input !== undefined && privilege.prefix.length > 0 && args.includes('-')) {
    script = join(mkdtempSync(join(tmpdir(), 'deploy-gates-nft-')), 'script.nft');
    writeFileSync(script, input, { mode: 0o600 });
    args = args.map((arg) => (arg === '-' ? script! : arg));
    input = undefined;
  }
  const [file, ...rest] = [...privilege.prefix, command, ...args];
  return new Promise((resolve) => {
    const child = execFile(file!, rest, { maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error
        ? typeof (error as { code?: unknown }).code === 'number'
          ? (error as { code: number }).code
          : 127
        : 0;
      if (script) rmSync(dirname(script), { recursive: true, force: true });
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function succeeds(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(file, args, { timeout: 10_000 }, (error) => resolve(!error)));
}

/** Root, or passwordless sudo; undefined when neither. */
export async function findPrivilege(): Promise<Privilege | undefined> {
  if (process.getuid?.() === 0) return { prefix: [] };
  return (await succeeds('sudo', ['-n', 'true'])) ? { prefix: ['sudo', '-n'] } : undefined;
}
