import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomHex } from '../random.js';
import { sendStop } from './control.js';
import { installEarly, removeEarlySync, type EarlyTables } from './early-tables.js';

export { onPath } from './on-path.js';

/**
 * The process work that starts and stops the sentinel, kept free of everything but Node's built-ins: the action's
 * entry runs it before the rest of the action's code is loaded (#core/egress-launch), so that the monitor's own
 * Node start (main step) and its drain and rule removal (post step) overlap that load instead of following it.
 */

/** The argument that starts the monitor's bundle (dist/egress-sentinel/monitor.js) as the monitor. */
export const MONITOR_ARGUMENT = '--deploy-gates-egress-monitor';

/**
 * Starts the monitor detached, in a session of its own: as root through `sudo -n setsid -f` when the step has
 * sudo (the job's user cannot stop or signal it), else directly. Its stdin is a pipe only this step holds, which
 * carries the stop secret (never an argument: the process list is public); it begins once its config is written.
 */
export function spawnMonitor(prefix: readonly string[], entryScript: string, configPath: string, secret: string) {
  const command = [process.execPath, entryScript, MONITOR_ARGUMENT, configPath];
  const viaSudo = prefix.length > 0;
  const [file, ...args] = viaSudo ? [...prefix, 'setsid', '-f', ...command] : command;
  // Its output closed: the runner does not wait for it, and it outlives this step.
  const child = spawn(file!, args, { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(`${secret}\n`);
  child.unref();
  const status = { exited: false, code: null as number | null, viaSudo };
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(Object.assign(status, { exited: true, code }).code));
    child.on('error', () => resolve(Object.assign(status, { exited: true, code: 127 }).code));
  });
  return { child, status, exited };
}

export type Monitor = ReturnType<typeof spawnMonitor>;

/** Whether the monitor runs, and is still ours (a pid can be reused): its command line names this run's config. */
export function isMonitorAlive(state: { pid: number; configPath: string }): boolean {
  if (!state.pid) return false;
  try {
    return readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0').includes(state.configPath);
  } catch {
    return false;
  }
}

/** A monitor the main step's entry started before the action's code loaded, for startSentinel to take over. */
export interface LaunchedMonitor {
  marker: string;
  secret: string;
  /** The sentinel's directory (where the monitor waits for its config), under `tempDir`. */
  dir: string;
  tempDir: string;
  /** `[]` as root; `['sudo', '-n']`: started through sudo, which has yet to show it works (its exit code). */
  prefix: readonly string[];
  monitor: Monitor;
  /** The first tables, being installed meanwhile (see early-tables.ts); undefined without nft. */
  tables?: EarlyTables;
}

let launched: { monitor: LaunchedMonitor; adopted: boolean } | undefined;

/**
 * The main step's entry: starts the monitor at once (as root, or through `sudo -n` as any other user: whether the
 * step has sudo is told by that start's own exit code, so no `sudo -n true` runs first), then the install of the
 * first tables. Not taken over by startSentinel before the process exits (the inputs were rejected, a step that only
 * stops), the tables are removed and so is its directory, and the monitor, which waits for its config there, ends
 * without watching anything.
 */
export function launchMonitor(options: { tempDir: string; entryScript: string }): void {
  const [marker, secret] = [randomHex(8), randomHex(32)];
  const dir = join(options.tempDir, `egress-sentinel-${marker}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const prefix = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const monitor = spawnMonitor(prefix, options.entryScript, join(dir, 'config.json'), secret);
  const tables = installEarly(prefix, marker, dir);
  const entry = { monitor: { marker, secret, dir, tempDir: options.tempDir, prefix, monitor, tables }, adopted: false };
  launched = entry;
  process.once('exit', () => {
    if (entry.adopted) return;
    if (tables) removeEarlySync(tables, dir);
    rmSync(dir, { recursive: true, force: true });
  });
}

/** The monitor launchMonitor started for this temporary directory, taken over once (else undefined). */
export function adoptLaunchedMonitor(tempDir: string): LaunchedMonitor | undefined {
  if (!launched || launched.adopted || launched.monitor.tempDir !== tempDir) return undefined;
  launched.adopted = true;
  return launched.monitor;
}

/** The sentinel's saved state as the post step's entry needs it (the rest is read once the action's code is loaded). */
export interface StopTarget {
  marker: string;
  dir: string;
  pid: number;
  configPath: string;
}

let stopSent: { marker: string; alive: boolean } | undefined;

/**
 * The post step's entry: sends the stop request (the stop token the runner kept for this step, see startSentinel)
 * right away, so that the monitor drains its events and reads and removes its tables while the action's code loads.
 * Whether the monitor was still running then is kept for stopSentinel, which judges it (see takeStopSent).
 */
export function sendStopEarly(state: StopTarget, token: string): void {
  const alive = isMonitorAlive(state);
  if (alive) sendStop(state.dir, token);
  stopSent = { marker: state.marker, alive };
}

/** Whether sendStopEarly already asked this sentinel's monitor to stop, and whether it was running then; once. */
export function takeStopSent(marker: string): { alive: boolean } | undefined {
  const sent = stopSent?.marker === marker ? stopSent : undefined;
  stopSent = undefined;
  return sent;
}
