import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packBundle } from '#core/bundle/pack.js';
import { node24, repoRoot } from '../support/paths.js';
import { startSshd, type Sshd } from '../support/sshd.js';

/**
 * The CLI with secrets: an SSH private key starts with "-----", so `--ssh-key "$KEY"` looks like a flag. It is
 * refused without the key being repeated; `--ssh-key=KEY` and `--ssh-key-file PATH` work. No run prints any line
 * of the key (or of a wrong key), whatever fails.
 */
const RELEASE = '20261123_170405-62584375';
let root: string;
let sshd: Sshd;
let bundle: string;
let sha256: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), `cli-secrets-${process.pid}-`));
  sshd = await startSshd();
  writeFileSync(join(root, 'index.php'), '<?php echo 1;\n');
  const packed = await packBundle({
    dir: root,
    name: 'b',
    exclude: ['out/**', 'out', 'releases-*', 'key', 'run-*'],
    outputDir: join(root, 'out'),
    mtime: new Date('2026-11-23T17:04:05Z'),
  });
  bundle = packed.bundlePath;
  sha256 = packed.sha256;
});
afterAll(async () => {
  await sshd.stop();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function cli(...args: string[]) {
  const runnerTemp = mkdtempSync(join(root, 'run-'));
  return promisify(execFile)(node24, [join(repoRoot, 'dist/cli/index.js'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, RUNNER_TEMP: runnerTemp },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const verify = (releases: string, ...key: string[]) =>
  cli(
    'verify-bundle-sha',
    '--bundle',
    bundle,
    '--expected-sha256',
    sha256,
    '--extract-to',
    releases,
    '--release-name',
    RELEASE,
    '--target',
    sshd.address,
    ...key,
    '--known-hosts',
    sshd.knownHosts,
  );

function expectNoKeyLine(output: string, key: string) {
  for (const line of key.split('\n').filter((text) => text.length > 12)) expect(output).not.toContain(line);
}

describe('deploy-gates verify-bundle-sha over ssh with the key on the command line', () => {
  it('refuses --ssh-key "$KEY" (the key starts with "-----") without printing the key, and says how to pass it', async () => {
    expect(sshd.privateKey.startsWith('-----BEGIN')).toBe(true);
    const releases = join(root, `releases-${++counter}`);
    const result = await verify(releases, '--ssh-key', sshd.privateKey);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--ssh-key needs a value, but the next argument starts with "--"');
    expect(result.stderr).toContain('--ssh-key=VALUE or --ssh-key-file PATH');
    expectNoKeyLine(result.stdout + result.stderr, sshd.privateKey);
  });

  it('takes --ssh-key=KEY and --ssh-key-file PATH, and unpacks on the host; no line of the key is printed', async () => {
    const keyFile = join(root, 'key');
    writeFileSync(keyFile, sshd.privateKey, { mode: 0o600 });
    for (const key of [[`--ssh-key=${sshd.privateKey}`], ['--ssh-key-file', keyFile]]) {
      const releases = join(root, `releases-${++counter}`);
      const result = await verify(releases, ...key);
      expect(result.stdout).toContain('verify-bundle-sha succeeded');
      expect(result.code).toBe(0);
      expect(readFileSync(join(releases, RELEASE, 'index.php'), 'utf8')).toBe('<?php echo 1;\n');
      expectNoKeyLine(result.stdout + result.stderr, sshd.privateKey);
    }
  });

  it('a key the host refuses fails naming the input, printing no line of that key', async () => {
    const wrong = sshd.privateKey.replace(
      /\n([A-Za-z0-9+/]{20})/,
      (_all, run: string) => `\n${[...run].reverse().join('')}`,
    );
    const releases = join(root, `releases-${++counter}`);
    const result = await verify(releases, `--ssh-key=${wrong}`);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/ssh-key/);
    expectNoKeyLine(result.stdout + result.stderr, wrong);
    expect(readdirSync(root).filter((name) => name === `releases-${counter}`)).toEqual([]);
  });

  it('refuses --ssh-key and --ssh-key-file together, and a key file that cannot be read, naming the path only', async () => {
    const both = await verify(join(root, 'x'), `--ssh-key=${sshd.privateKey}`, '--ssh-key-file', join(root, 'key'));
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--ssh-key and --ssh-key-file are both given; pass one');
    const missing = await verify(join(root, 'x'), '--ssh-key-file', join(root, 'missing-key'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--ssh-key-file ${join(root, 'missing-key')} cannot be read (ENOENT)`);
  });
});
