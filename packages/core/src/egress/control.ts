import { existsSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How a step asks the monitor for something when it cannot signal it (the monitor runs as root and the job's user
 * may have no sudo left): an empty file in the sentinel's directory. The monitor only ever looks whether the file
 * exists — it reads nothing a step wrote — and each request can only do what the sentinel does anyway.
 */
export type Request = 'lock' | 'stop';

const fileOf = (dir: string, request: Request) => join(dir, `${request}-request`);

export function sendRequest(dir: string, request: Request): void {
  writeFileSync(fileOf(dir, request), '');
}

/**
 * Calls `on` once per request that appears in `dir` (directory events; `check()`, called on the monitor's own tick,
 * backs them up). Gives that check and a function that stops watching.
 */
export function watchRequests(dir: string, on: (request: Request) => void): { check(): void; close(): void } {
  const told = new Set<Request>();
  const check = () => {
    for (const request of ['lock', 'stop'] as const)
      if (!told.has(request) && existsSync(fileOf(dir, request))) {
        told.add(request);
        on(request);
      }
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(dir, check);
    watcher.on('error', () => undefined);
  } catch {
    // the tick still checks
  }
  check();
  return { check, close: () => watcher?.close() };
}
