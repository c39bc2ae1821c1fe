import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SentinelState } from './sentinel-state.js';
import { readSnapshot } from './snapshot-file.js';

/** Where a root monitor keeps its record: `/run/deploy-gates-egress-<marker>/` (see start.ts). */
const ROOT_RECORDS = '/run';
const RECORD_PREFIX = 'deploy-gates-egress-';

/** Owned by root and writable by nobody else: a step of the job's user (without sudo) cannot have written it. */
function rootOnly(path: string): boolean {
  try {
    const stat = statSync(path);
    return stat.uid === 0 && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The records of root monitors that still run on this machine (their snapshots say so, their pid is alive). */
function runningRootRecords(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(ROOT_RECORDS).filter((name) => name.startsWith(RECORD_PREFIX));
  } catch {
    return [];
  }
  return names
    .map((name) => join(ROOT_RECORDS, name, 'snapshot.json'))
    .filter((path) => rootOnly(dirname(path)) && rootOnly(path))
    .filter((path) => {
      const snapshot = readSnapshot(path);
      return snapshot !== undefined && !snapshot.stopped && processExists(snapshot.pid);
    });
}

function processExists(pid: number): boolean {
  try {
    statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stop step reads the sentinel's state from the run's temp directory, which any step of the job's user can
 * rewrite (it has no other way to find the monitor: steps do not share saved state). When that step is not root,
 * the record it is pointed at must be one no step of that user can have forged: a root monitor's record (owned by
 * root, in a directory only root writes, naming the same pid) — and a state that claims a monitor without root is
 * believed only while no root monitor runs on the machine. Gives the problem, or undefined.
 */
export function recordProblem(state: SentinelState): string | undefined {
  if (process.getuid?.() === 0) return undefined; // root can forge anything; the post step's report is the judge
  const path = state.snapshotPath;
  if (state.privilege?.length) {
    if (!rootOnly(dirname(path)) || !rootOnly(path))
      return `the stop step was pointed at a record that is not the root monitor's (${path} is not root's alone): the sentinel's state in the run's temp directory was replaced`;
    if (readSnapshot(path)?.pid !== state.pid)
      return `the stop step was pointed at another monitor's record (${path}): the sentinel's state in the run's temp directory was replaced`;
    return undefined;
  }
  const running = runningRootRecords();
  return running.length > 0
    ? `the sentinel's state in the run's temp directory names a monitor without root, but a root monitor runs (${running.map(dirname).join(', ')}): the state was replaced`
    : undefined;
}
