import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError } from '#core/errors.js';
import { parseGates } from '#core/gates/spec.js';
import { runGates } from '#core/gates/run.js';
import { shellQuote, type Target } from '#core/hosts/target.js';
import {
  parseSharedEntries,
  readSharedSection,
  relativeLink,
  sharedLinkSection,
  type SharedPlan,
} from '#core/release/shared.js';
import { switchRelease, type SwitchConfig } from '#core/release/switch.js';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { targetKinds } from '../support/targets.js';

const [A, B] = [1, 2].map(releaseName) as [string, string];

const plan = (lines: string[], replace = false): SharedPlan => ({ entries: parseSharedEntries(lines), replace });
const config = (releasesRoot: string, release: string, shared?: SharedPlan): SwitchConfig => ({
  releasesRoot,
  release,
  mode: 'switch',
  keep: 5,
  beforeSwitch: [],
  afterSwitch: [],
  rollbackOnFailure: true,
  shared,
});

describe('shared paths (input rules)', () => {
  it('reads files and directories (trailing "/")', () => {
    expect(parseSharedEntries(['.env', 'storage/', 'bootstrap/cache/'])).toEqual([
      { path: '.env', directory: false },
      { path: 'storage', directory: true },
      { path: 'bootstrap/cache', directory: true },
    ]);
    expect(relativeLink('.env')).toBe('../../shared/.env');
    expect(relativeLink('bootstrap/cache')).toBe('../../../shared/bootstrap/cache');
  });

  it.each([
    ['../etc/passwd', 'has an empty, "." or ".." part'],
    ['storage/../..', 'has an empty, "." or ".." part'],
    ['./.env', 'has an empty, "." or ".." part'],
    ['a//b', 'has an empty, "." or ".." part'],
    ['/etc/passwd', 'is absolute'],
    ['.env\0x', 'holds a NUL or line break'],
    ['a\rb', 'holds a NUL or line break'],
  ])('refuses %j naming the input', (line, problem) => {
    let error: unknown;
    try {
      parseSharedEntries([line]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ArgumentError);
    expect((error as ArgumentError).argument).toBe('shared');
    expect((error as ArgumentError).problem).toContain(problem);
  });

  it('refuses a path listed twice or lying inside another', () => {
    expect(() => parseSharedEntries(['.env', '.env'])).toThrow('is listed twice');
    expect(() => parseSharedEntries(['storage/', 'storage/logs/'])).toThrow('overlaps "storage/"');
  });
});

describe.each(targetKinds)('shared links on the $name target', (kind) => {
  let target: Target;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    target = await kind.setup();
    base = await mkdtemp(join(tmpdir(), `dg-shared-${process.pid}-`));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // A root whose path needs quoting, so every line of the script is exercised with a hostile path.
    root = join(base, `app $(touch PWNED) it's ${++n}`);
    await makeReleases(root, [A, B]);
    await mkdir(join(root, 'shared/storage/logs'), { recursive: true });
    await mkdir(join(root, 'shared/bootstrap/cache'), { recursive: true });
    await writeFile(join(root, 'shared/.env'), 'APP_KEY=base64:shared\n');
  });

  const release = (name: string, path = '') => join(root, 'releases', name, path);
  /** The tree of releases-root but the lock's file (left by design, see switch tests): proof that nothing changed. */
  const tree = () => treeListing(root).filter((line) => !line.startsWith('.deploy-lock'));

  it('links files and directories relatively before the hooks, with no extra round trip, and symlink gates pass', async () => {
    const without = await switchRelease(target, config(root, A));
    const shared = plan(['.env', 'storage/', 'bootstrap/cache/']);
    const outcome = await switchRelease(target, {
      ...config(root, B, shared),
      beforeSwitch: ['cat .env > seen-by-hook; ls storage > storage-seen'],
    });
    expect(outcome).toMatchObject({ ok: true, switched: true, currentRelease: B });
    expect(readlinkSync(release(B, '.env'))).toBe('../../shared/.env');
    expect(readlinkSync(release(B, 'storage'))).toBe('../../shared/storage');
    expect(readlinkSync(release(B, 'bootstrap/cache'))).toBe('../../../shared/bootstrap/cache');
    expect(lstatSync(release(B, 'bootstrap')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'current/.env'), 'utf8')).toBe('APP_KEY=base64:shared\n');
    expect(readFileSync(release(B, 'seen-by-hook'), 'utf8')).toBe('APP_KEY=base64:shared\n');
    expect(readFileSync(release(B, 'storage-seen'), 'utf8')).toBe('logs\n');
    expect(outcome.results.filter((r) => r.name.startsWith('shared')).map((r) => [r.name, r.status, r.detail])).toEqual(
      [
        ['shared: .env', 'pass', 'linked → ../../shared/.env'],
        ['shared: storage/', 'pass', 'linked → ../../shared/storage'],
        ['shared: bootstrap/cache/', 'pass', 'linked → ../../../shared/bootstrap/cache'],
      ],
    );
    // The hook is one round trip; the links are made in the lock's own script.
    expect(outcome.roundTrips).toBe(without.roundTrips + 1);
    expect(existsSync(join(base, 'PWNED')) || existsSync(join(root, 'PWNED'))).toBe(false);

    const gates = parseGates(
      [
        '- symlink: .env',
        '  points-to: ../../shared/.env',
        '- symlink: storage',
        `  points-to: ${join(root, 'shared/storage')}`,
        '- file: .env',
        '- dir: storage',
        '  writable: true',
        '- dir: bootstrap/cache',
      ].join('\n'),
      { source: 'test' },
    );
    const checked = await runGates(target, join(root, 'current'), gates, { timeoutMs: 30_000 });
    expect(checked.results.map((r) => [r.name, r.status])).toEqual(gates.map((gate) => [gate.name, 'pass']));
  });

  it('refuses a path the release ships, naming it, and changes nothing', async () => {
    await switchRelease(target, config(root, A));
    await mkdir(release(B, 'storage'));
    await writeFile(release(B, 'storage/shipped'), 'x');
    const before = tree();
    const outcome = await switchRelease(target, {
      ...config(root, B, plan(['.env', 'storage/'])),
      beforeSwitch: ['touch hook-ran'],
    });
    expect(outcome).toMatchObject({ ok: false, switched: false, currentRelease: A });
    expect(outcome.failure).toBe(
      `shared entry storage/: the release ships a directory at releases/${B}/storage; remove it from the bundle, or set shared-replace: true to replace it with the link; nothing was linked into or switched to releases/${B}`,
    );
    expect(tree()).toEqual(before);
  });

  it('replaces a shipped file, directory or symlink with shared-replace', async () => {
    await mkdir(release(B, 'storage/framework'), { recursive: true });
    await writeFile(release(B, '.env'), 'APP_KEY=from-the-bundle\n');
    await symlink('/tmp', release(B, 'cache'));
    await mkdir(join(root, 'shared/cache'));
    const outcome = await switchRelease(target, config(root, B, plan(['.env', 'storage/', 'cache/'], true)));
    expect(outcome.ok).toBe(true);
    expect(outcome.results.filter((r) => r.name.startsWith('shared')).map((r) => r.detail)).toEqual([
      'linked, replacing the file the release shipped → ../../shared/.env',
      'linked, replacing the directory the release shipped → ../../shared/storage',
      'linked, replacing the symlink the release shipped → ../../shared/cache',
    ]);
    expect(readFileSync(join(root, 'current/.env'), 'utf8')).toBe('APP_KEY=base64:shared\n');
    expect(readlinkSync(release(B, 'cache'))).toBe('../../shared/cache');
  });

  it('fails on a missing shared entry with the path to create, and changes nothing', async () => {
    const before = tree();
    const outcome = await switchRelease(target, config(root, B, plan(['.env', 'uploads/', 'config/app.ini'])));
    expect(outcome).toMatchObject({ ok: false, switched: false });
    const uploads = join(root, 'shared/uploads');
    expect(outcome.failure).toContain(
      `shared entry uploads/: ${uploads} does not exist on ${target.description}; create it: mkdir -p '${uploads.replace(/'/g, `'\\''`)}'`,
    );
    expect(tree()).toEqual(before);
    await rm(join(root, 'shared/storage'), { recursive: true });
    await writeFile(join(root, 'shared/storage'), '');
    const wrongKind = await switchRelease(target, config(root, B, plan(['storage/'])));
    expect(wrongKind.failure).toContain('is not a regular file or directory');
    const dirAsFile = await switchRelease(target, config(root, B, plan(['bootstrap'])));
    expect(dirAsFile.failure).toContain('is a directory');
    expect(dirAsFile.failure).toContain('write "bootstrap/" for a directory');
  });

  it.each([false, true])(
    'does not let a shipped parent symlink (storage -> outside) carry the link out of the release (replace %s)',
    async (replace) => {
      const outside = join(base, `outside-${n}`);
      await mkdir(outside);
      await mkdir(join(root, 'shared/storage/app'), { recursive: true });
      await symlink(outside, release(B, 'storage'));
      await symlink(outside, release(B, 'deep'));
      await mkdir(join(root, 'shared/deep/er'), { recursive: true });
      const before = tree();
      for (const entry of ['storage/app/', 'deep/er/']) {
        const outcome = await switchRelease(target, config(root, B, plan([entry], replace)));
        expect(outcome).toMatchObject({ ok: false, switched: false });
        expect(outcome.failure).toContain(`the release ships a symlink ${entry.split('/')[0]} -> ${outside}`);
        expect(outcome.failure).toContain('so the link could land outside the release');
      }
      expect(treeListing(outside)).toEqual([]);
      expect(tree()).toEqual(before);
      expect(existsSync(join(root, 'current'))).toBe(false);
    },
  );

  it('makes absolute links when releases/ is a symlink to another disk (a relative one would resolve there)', async () => {
    const disk = join(base, `other-disk-${n}`);
    await makeReleases(disk, [A]);
    await rm(join(root, 'releases'), { recursive: true });
    await symlink(join(disk, 'releases'), join(root, 'releases'));
    const outcome = await switchRelease(target, config(root, A, plan(['.env'])));
    expect(outcome.ok).toBe(true);
    expect(readlinkSync(join(disk, 'releases', A, '.env'))).toBe(join(root, 'shared/.env'));
    expect(readFileSync(join(root, 'current/.env'), 'utf8')).toBe('APP_KEY=base64:shared\n');
  });

  it('leaves links already made, and never touches the live release or a rollback', async () => {
    const shared = plan(['.env', 'storage/']);
    await switchRelease(target, config(root, A, shared));
    await switchRelease(target, config(root, B, shared));
    const back = await switchRelease(target, config(root, A, shared));
    expect(back.results.filter((r) => r.name.startsWith('shared')).map((r) => r.detail)).toEqual([
      'already linked → ../../shared/.env',
      'already linked → ../../shared/storage',
    ]);
    // Already current: nothing to do, nothing linked (a live release is not changed).
    await rm(release(A, 'storage'));
    const again = await switchRelease(target, config(root, A, shared));
    expect(again.results.map((r) => [r.name, r.status])).toEqual([
      ['release', 'pass'],
      ['switch', 'skip'],
    ]);
    expect(existsSync(release(A, 'storage'))).toBe(false);
  });

  it('never removes through a parent swapped for a symlink after the check (shared-replace)', async () => {
    // The release ships storage/framework/cache; a tree outside the release has a cache/ worth keeping.
    await mkdir(release(B, 'storage/framework/cache'), { recursive: true });
    await writeFile(release(B, 'storage/framework/cache/shipped'), 'x');
    const victim = join(base, `victim-${n}`);
    await mkdir(join(victim, 'cache'), { recursive: true });
    await writeFile(join(victim, 'cache/precious'), 'keep me');
    await mkdir(join(root, 'shared/storage/framework/cache'), { recursive: true });
    const shared = plan(['storage/framework/cache/'], true);
    // Another process swaps the checked parent for a symlink between the check and the link (inserted here, where
    // the script turns from checking to linking).
    const swap = `mv ${shellQuote(release(B, 'storage/framework'))} ${shellQuote(`${victim}-moved`)} && ln -s ${shellQuote(victim)} ${shellQuote(release(B, 'storage/framework'))}`;
    const script = sharedLinkSection(shared, `releases/${B}`).replace(
      'if [ "$dg_was_0" != already ]; then',
      `${swap}\nif [ "$dg_was_0" != already ]; then`,
    );
    const result = await target.run(`cd ${shellQuote(root)} && {\n${script}\n}`);
    const { shared: outcome } = readSharedSection(shared, result.stdout);
    expect(outcome.failure?.kind).toBe('parent-moved');
    expect(readFileSync(join(victim, 'cache/precious'), 'utf8')).toBe('keep me');
    expect(lstatSync(join(victim, 'cache')).isDirectory()).toBe(true);
  });
});
