import { readdirSync, readFileSync } from 'node:fs';

/** A process's command line (NUL-separated); '' once it has exited — processes come and go while a test reads /proc. */
export function commandLine(pid: number | string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** The pids of every running process whose command line matches. */
export function processesWhere(matches: (commandLine: string) => boolean): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => matches(commandLine(name)))
    .map(Number);
}

/** The running child of `pid` (any of its threads) that the monitor started as `conntrack -E …`, the event listener. */
export function conntrackListenerOf(pid: number): number | undefined {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) => {
    try {
      return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/);
    } catch {
      return [];
    }
  });
  const listener = children.find((child) => child && commandLine(child).startsWith('conntrack\0-E'));
  return listener ? Number(listener) : undefined;
}

/** Running: there, and not a zombie left for a parent that does not reap. False once it is gone, however it went. */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
