import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '#core/errors.js';
import { withTarget } from '#action-kit/target.js';
import { parseTargetAddress } from '#core/hosts/index.js';
import { SshTarget } from '#core/hosts/ssh.js';
import { shellQuote, type Target } from '#core/hosts/target.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { targetKinds } from '../support/targets.js';

const NASTY = [
  'with space',
  "it's",
  'dollar $(touch PWNED) `touch PWNED2` $HOME',
  'new\nline',
  '-dash',
  '*glob?',
  'semi;colon&amp|pipe',
  '"dq"',
  'ümlaut',
];

describe.each(targetKinds)('$name target', (kind) => {
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    target = await kind.setup();
    dir = await mkdtemp(join(tmpdir(), 'dg-target-'));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a script and returns stdout, stderr and the exit code', async () => {
    const result = await target.run('echo out; echo err >&2; exit 3');
    expect(result).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect((await target.run('true')).exitCode).toBe(0);
  });

  it('runs in the given working directory', async () => {
    expect((await target.run('pwd -P', { cwd: dir })).stdout.trim()).toBe(dir);
  });

  it('feeds stdin to the script', async () => {
    const result = await target.run('cat; printf "|%s" "$(wc -c | tr -d " ")"', {
      stdin: 'secret value\nsecond line\n',
    });
    expect(result.stdout.startsWith('secret value\nsecond line\n')).toBe(true);
  });

  it('quotes nasty paths and arguments so they reach the shell as single words', async () => {
    for (const name of NASTY) {
      const path = join(dir, name);
      const result = await target.run(
        `mkdir -p -- ${shellQuote(path)} && printf %s ${shellQuote(name)} > ${shellQuote(join(path, 'f'))} && cat ${shellQuote(join(path, 'f'))}`,
        {
          cwd: path.startsWith('/') ? dir : undefined,
        },
      );
      expect({ name, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ name, exitCode: 0, stderr: '' });
      expect(result.stdout).toBe(name);
      expect(await readFile(join(path, 'f'), 'utf8')).toBe(name);
      // The same path as working directory.
      expect((await target.run('pwd -P', { cwd: path })).stdout).toBe(`${path}\n`);
    }
    expect(existsSync(join(dir, 'PWNED')) || existsSync(join(dir, 'PWNED2'))).toBe(false);
    expect(existsSync(join(process.env.HOME ?? '/root', 'PWNED'))).toBe(false);
  });

  it('kills a command that runs past its timeout', async () => {
    const pidFile = join(dir, 'sleeper.pid');
    const result = await target.run(`echo $$ > ${shellQuote(pidFile)}; exec sleep 30`, { timeoutMs: 1000 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).not.toBe(0);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    // The process must be gone (not merely the client): wait for it to be reaped, up to 10 s.
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        process.kill(pid, 0);
        const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)])
          .toString()
          .trim();
        alive = state !== '' && !state.startsWith('Z');
      } catch {
        alive = false;
      }
      if (alive) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(alive).toBe(false);
  });
});

