import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBundle } from '#core/bundle/pack.js';
import { verifyBundle, type VerifyConfig } from '#core/bundle/verify.js';
import { coreContext } from '#core/context.js';
import type { Target } from '#core/hosts/target.js';
import { rawTarGz, sha256sum, writeTree } from '../support/bundles.js';
import { targetKinds } from '../support/targets.js';

const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const NOW = new Date('2026-11-23T17:04:05Z');
const RELEASE = '20261123_170405-62584375';

let root: string;
let packed: Awaited<ReturnType<typeof packBundle>>;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bundle-verify-'));
  const src = join(root, 'src');
  writeTree(src, {
    'public/index.php': '<?php echo 1;\n',
    artisan: '#!/usr/bin/env php\n',
    'config/app.php': '<?php return [];\n',
  });
  packed = await packBundle({
    dir: src,
    name: `deployment-bundle-${SHA}`,
    exclude: [],
    outputDir: join(root, 'out'),
    mtime: NOW,
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
const releasesDir = () => join(root, `releases-${++counter}`);
const config = (overrides: Partial<VerifyConfig>): VerifyConfig => ({
  source: { kind: 'file', path: packed.bundlePath },
  maxSize: 2 ** 31,
  now: NOW,
  ...overrides,
});

describe.each(targetKinds)('on the $name target', (kind) => {
  let target: Target;
  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(() => kind.teardown());

  it("streams a file to a command's stdin (RunOptions.stdinFile), byte for byte", async () => {
    const file = join(root, `stream-${kind.name}.bin`);
    writeFileSync(file, randomBytes(3 * 1024 * 1024 + 17));
    const result = await target.run('sha256sum | cut -d" " -f1', { stdinFile: file });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toBe(sha256sum(file));
    await expect(target.run('cat >/dev/null', { stdinFile: join(root, 'missing.bin') })).rejects.toThrow(/ENOENT/);
  });

  it('verifies against the checksum file beside the bundle and unpacks into <extract-to>/<YYYYMMDD_HHMMSS>-<sha8>', async () => {
    const releases = releasesDir();
    const outcome = await verifyBundle(target, config({ extractTo: releases }), coreContext());
    expect(outcome.failure).toBeUndefined();
    expect(outcome).toMatchObject({
      ok: true,
      sha256: packed.sha256,
      releaseName: RELEASE,
      releaseDir: join(releases, RELEASE),
      files: packed.files,
    });
    expect(outcome.results.map((result) => [result.name, result.status])).toEqual([
      ['Checksum', 'pass'],
      ['Entries', 'pass'],
      ['Unpack', 'pass'],
    ]);
    expect(readdirSync(releases)).toEqual([RELEASE]);
    expect(readFileSync(join(releases, RELEASE, 'public/index.php'), 'utf8')).toBe('<?php echo 1;\n');

    // The same release again: refused, the existing one untouched, no temporary files left.
    writeFileSync(join(releases, RELEASE, 'marker'), 'kept');
    await expect(verifyBundle(target, config({ extractTo: releases }), coreContext())).rejects.toThrow(
      /already exists; a release is never overwritten/,
    );
    expect(readdirSync(releases)).toEqual([RELEASE]);
    expect(readFileSync(join(releases, RELEASE, 'marker'), 'utf8')).toBe('kept');
  });

  it('fails a mismatch with both hashes and unpacks nothing; both sources must agree', async () => {
    const releases = releasesDir();
    const dir = join(root, `mismatch-${kind.name}`);
    mkdirSync(dir);
    const bundle = join(dir, `deployment-bundle-${SHA}.tar.gz`);
    writeFileSync(bundle, readFileSync(packed.bundlePath));
    const wrong = 'ab'.repeat(32);
    const outcome = await verifyBundle(
      target,
      config({ source: { kind: 'file', path: bundle }, extractTo: releases, expectedSha256: wrong }),
      coreContext(),
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toContain(`expected ${wrong} (expected-sha256), got ${packed.sha256}`);
    expect(outcome.results.map((result) => [result.name, result.status])).toEqual([['Checksum', 'fail']]);
    expect(existsSync(releases)).toBe(false);
    // A bundle given by path is the user's: it stays.
    expect(existsSync(bundle)).toBe(true);

    // BSD format beside the bundle, and expected-sha256 too: they must agree.
    writeFileSync(`${bundle}.sha256`, `SHA256 (deployment-bundle-${SHA}.tar.gz) = ${packed.sha256}\n`);
    await expect(
      verifyBundle(
        target,
        config({ source: { kind: 'file', path: bundle }, extractTo: releases, expectedSha256: wrong }),
        coreContext(),
      ),
    ).rejects.toThrow(`The checksum file (${packed.sha256}) and expected-sha256 (${wrong}) disagree`);
    const agreed = await verifyBundle(
      target,
      config({ source: { kind: 'file', path: bundle }, expectedSha256: packed.sha256.toUpperCase() }),
      coreContext(),
    );
    expect(agreed).toMatchObject({
      ok: true,
      checksumSources: [`checksum file deployment-bundle-${SHA}.tar.gz.sha256`, 'expected-sha256'],
    });
    expect(agreed.results.map((result) => [result.name, result.status])).toEqual([
      ['Checksum', 'pass'],
      ['Unpack', 'skip'],
    ]);
    expect(existsSync(releases)).toBe(false);
  });

  it('refuses a hostile bundle whose checksum matches, leaving nothing in extract-to', async () => {
    const releases = releasesDir();
    mkdirSync(releases);
    const bundle = join(root, `hostile-${kind.name}.tar.gz`);
    writeFileSync(
      bundle,
      rawTarGz([
        { path: 'ok.txt', body: 'x' },
        { path: 'up', type: 'SymbolicLink', linkpath: '../../..' },
      ]),
    );
    const outcome = await verifyBundle(
      target,
      config({
        source: { kind: 'file', path: bundle },
        extractTo: releases,
        expectedSha256: sha256sum(bundle),
        releaseName: RELEASE,
      }),
      coreContext(),
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatch(
      /^Bundle refused: entry "up" is a symlink to "\.\.\/\.\.\/\.\.", outside the release; nothing was unpacked$/,
    );
    expect(readdirSync(releases)).toEqual([]);
  });

  it('takes a release name only when it is one directory name, and needs a commit SHA for the default', async () => {
    const bundle = join(root, `no-sha-${kind.name}.tar.gz`);
    writeFileSync(bundle, readFileSync(packed.bundlePath));
    const base = config({
      source: { kind: 'file', path: bundle },
      expectedSha256: packed.sha256,
      extractTo: releasesDir(),
    });
    await expect(verifyBundle(target, { ...base, releaseName: 'a/b' }, coreContext())).rejects.toThrow(
      /may only hold letters/,
    );
    await expect(verifyBundle(target, base, coreContext())).rejects.toThrow(/cannot be derived.*pass release-name/);
    const withSha = await verifyBundle(target, { ...base, commitSha: SHA }, coreContext());
    expect(withSha.releaseName).toBe(RELEASE);
  });
});

describe('on the ssh target, the host checks the SHA-256 of what it received', () => {
  const kind = targetKinds.find((candidate) => candidate.name === 'ssh')!;
  let target: Target;
  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(() => kind.teardown());

  it('refuses bytes changed on the way (a connection that tampers with the upload), leaving nothing behind', async () => {
    const tampered = join(root, 'tampered.tar.gz');
    // The canonical archive is changed on its way to the host (one byte flipped near its end).
    const tampering: Target = {
      description: target.description,
      run: (script, options) => {
        if (!options?.stdinFile) return target.run(script, options);
        const sent = readFileSync(options.stdinFile);
        sent[sent.length - 20]! ^= 0xff;
        writeFileSync(tampered, sent);
        return target.run(script, { ...options, stdinFile: tampered });
      },
      close: () => target.close(),
    };
    const releases = releasesDir();
    const outcome = await verifyBundle(tampering, config({ extractTo: releases }), coreContext());
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatch(
      `SHA-256 of the canonical archive on ${target.description} is ${sha256sum(tampered)}, not `,
    );
    expect(outcome.failure).toMatch(/the upload was changed on the way; it was deleted and nothing was unpacked$/);
    expect(readdirSync(releases)).toEqual([]);
  });
});

describe('on the local target, a failure while unpacking', () => {
  it('is a failed Unpack step naming the directory, with nothing left behind (extract-to under a regular file)', async () => {
    const blocker = join(root, 'not-a-directory');
    writeFileSync(blocker, 'x');
    const releases = join(blocker, 'releases');
    const { LocalTarget } = await import('#core/hosts/local.js');
    const outcome = await verifyBundle(new LocalTarget(), config({ extractTo: releases }), coreContext());
    expect(outcome.ok).toBe(false);
    expect(outcome.results.at(-1)).toMatchObject({ name: 'Unpack', status: 'fail' });
    expect(outcome.failure).toContain(`unpacking into ${join(releases, RELEASE)} on local failed:`);
    expect(readFileSync(blocker, 'utf8')).toBe('x');
  });
});
