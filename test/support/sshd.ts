import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** A real OpenSSH server on loopback, with its own host key and one client key pair, all made for this test run. */
export interface Sshd {
  /** `ssh://user@127.0.0.1:PORT` */
  address: string;
  user: string;
  port: number;
  /** The client's private key (OpenSSH format). */
  privateKey: string;
  /** The pinned host key line: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`. */
  knownHosts: string;
  /** A valid host key line for the same address that is NOT this server's key (for mismatch tests). */
  wrongKnownHosts: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once the server sends its SSH banner (it is then accepting connections). */
async function waitForBanner(port: number, sshd: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited with ${sshd.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.setTimeout(1000);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not start on port ${port}: ${log()}`);
}

const keygen = (file: string, comment: string) =>
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);

/** Starts /usr/sbin/sshd (Debian's openssh-server) as the current user (root in CI) on 127.0.0.1 and a free port. */
export async function startSshd(): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'dg-sshd-'));
  keygen(join(dir, 'host_ed25519'), 'deploy-gates test host');
  keygen(join(dir, 'other_host_ed25519'), 'some other host');
  keygen(join(dir, 'client_ed25519'), 'deploy-gates test client');
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  await writeFile(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'MaxSessions 200',
      'MaxStartups 200:30:400',
      'LogLevel ERROR',
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      // bash, when sshd starts it (SHLVL < 2), sources ~/.bashrc even for `bash -c`; on a dev machine that
      // can take 200 ms+ per command. SHLVL=1 skips it, as on a host whose deploy user has a plain rc file.
      'SetEnv SHLVL=1',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  sshd.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForBanner(port, sshd, () => stderr);

  const hostLine = (file: string) =>
    readFile(file, 'utf8').then((text) => `[127.0.0.1]:${port} ${text.trim().split(' ').slice(0, 2).join(' ')}`);
  return {
    address: `ssh://${user}@127.0.0.1:${port}`,
    user,
    port,
    privateKey: await readFile(join(dir, 'client_ed25519'), 'utf8'),
    knownHosts: await hostLine(join(dir, 'host_ed25519.pub')),
    wrongKnownHosts: await hostLine(join(dir, 'other_host_ed25519.pub')),
    stop: async () => {
      if (sshd.exitCode === null) {
        const exited = new Promise((resolve) => sshd.once('exit', resolve));
        sshd.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
