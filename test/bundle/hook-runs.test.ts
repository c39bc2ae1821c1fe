import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Target } from '#core/hosts/target.js';
import { targetKinds } from '../support/targets.js';

/**
 * How a hook runs on a target (Target.run with a timeout): its life ends with its shell — background children that
 * hold its output open are not waited for beyond a short grace — and at the timeout its whole process group is
 * killed (on the host too), and it counts as failed. Output kept in memory is bounded to a tail.
 */
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline;) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !alive(pid);
}

describe.each(targetKinds)('hooks on the $name target', (kind) => {
  let target: Target;
  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(() => kind.teardown());

  it.each([
    ['nohup … &', 'nohup sleep 61 & echo "$!"; echo started'],
    ['setsid … &', 'setsid sleep 62 & echo "$!"; echo started'],
  ])('a hook leaving a daemon (%s) ends when its shell ends, with its exit code and output', async (_name, hook) => {
    const result = await target.run(hook, { timeoutMs: 30_000, outputTailBytes: 65536 });
    const [pid, said] = result.stdout.trim().split('\n');
    started.push(Number(pid));
    expect(said).toBe('started');
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.durationMs).toBeLessThan(10_000);
    expect(result.stderr).not.toMatch(/dg-exit/);
    // The daemon is the user's: it keeps running.
    expect(alive(Number(pid))).toBe(true);
  });

  it('a failing hook that leaves a daemon still reports its own exit code', async () => {
    const result = await target.run('nohup sleep 65 & echo "$!"; echo oops >&2; exit 7', { timeoutMs: 30_000 });
    started.push(Number(result.stdout.trim()));
    expect(result).toMatchObject({ exitCode: 7, timedOut: false, stderr: 'oops\n' });
  });

  it('a hook that never ends is killed at the timeout with its whole process group, and fails', async () => {
    const result = await target.run('sleep 66 & echo "$!"; wait', { timeoutMs: 1500 });
    const pid = Number(result.stdout.trim().split('\n')[0]);
    expect(pid).toBeGreaterThan(0);
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).not.toBe(0);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(await gone(pid, 3000)).toBe(true);
  });

  it("keeps only the tail of a hook's output in memory", async () => {
    const result = await target.run('yes | head -c 20000000; echo end', { timeoutMs: 60_000, outputTailBytes: 65536 });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.length).toBeLessThanOrEqual(65536);
    expect(result.stdout.endsWith('y\nend\n')).toBe(true);
  });
});