describe('ssh target', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
  });
  const spec = (overrides: Partial<{ privateKey: string; knownHosts: string; port: number }> = {}) => ({
    user: sshd.user,
    host: '127.0.0.1',
    port: sshd.port,
    privateKey: sshd.privateKey,
    knownHosts: sshd.knownHosts,
    ...overrides,
  });

  it('opens through the target inputs (ssh://user@host:port + ssh-key + known-hosts), closes however the work ends', async () => {
    const inputs = {
      target: parseTargetAddress(sshd.address)!,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
    };
    const tempDir = await mkdtemp(join(tmpdir(), 'dg-with-target-'));
    let keyFile = '';
    try {
      await expect(
        withTarget(
          inputs,
          async (target) => {
            expect(target.description).toBe(`ssh://${sshd.user}@127.0.0.1:${sshd.port}`);
            expect((await target.run('echo "$SSH_CONNECTION"')).stdout).toMatch(
              new RegExp(` 127\\.0\\.0\\.1 ${sshd.port}\\n$`),
            );
            keyFile = (target as SshTarget).keyFile;
            expect(dirname(dirname(keyFile))).toBe(tempDir);
            throw new Error('the work failed');
          },
          { tempDir },
        ),
      ).rejects.toThrow('the work failed');
      expect(keyFile).not.toBe('');
      expect(existsSync(keyFile)).toBe(false);
    } finally {
      await rm(tempDir, { recursive: true, force: true });
    }
  });

  it('refuses an ssh target without its key or host key before connecting, naming both inputs', async () => {
    const target = parseTargetAddress(sshd.address)!;
    await expect(withTarget({ target }, async () => 'ran')).rejects.toThrow(
      `Input "ssh-key" and "known-hosts" are required for target ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    );
    await expect(withTarget({ target, 'ssh-key': sshd.privateKey }, async () => 'ran')).rejects.toThrow(
      /^Input "known-hosts" is required for target/,
    );
  });

  it('writes the key with mode 0600 in a private temp dir under RUNNER_TEMP and removes it on close', async () => {
    const runnerTemp = await mkdtemp(join(tmpdir(), 'dg-runner-temp-'));
    const saved = process.env.RUNNER_TEMP;
    process.env.RUNNER_TEMP = runnerTemp;
    try {
      const target = await SshTarget.open(spec());
      expect(dirname(dirname(target.keyFile))).toBe(runnerTemp);
      expect(statSync(target.keyFile).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(target.keyFile)).mode & 0o777).toBe(0o700);
      expect(await readFile(target.keyFile, 'utf8')).toBe(sshd.privateKey);
      await target.close();
      expect(existsSync(target.keyFile)).toBe(false);
      expect(existsSync(dirname(target.keyFile))).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.RUNNER_TEMP;
      else process.env.RUNNER_TEMP = saved;
      await rm(runnerTemp, { recursive: true, force: true });
    }
  });

  it('shares one master connection and stops it on close', async () => {
    const target = await SshTarget.open(spec());
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => target.run(`echo ${i}`)));
    expect(results.map((result) => result.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    const socket = join(dirname(target.keyFile), 'cm');
    expect(existsSync(socket)).toBe(true);
    await target.close();
    expect(existsSync(socket)).toBe(false);
    const masters = execFileSync('sh', [
      '-c',
      `ps -eo args | grep -F -- ${shellQuote(socket)} | grep -v grep || true`,
    ]).toString();
    expect(masters).toBe('');
  });

  it('accepts known-hosts as runners get it: ssh-keyscan output, hashed, several lines with comments, CRLF, bare host; and a key with CRLF or no final newline', async () => {
    const scan = (...args: string[]) =>
      execFileSync('ssh-keyscan', [...args, '-p', String(sshd.port), '127.0.0.1'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString();
    const [, type, key] = sshd.knownHosts.split(' ');
    const otherKey = sshd.wrongKnownHosts.split(' ').slice(1).join(' ');
    const variants: Partial<{ privateKey: string; knownHosts: string }>[] = [
      { knownHosts: scan() },
      { knownHosts: scan('-H') },
      { knownHosts: `# pinned ${new Date(0).toISOString()}\n\n[10.9.8.7]:22 ${otherKey}\n${sshd.knownHosts}\n# end\n` },
      { knownHosts: `${sshd.knownHosts}\r\n`, privateKey: sshd.privateKey.replace(/\n/g, '\r\n') },
      { knownHosts: `127.0.0.1 ${type} ${key}`, privateKey: sshd.privateKey.trimEnd() },
    ];
    for (const variant of variants) {
      const target = await SshTarget.open(spec(variant));
      try {
        expect((await target.run('echo ok')).stdout).toBe('ok\n');
      } finally {
        await target.close();
      }
    }
  });

  it('names a bare-host known-hosts line with the wrong key as a mismatch, not as a missing entry', async () => {
    const error = (await SshTarget.open(
      spec({ knownHosts: `127.0.0.1 ${sshd.wrongKnownHosts.split(' ').slice(1).join(' ')}` }),
    ).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain(
      `the known-hosts line for 127.0.0.1 (written without the port) does not match the server's host key on port ${sshd.port}`,
    );
    expect(error.message).toContain(`which names the host as [127.0.0.1]:${sshd.port}`);
    // The same line with the host name hashed (ssh-keygen -H), as `ssh-keyscan -H HOST` without -p writes it.
    const scratch = await mkdtemp(join(tmpdir(), 'dg-hashed-'));
    try {
      await writeFile(
        join(scratch, 'known_hosts'),
        `127.0.0.1 ${sshd.wrongKnownHosts.split(' ').slice(1).join(' ')}\n`,
      );
      execFileSync('ssh-keygen', ['-H', '-f', join(scratch, 'known_hosts')], { stdio: 'ignore' });
      const line = (await readFile(join(scratch, 'known_hosts'), 'utf8')).trim();
      expect(line).toMatch(/^\|1\|/);
      const hashed = (await SshTarget.open(spec({ knownHosts: line })).catch((e: unknown) => e)) as Error;
      expect(hashed).toBeInstanceOf(UserError);
      expect(hashed.message).toContain('the known-hosts line for 127.0.0.1 (written without the port) does not match');
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('rejects a host key that does not match the pinned one, naming the host and the fix', async () => {
    const error = (await SshTarget.open(spec({ knownHosts: sshd.wrongKnownHosts })).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain(`Cannot connect to ssh://${sshd.user}@127.0.0.1:${sshd.port}`);
    expect(error.message).toContain(`the known-hosts entry for [127.0.0.1]:${sshd.port} does not match`);
    expect(error.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1`);
    expect(error.message).not.toContain(sshd.privateKey.split('\n')[1]!);
  });

  it('rejects a known-hosts line for another host (no StrictHostKeyChecking=no fallback)', async () => {
    const line = sshd.knownHosts.replace(`[127.0.0.1]:${sshd.port}`, `[127.0.0.2]:${sshd.port}`);
    const opened = await SshTarget.open(spec({ knownHosts: line })).catch((e: unknown) => e);
    if (opened instanceof SshTarget) await opened.close();
    expect(opened).toBeInstanceOf(UserError);
    expect((opened as Error).message).toContain(`has no key for [127.0.0.1]:${sshd.port}`);
  });

  it('names a failed login and never shows the key', async () => {
    const other = await mkdtemp(join(tmpdir(), 'dg-otherkey-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(other, 'id')]);
      const wrongKey = await readFile(join(other, 'id'), 'utf8');
      const error = (await SshTarget.open(spec({ privateKey: wrongKey })).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toContain(`authentication as "${sshd.user}" failed`);
      for (const line of wrongKey.split('\n').filter((l) => l.length > 20)) expect(error.message).not.toContain(line);
      const garbage = (await SshTarget.open(spec({ privateKey: 'not a key at all, but secret-ish text' })).catch(
        (e: unknown) => e,
      )) as Error;
      expect(garbage).toBeInstanceOf(UserError);
      expect(garbage.message).not.toContain('secret-ish');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('names a port where nothing listens', async () => {
    const probe = await startSshd();
    const port = probe.port;
    await probe.stop();
    const error = (await SshTarget.open(spec({ port })).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain(`nothing accepts connections on 127.0.0.1 port ${port}`);
  });

  it('leaves no key files behind when opening fails', async () => {
    const runnerTemp = await mkdtemp(join(tmpdir(), 'dg-runner-temp-'));
    const saved = process.env.RUNNER_TEMP;
    process.env.RUNNER_TEMP = runnerTemp;
    try {
      await expect(SshTarget.open(spec({ knownHosts: sshd.wrongKnownHosts }))).rejects.toThrow(UserError);
      expect(execFileSync('ls', ['-A', runnerTemp]).toString()).toBe('');
    } finally {
      if (saved === undefined) delete process.env.RUNNER_TEMP;
      else process.env.RUNNER_TEMP = saved;
      await rm(runnerTemp, { recursive: true, force: true });
    }
  });
});
