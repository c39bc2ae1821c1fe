import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Snapshot } from './snapshot.js';

/** The monitor's snapshot file, as the steps read it: what it has seen, and whether it is ready or stopped. */
export function readSnapshot(path: string): Snapshot | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the monitor's snapshot satisfies `done` (it renames a new one into place: a directory event), until
 * `gone()` says it never will, or `timeoutMs`; gives the last snapshot read. A root monitor creates its directory
 * itself: until it is there, its parent is watched. A slow look every 250 ms backs up the file events (which a busy
 * file system may coalesce).
 */
export function waitForSnapshot(
  path: string,
  done: (snapshot: Snapshot) => boolean,
  gone: () => boolean,
  timeoutMs: number,
): Promise<Snapshot | undefined> {
  return new Promise((resolve) => {
    let finished = false;
    const watchers: FSWatcher[] = [];
    const finish = (snapshot: Snapshot | undefined) => {
      if (finished) return;
      finished = true;
      for (const watcher of watchers) watcher.close();
      clearInterval(slow);
      clearTimeout(timer);
      resolve(snapshot);
    };
    let watching = false;
    const check = () => {
      if (!watching) watching = watchDir(dirname(path), check, watchers);
      const snapshot = readSnapshot(path);
      if (snapshot && done(snapshot)) finish(snapshot);
      else if (gone()) finish(readSnapshot(path));
    };
    watching = watchDir(dirname(path), check, watchers);
    if (!watching) watchDir(dirname(dirname(path)), check, watchers);
    const slow = setInterval(check, 250);
    const timer = setTimeout(() => finish(readSnapshot(path)), timeoutMs);
    check();
  });
}

function watchDir(dir: string, onEvent: () => void, watchers: FSWatcher[]): boolean {
  try {
    const watcher = watch(dir, onEvent);
    watcher.on('error', () => undefined);
    watchers.push(watcher);
    return true;
  } catch {
    return false;
  }
}
