import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { launchMonitor, sendStopEarly, type StopTarget } from '#core/egress-launch/index.js';
import { monitorEntry } from './monitor-entry.js';
import { PHASE, ROLE, sentinelTempDir, STATE, TOKEN } from './names.js';

/**
 * The runner starts this file for the main step and the post step. Before the action's code (the envelope, zod,
 * the sentinel) is loaded — about half of a step's time — the process work that takes longest begins: the main
 * step starts the monitor, whose own Node start then overlaps that load; the post step sends the stop request,
 * so that the monitor drains and removes its tables meanwhile. What either began is taken over by the action's code
 * (startSentinel, stopSentinel), which does everything else exactly as when it begins there itself.
 */
function beginEarly(env: NodeJS.ProcessEnv): void {
  const phase = env[`STATE_${PHASE}`] ?? '';
  const input = (name: string) => (env[`INPUT_${name.toUpperCase()}`] ?? '').trim();
  // Main, starting a sentinel (not a `stop: true` step; with an allow-list, without which it fails anyway).
  if (phase === '' && /^(false)?$/i.test(input('stop')) && input('allowed-endpoints') !== '')
    return launchMonitor({ tempDir: sentinelTempDir(env.RUNNER_TEMP || tmpdir()), entryScript: monitorEntry() });
  const [saved, token] = [env[`STATE_${STATE}`], env[`STATE_${TOKEN}`]];
  if (phase !== 'main' || env[`STATE_${ROLE}`] === 'stop' || !saved || !token) return;
  const state = JSON.parse(saved) as StopTarget & { dns?: { before?: unknown }; lockdown?: unknown };
  // The resolver is given back before the monitor stops (its forwarder answers until then): the post step does both.
  if (state.dns?.before !== undefined && state.lockdown === undefined) return;
  sendStopEarly(state, token);
}

function startedDirectly(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Imported instead (@github/local-action imports the entry, then calls `run()`): nothing begins early.
if (startedDirectly()) {
  try {
    beginEarly(process.env);
  } catch {
    // Whatever could not begin here begins in the action's code, which tells what went wrong.
  }
}
const { action, run, startWhenRunDirectly } = await import('./action.js');
// `run` is exported for @github/local-action, which imports this file and then calls it.
export { run };
// The monitor that outlives the main step is a bundle of its own (src/monitor.ts).
await startWhenRunDirectly(action, import.meta.url);
