import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
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
 * - `stop`: holds the stop token, an HMAC of the run's stop secret, which only the main step (that gave it to the
 *   monitor on its stdin) and the post step (from the state the runner keeps for it) have. A stop request without
 *   the right token is refused, recorded as tampering, and the monitor watches on.
 */
export type Request = { kind: 'lock' } | { kind: 'checkpoint'; id: string } | { kind: 'stop'; valid: boolean };

const fileOf = (dir: string, name: string) => join(dir, `${name}-request`);
const CHECKPOINT = /^checkpoint-([0-9a-f]{32})-request$/;
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

/** Writes the stop request whole (a temporary file renamed into place: the monitor never reads half a token). */
export function sendStop(dir: string, token: string): void {
  const temporary = join(dir, `.stop-${process.pid}`);
  writeFileSync(temporary, token, { mode: 0o600 });
  renameSync(temporary, fileOf(dir, 'stop'));
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

/**
 * Calls `on` for each request that appears in `dir` (directory events; `check()`, called on the monitor's own tick,
 * backs them up): `lock` once, each checkpoint once, each stop request (removed once judged, so that the next one
 * is judged too). Gives that check and a function that stops watching.
 */
export function watchRequests(
  dir: string,
  expectedToken: string,
  on: (request: Request) => void,
): { check(): void; close(): void } {
  let locked = false;
  const check = () => {
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
    for (const name of names) {
      const id = CHECKPOINT.exec(name)?.[1];
      if (id === undefined) continue;
      rmSync(join(dir, name), { force: true });
      on({ kind: 'checkpoint', id });
    }
    if (!names.includes('stop-request')) return;
    const path = fileOf(dir, 'stop');
    const valid = tokenMatches(readRequest(path), expectedToken);
    rmSync(path, { force: true });
    on({ kind: 'stop', valid });
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
