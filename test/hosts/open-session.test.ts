import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SshTarget } from '#core/hosts/ssh.js';
import { shellQuote } from '#core/hosts/target.js';
import { startSshd, type Sshd } from '../support/sshd.js';

/**
 * SshTarget's open session (core/hosts/session.ts): one shell session opened with the login, through which
 * deploy-gates' own scripts (`reuse`) run without a new session each; everything else gets a session of its own.
 */
describe('ssh target: the open session', () => {
  let sshd: Sshd;
  let dir: string;
  let target: SshTarget | undefined;
  beforeAll(async () => {
    sshd = await startSshd();
    dir = await mkdtemp(join(tmpdir(), `dg-session-${process.pid}-`));
  });
  afterEach(async () => {
    await target?.close();
    target = undefined;
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const open = async () =>
    (target = await SshTarget.open({
      user: sshd.user,
      host: '127.0.0.1',
      port: sshd.port,
      privateKey: sshd.privateKey,
      knownHosts: sshd.knownHosts,
    }));
  /** The script's grandparent: the session's loop (its `sh -c` is started from a subshell of it), or a new session's shell. */
  const GRANDPARENT = 'ps -o ppid= -p $PPID';
  const parentOf = async (t: SshTarget, reuse: boolean) => (await t.run(GRANDPARENT, { reuse })).stdout.trim();

  it('sends the first script asCommand as a session command while the open session readies; later ones use it', async () => {
    const t = await open();
    // sshd lets a session's input flow only once its command started: the first script (the lock's) goes as a command.
    const first = (await t.run(GRANDPARENT, { reuse: true, asCommand: true })).stdout.trim();
    expect(first).toMatch(/^\d+$/);
    // A script that comes while the open session still readies goes in a session of its own (a new shell each time);
    // once it is ready, scripts share its loop.
    let loop = await parentOf(t, true);
    for (let tries = 0; tries < 20 && (await parentOf(t, true)) !== loop; tries++) loop = await parentOf(t, true);
    expect(await parentOf(t, true)).toBe(loop);
    expect(loop).not.toBe(first);
    // Once the open session ran something, asCommand scripts go through it like any other.
    expect((await t.run(GRANDPARENT, { reuse: true, asCommand: true })).stdout.trim()).toBe(loop);
  });

  it("runs deploy-gates' own scripts in one session, each in its own shell; others in a session of their own", async () => {
    const t = await open();
    const loop = await parentOf(t, true);
    expect(loop).toMatch(/^\d+$/);
    expect(await parentOf(t, true)).toBe(loop);
    expect(await parentOf(t, true)).toBe(loop);
    // A script without `reuse` (a user's hook) is never run by the loop.
    expect(await parentOf(t, false)).not.toBe(loop);
    // Each script is its own `sh -c`: $$ differs, and nothing a script sets leaks into the next.
    const [a, b] = [
      await t.run('echo $$; x=1', { reuse: true }),
      await t.run('echo "$$ ${x:-unset}"', { reuse: true }),
    ];
    expect(b.stdout.trim().split(' ')[0]).not.toBe(a.stdout.trim());
    expect(b.stdout.trim().split(' ')[1]).toBe('unset');
  });

  it('answers stdout, stderr and the exit code exactly, whatever the output holds', async () => {
    const t = await open();
    const result = await t.run(
      "printf 'a\\0b\\0\\n'; printf '@@dg-run-x\\n@@dg-begin-x\\n'; echo 'to stderr' >&2; cd \"$1\" 2>/dev/null; exit 42",
      { reuse: true },
    );
    expect(result).toMatchObject({ exitCode: 42, stdout: 'a\0b\0\n@@dg-run-x\n@@dg-begin-x\n', stderr: 'to stderr' });
    const cwd = await t.run('pwd -P', { reuse: true, cwd: dir });
    expect(cwd.stdout.trim()).toBe(dir);
    const missing = await t.run('echo never', { reuse: true, cwd: join(dir, 'missing') });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stdout).toBe('');
    // A large output in many chunks, then the next script still answers on its own.
    const big = await t.run("i=0; while [ $i -lt 2000 ]; do printf '%0100d\\n' $i; i=$((i+1)); done", { reuse: true });
    expect(big.stdout.split('\n')).toHaveLength(2001);
    expect((await t.run('echo next', { reuse: true })).stdout).toBe('next\n');
  });

  it('gives a script without input an empty stdin, never the frames that follow it', async () => {
    const t = await open();
    const [reader, next] = await Promise.all([
      t.run('cat; echo "read done"', { reuse: true }),
      t.run('echo second', { reuse: true }),
    ]);
    expect(reader).toMatchObject({ exitCode: 0, stdout: 'read done\n' });
    expect(next.stdout).toBe('second\n');
  });

  it('never runs input a script left unread: what is written after it ended is dropped, the next script runs alone', async () => {
    const t = await open();
    const planted = join(dir, 'planted');
    const input = new PassThrough();
    const first = await (async () => {
      const running = t.run('IFS= read -r line; echo "got $line"', { reuse: true, stdin: input });
      input.write('one\n');
      return running;
    })();
    expect(first.stdout).toBe('got one\n');
    // A writer that raced the end of its script: these lines reach the session, not a script.
    input.write(`touch ${shellQuote(planted)}\n`);
    input.end(`touch ${shellQuote(planted)}`);
    const next = await t.run('echo clean', { reuse: true });
    expect(next).toMatchObject({ exitCode: 0, stdout: 'clean\n' });
    expect(existsSync(planted)).toBe(false);
  });

  it('runs scripts side by side: one in the session, the others each in a session of their own', async () => {
    const t = await open();
    const loop = await parentOf(t, true);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.run(`sleep 0.2; echo ${i}; ${GRANDPARENT} >&2`, { reuse: true })),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 8 }, (_, i) => String(i)));
    // The first took the free session; the session was busy for the others, which did not wait for it.
    expect(results.filter((r) => r.stderr.trim() === loop)).toHaveLength(1);
  });

  it('on close ends the session and its client: no ssh process, socket or key is left', async () => {
    const t = await open();
    await t.run('true', { reuse: true });
    const keyDir = dirname(t.keyFile);
    await t.close();
    target = undefined;
    expect(existsSync(keyDir)).toBe(false);
    const left = execFileSync('sh', ['-c', `ps -eo args | grep -F -- ${shellQuote(keyDir)} | grep -v grep || true`]);
    expect(left.toString()).toBe('');
    await expect(t.run('true', { reuse: true })).rejects.toThrow('is closed');
  });
});
