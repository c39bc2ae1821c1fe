import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * How a step asks the monitor for something when it cannot signal it (the monitor runs as root and the job's user
 * may have no sudo left): a file in the sentinel's directory, which every step of the job's user can write.
 * - `lock` (an empty file): take sudo away (disable-sudo); only what the sentinel does anyway.
 * - `checkpoint-<id>` (an empty file; the stop step): read every event so far and record the checkpoint. It changes
 *   nothing the monitor does, so a step that forges one gains nothing.
 * - `seal-<sha256>` (an empty file; main, once): the digest of the state main left for a stop step, which that
 *   step checks the file against (a later step can rewrite the file, not the monitor's record). Only the first
 *   counts: main waits for it to be recorded before any later step runs, so another one is forged (tampering).
 * - `stop`: holds the stop token, an HMAC of the run's stop secret, which only the main step (that gave it to the
 *   monitor on its stdin) and the post step (from the state the runner keeps for it) have. A stop request without
 *   the right token is refused, recorded as tampering, and the monitor watches on.
 * A request that is not a regular file (a directory, a link, a FIFO…) is refused and reported (`forged`): the job's
 * user owns this directory and can put anything there, and nothing it puts there may end the root monitor.
 */
export type Request =
  | { kind: 'lock' }
  | { kind: 'checkpoint'; id: string }
  | { kind: 'seal'; digest: string }
  | { kind: 'stop'; valid: boolean; type?: string }
  | { kind: 'forged'; name: string; type: string };

const fileOf = (dir: string, name: string) => join(dir, `${name}-request`);
const CHECKPOINT = /^checkpoint-([0-9a-f]{32})-request$/;
const SEAL = /^seal-([0-9a-f]{64})-request$/;
/** The longest stop request read (a token is 64 hex characters); more is refused unread. */
const MAX_TOKEN = 128;

/** The token a stop request must carry: bound to this run's secret and its sentinel (the marker). */
export function stopToken(secret: string, marker: string): string {
  return createHmac('sha256', secret).update(`deploy-gates egress-sentinel stop ${marker}`).digest('hex');
}

export function sendLock(dir: string): void {
  writeFileSync(fileOf(dir, 'lock'), '');
}

export function sendCheckpoint(dir: string, id: string): void {
  writeFileSync(fileOf(dir, `checkpoint-${id}`), '');
}

/** The digest a seal request carries: SHA-256 of the state file's exact text. */
export const stateDigest = (text: string) => createHash('sha256').update(text).digest('hex');

export function sendSeal(dir: string, digest: string): void {
  writeFileSync(fileOf(dir, `seal-${digest}`), '');
}

/**
 * Writes the stop request whole (a temporary file renamed into place: the monitor never reads half a token). A
 * directory a step left under the request's name would make the rename fail: it is moved aside, and the rename tried
 * once more (this runs as the job's user, who owns the directory).
 */
export function sendStop(dir: string, token: string): void {
  const temporary = join(dir, `.stop-${process.pid}`);
  writeFileSync(temporary, token, { mode: 0o600 });
  try {
    renameSync(temporary, fileOf(dir, 'stop'));
  } catch {
    renameSync(fileOf(dir, 'stop'), join(dir, `.obstacle-${randomBytes(8).toString('hex')}`));
    renameSync(temporary, fileOf(dir, 'stop'));
  }
}

/**
 * Reads a stop request as root from a directory the job's user owns: never through a symbolic link, never blocking
 * on a FIFO or device, at most MAX_TOKEN bytes of a regular file.
 */
function readRequest(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_TOKEN) return undefined;
    const buffer = Buffer.alloc(MAX_TOKEN);
    return buffer
      .subarray(0, readSync(fd, buffer, 0, MAX_TOKEN, 0))
      .toString('utf8')
      .trim();
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether `found` is the expected token, compared in constant time. */
export function tokenMatches(found: string | undefined, expected: string): boolean {
  if (found === undefined) return false;
  const [a, b] = [Buffer.from(found), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What an entry is, for a report (lstat: a link is named as one, never followed). */
function entryType(path: string): string {
  try {
    const stat = lstatSync(path);
    if (stat.isFile()) return 'a regular file';
    if (stat.isDirectory()) return 'a directory';
    if (stat.isSymbolicLink()) return 'a symbolic link';
    if (stat.isFIFO()) return 'a FIFO';
    if (stat.isSocket()) return 'a socket';
    return 'a device';
  } catch {
    return 'gone';
  }
}

/**
 * Takes a request away under a random name of the monitor's (a rename never follows a link and works on any kind of
 * entry, so nothing can make it throw out), and says what it is; undefined when it is gone already.
 */
function take(dir: string, name: string): { path: string; type: string } | undefined {
  const path = join(dir, `.taken-${randomBytes(8).toString('hex')}`);
  try {
    renameSync(join(dir, name), path);
  } catch {
    return undefined;
  }
  return { path, type: entryType(path) };
}

/** Removes a taken request: a file or an empty directory; anything else stays (under its new name), unread. */
function discard(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    try {
      rmdirSync(path);
    } catch {
      // a directory with something in it: left where it is, harmless under a name no request has
    }
  }
}

/** One request entry: taken away, judged by its kind, removed; a request that is not a regular file is `forged`. */
function judgeEntry(dir: string, name: string, expectedToken: string): Request | undefined {
  const id = CHECKPOINT.exec(name)?.[1];
  const digest = SEAL.exec(name)?.[1];
  if (id === undefined && digest === undefined && name !== 'stop-request') return undefined;
  const taken = take(dir, name);
  if (!taken) return undefined;
  try {
    if (name === 'stop-request') {
      const type = taken.type === 'a regular file' ? {} : { type: taken.type };
      return { kind: 'stop', valid: tokenMatches(readRequest(taken.path), expectedToken), ...type };
    }
    if (taken.type !== 'a regular file') return { kind: 'forged', name, type: taken.type };
    return id !== undefined ? { kind: 'checkpoint', id } : { kind: 'seal', digest: digest! };
  } finally {
    discard(taken.path);
  }
}

/**
 * Calls `on` for each request that appears in `dir` (directory events; `check()`, called on the monitor's own tick,
 * backs them up): `lock` once, each checkpoint and seal once, each stop request (removed once judged, so that the
 * next one is judged too). Gives that check and a function that stops watching. Nothing in `dir` can make the check
 * throw: what goes wrong is given to `onError`, and the monitor watches on.
 */
export function watchRequests(
  dir: string,
  expectedToken: string,
  on: (request: Request) => void,
  onError: (error: unknown) => void = () => undefined,
): { check(): void; close(): void } {
  let locked = false;
  const look = () => {
    if (!locked && existsSync(fileOf(dir, 'lock'))) {
      locked = true;
      on({ kind: 'lock' });
    }
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    // The stop request last: the checkpoints and seals sent before it are answered first.
    names.sort((a, b) => Number(a === 'stop-request') - Number(b === 'stop-request'));
    for (const name of names) {
      const request = judgeEntry(dir, name, expectedToken);
      if (request) on(request);
    }
  };
  const check = () => {
    try {
      look();
    } catch (error) {
      onError(error);
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
