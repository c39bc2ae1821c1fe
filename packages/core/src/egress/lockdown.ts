import { execFile } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';

/**
 * `disable-sudo` / `disable-containers`: what the root monitor takes away from the job's user once it watches, and
 * gives back when it stops. Nothing of the machine's own configuration is changed or moved: sudo is denied by one
 * drop-in of the sentinel's own, which sudo reads last (its last matching rule wins), and removing that file is the
 * whole restore; a container socket gets mode 0600 root:root and its mode and owner back.
 */
export interface LockdownRequest {
  /** The job's user (name and uid), whose passwordless sudo is taken away. */
  user: string;
  uid: number;
  containers: boolean;
  /** Written into the drop-in: the file removed at the end must be this run's. */
  marker: string;
}

export interface LockedSocket {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/** What the monitor did (in its snapshot), and what it gave back at the end. */
export interface LockdownRecord {
  sudoers?: string;
  sockets: LockedSocket[];
  problems: string[];
  restored: boolean;
}

/** The drop-in's path: `zzzz-` sorts it after the runner's own files (sudo skips names with a dot or ending in `~`). */
export const SUDOERS_DROP_IN = '/etc/sudoers.d/zzzz-deploy-gates-egress';
/** The sockets that start containers as root (Docker, containerd, Podman). */
export const CONTAINER_SOCKETS = ['/var/run/docker.sock', '/run/containerd/containerd.sock', '/run/podman/podman.sock'];

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 10_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}`.trim() }),
    ),
  );
}

const dropInText = (request: LockdownRequest) =>
  `# deploy-gates egress-sentinel ${request.marker}: the job's user has no sudo while the sentinel watches.\n` +
  `# Removed by the sentinel when it stops; a leftover (a crashed job) can be removed by root.\n` +
  `${request.user} ALL=(ALL:ALL) !ALL\n`;

/** Takes sudo (and, asked to, the container sockets) away from the job's user; as root, in the monitor. */
export async function lockDown(request: LockdownRequest): Promise<LockdownRecord> {
  const record: LockdownRecord = { sockets: [], problems: [], restored: false };
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(request.user)) {
    record.problems.push(`the job's user name ${JSON.stringify(request.user)} cannot be written into a sudoers rule`);
    return record;
  }
  const text = dropInText(request);
  const candidate = `${SUDOERS_DROP_IN}.new`; // a name with a dot: sudo does not read it
  writeFileSync(candidate, text, { mode: 0o440 });
  // A file sudo could not parse would break sudo for everyone: it goes in only once visudo accepts it.
  const checked = await run('visudo', ['-c', '-q', '-f', candidate]);
  if (checked.code !== 0) {
    rmSync(candidate, { force: true });
    record.problems.push(`visudo refused the sentinel's sudoers drop-in: ${checked.output}`);
    return record;
  }
  renameSync(candidate, SUDOERS_DROP_IN);
  record.sudoers = SUDOERS_DROP_IN;
  if (request.containers)
    for (const path of CONTAINER_SOCKETS) {
      if (!existsSync(path)) continue;
      const { mode, uid, gid } = statSync(path);
      record.sockets.push({ path, mode: mode & 0o7777, uid, gid });
      chownSync(path, 0, 0);
      chmodSync(path, 0o600);
    }
  return record;
}

/** Gives back what lockDown took: removes the drop-in if it is still this run's, and the sockets' mode and owner. */
export function restore(request: LockdownRequest, record: LockdownRecord): void {
  if (record.restored) return;
  record.restored = true;
  if (record.sudoers) {
    let text = '';
    try {
      text = readFileSync(record.sudoers, 'utf8');
    } catch {
      record.problems.push(`the sentinel's sudoers drop-in ${record.sudoers} was already gone at the end`);
    }
    if (text === dropInText(request)) rmSync(record.sudoers, { force: true });
    else if (text) record.problems.push(`${record.sudoers} was changed while the job ran; left in place`);
  }
  for (const socket of record.sockets) {
    try {
      chownSync(socket.path, socket.uid, socket.gid);
      chmodSync(socket.path, socket.mode);
    } catch (error) {
      record.problems.push(`${socket.path} could not be given back: ${(error as Error).message}`);
    }
  }
}

/**
 * Checks, as the job's user (the main step), that the lockdown holds: `sudo -n true` must fail and no container
 * socket may be readable or writable. Gives what still works (empty when nothing does).
 */
export async function stillPrivileged(containers: boolean): Promise<string[]> {
  const found: string[] = [];
  if ((await run('sudo', ['-n', 'true'])).code === 0)
    found.push("passwordless sudo still works (a sudoers rule read after the sentinel's drop-in grants it again)");
  if (containers)
    for (const path of CONTAINER_SOCKETS) {
      try {
        accessSync(path, constants.R_OK | constants.W_OK);
        found.push(`${path} is still open to the job's user (an ACL or owner the sentinel did not change)`);
      } catch {
        // denied, or not there: as wanted
      }
    }
  return found;
}
