import { constants } from 'node:os';

/**
 * A cancelled job: the runner sends SIGINT, then SIGTERM about 7.5 s later, then SIGKILL. This module owns the
 * process's SIGINT/SIGTERM/SIGHUP handlers and turns a signal into one of two things:
 *
 * - no graceful scope open (most of the time): run the synchronous cleanups (ssh key files, master connections)
 *   and exit with 128 + signal number at once;
 * - a graceful scope open (release-switch while it holds the target): abort the scope's signal so the work can undo
 *   what it changed (stop a remote hook, roll back, release the lock) and return; the process then ends with
 *   128 + signal number. A second signal, or GRACE_MS without the scope closing, falls back to the first case.
 */
const cleanups = new Map<symbol, () => void>();
const scopes = new Set<AbortController>();
let installed = false;
let received: NodeJS.Signals | undefined;

/** How long a graceful scope may take after the first signal (the runner's SIGTERM follows SIGINT after 7.5 s). */
export const GRACE_MS = 6500;

const exitCodeOf = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 15);

function runCleanups(): void {
  for (const [key, cleanup] of [...cleanups]) {
    cleanups.delete(key);
    try {
      cleanup();
    } catch {
      // every cleanup gets its turn
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    runCleanups();
    if (received) process.exitCode = exitCodeOf(received);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const first = received === undefined;
      received ??= signal;
      if (first && scopes.size > 0) {
        for (const scope of scopes) scope.abort(new Error(`cancelled (${signal})`));
        setTimeout(() => {
          runCleanups();
          process.exit(exitCodeOf(received ?? signal));
        }, GRACE_MS).unref();
        return;
      }
      runCleanups();
      process.exit(exitCodeOf(received));
    });
  }
}

/** Registers a synchronous, bounded, never-throwing cleanup run on exit or on a signal; returns its removal. */
export function onProcessEnd(cleanup: () => void): () => void {
  install();
  const key = Symbol('cleanup');
  cleanups.set(key, cleanup);
  return () => void cleanups.delete(key);
}

/**
 * Opens a graceful scope: until `close()`, a SIGINT/SIGTERM/SIGHUP aborts `signal` instead of ending the process,
 * and the process exits with 128 + signal number once the work returns.
 */
export function gracefulScope(): { signal: AbortSignal; close(): void } {
  install();
  const controller = new AbortController();
  if (received) controller.abort(new Error(`cancelled (${received})`));
  scopes.add(controller);
  return { signal: controller.signal, close: () => void scopes.delete(controller) };
}

/** The signal that cancelled this process, if any. */
export function cancelledBy(): NodeJS.Signals | undefined {
  return received;
}
