import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dhcpServers, interfaces } from './host-facts.js';
import { onPath } from './on-path.js';
import { installScript, REMOVE_SCRIPT, tablesScript } from './tables.js';

/**
 * The first tables (audit: they only make the kernel track and count), installed by the main step's entry right after
 * it launched the monitor, so that `nft`'s run overlaps the load of the action's code instead of following it. They
 * depend on nothing the inputs say (the marker, the interfaces, the DHCP servers), so the action's code takes them
 * over as if it had installed them itself (start.ts), or removes them when it does not use them.
 */
export interface EarlyTables {
  prefix: readonly string[];
  devices: string[];
  dhcpServers: string[];
  /** Whether nft installed them: false where they were there already, or nft failed (the code then does it). */
  installed: Promise<boolean>;
  child: ChildProcess;
}

/**
 * Installs the first tables where none are there yet (`create`: a crashed job's or an earlier phase's are replaced
 * by the action's code, as before), as root or through `sudo -n` (the script in a file of the sentinel's own
 * directory: sudo does not always pass a pipe through). Undefined without `nft` on the PATH.
 */
export function installEarly(prefix: readonly string[], marker: string, dir: string): EarlyTables | undefined {
  if (!onPath('nft')) return undefined;
  const [devices, servers] = [interfaces(), dhcpServers()];
  const script = installScript(tablesScript({ mode: 'audit', marker, devices, dhcpServers: servers }), { marker });
  const file = prefix.length > 0 ? join(dir, 'early-tables.nft') : undefined;
  if (file) writeFileSync(file, script, { mode: 0o600 });
  const [command, ...args] = [...prefix, 'nft', '-f', file ?? '-'];
  const child = spawn(command!, args, { stdio: [file ? 'ignore' : 'pipe', 'ignore', 'ignore'] });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(script);
  const installed = new Promise<boolean>((resolve) => {
    child.on('exit', (code) => resolve(code === 0));
    child.on('error', () => resolve(false));
  });
  if (file) void installed.then(() => rmSync(file, { force: true }));
  return { prefix, devices, dhcpServers: servers, installed, child };
}

/**
 * Removes early tables nothing took over (the inputs were rejected, the step had no privilege for the rest), at the
 * process's exit: synchronously. An `nft` still running then (only when something ended the process early) is killed
 * first; the removal declares the tables before deleting them, so it succeeds whether they were installed or not.
 */
export function removeEarlySync(early: EarlyTables, dir: string): void {
  if (early.child.exitCode === null && early.child.signalCode === null) early.child.kill('SIGKILL');
  else if (early.child.exitCode !== 0) return;
  const file = early.prefix.length > 0 ? join(dir, 'remove-tables.nft') : undefined;
  if (file) writeFileSync(file, REMOVE_SCRIPT, { mode: 0o600 });
  const [command, ...args] = [...early.prefix, 'nft', '-f', file ?? '-'];
  spawnSync(command!, args, {
    input: file ? undefined : REMOVE_SCRIPT,
    stdio: [file ? 'ignore' : 'pipe', 'ignore', 'ignore'],
  });
}
