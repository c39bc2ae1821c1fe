import { readFileSync } from 'node:fs';

/**
 * `scope: job`: which processes are the job's. A connection is left out of the violations only when the kernel
 * names its process (its socket found in /proc) and that process is provably not the job's: not a descendant of the
 * runner's process that started the main step, and not running as the job's user (when that user is not root — a
 * job's process that daemonized itself left the tree, but not its user). A connection whose process is not known is
 * counted. A job running as root can leave the tree (and, as root, its cgroup): for it the scope is a convenience.
 */
export interface JobScope {
  /** The main step's parent: the runner (Runner.Worker), or the CLI. */
  rootPid: number;
  /** The job's user; 0 (root) does not count as a mark of the job. */
  uid: number;
  /** The runner's cgroup (v2), when it has one of its own: a process of the job stays in it even when it daemonizes. */
  cgroup?: string;
}

/** A process's cgroup (v2 path), or undefined when it is the root one (every process is in it) or unknown. */
export function cgroupOf(pid: number | 'self'): string | undefined {
  try {
    const path = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1]?.trim();
    return path && path !== '/' ? path : undefined;
  } catch {
    return undefined;
  }
}

function statusField(pid: number, field: 'PPid' | 'Uid'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process is provably outside the job (false when it cannot be told: it is then counted). */
export function isOutsideJob(scope: JobScope, pid: number): boolean {
  const uid = statusField(pid, 'Uid');
  if (uid === undefined) return false;
  if (scope.uid !== 0 && uid === scope.uid) return false;
  if (scope.cgroup !== undefined && cgroupOf(pid) === scope.cgroup) return false;
  for (let current: number | undefined = pid, depth = 0; current !== undefined && current > 1 && depth < 64; depth++) {
    if (current === scope.rootPid) return false;
    current = statusField(current, 'PPid');
    if (current === undefined) return false;
  }
  return true;
}
