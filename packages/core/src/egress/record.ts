import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sendSeal, stateDigest } from './control.js';
import { isMonitorAlive } from './launch.js';
import type { SentinelState } from './sentinel-state.js';
import { readSnapshot, waitForSnapshot } from './snapshot-file.js';

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
export function recordProblem(state: SentinelState, text: string): string | undefined {
  if (process.getuid?.() === 0) return undefined; // root can forge anything; the post step's report is the judge
  const path = state.snapshotPath;
  if (state.privilege?.length) {
    if (!rootOnly(dirname(path)) || !rootOnly(path))
      return `the stop step was pointed at a record that is not the root monitor's (${path} is not root's alone): the sentinel's state in the run's temp directory was replaced`;
    const snapshot = readSnapshot(path);
    if (snapshot?.pid !== state.pid)
      return `the stop step was pointed at another monitor's record (${path}): the sentinel's state in the run's temp directory was replaced`;
    // Everything the verdict depends on (the allow-list, the tables as installed, the mode) is in that file.
    if (snapshot.stateDigest !== stateDigest(text))
      return `the sentinel's state in the run's temp directory is not the one the main step left (its digest differs from the root monitor's record): it was rewritten by a later step`;
    return undefined;
  }
  const running = runningRootRecords();
  return running.length > 0
    ? `the sentinel's state in the run's temp directory names a monitor without root, but a root monitor runs (${running.map(dirname).join(', ')}): the state was replaced`
    : undefined;
}

/**
 * Main, once it wrote the state a stop step reads (a file any step of the job's user can rewrite): the root monitor
 * records its digest, and main waits until it has, so that the first seal is always main's (see control.ts). Only a
 * root monitor's record is out of that user's reach: otherwise there is nothing to seal it in.
 */
export async function sealState(state: SentinelState, text: string): Promise<void> {
  if (!state.privilege?.length) return;
  const digest = stateDigest(text);
  sendSeal(state.dir, digest);
  const sealed = await waitForSnapshot(
    state.snapshotPath,
    (found) => found.stateDigest !== undefined,
    () => !isMonitorAlive(state),
    15_000,
  );
  if (sealed?.stateDigest !== digest)
    throw new Error(
      `egress-sentinel: the monitor did not record the digest of its state (${sealed?.stateDigest ? 'it holds another one' : 'no answer within 15s'}); a stop step could not trust that state`,
    );
}

/**
 * The post step: whether the state a stop step would read (`text`, from the run's temp directory) was rewritten
 * after main sealed it. Another sentinel's state (a later use of the action in the job) is not this one's to judge.
 */
export function stateRewritten(state: SentinelState, sealed: string | undefined, text: string | undefined) {
  if (!state.privilege?.length || text === undefined) return undefined;
  let marker: unknown;
  try {
    marker = (JSON.parse(text) as { marker?: unknown }).marker;
  } catch {
    marker = state.marker; // not even JSON: rewritten
  }
  if (marker !== state.marker || stateDigest(text) === sealed) return undefined;
  return `the sentinel's state in the run's temp directory (read by a stop step) was rewritten by a step after main left it`;
}
