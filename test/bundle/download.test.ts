import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBundle } from '#core/bundle/pack.js';
import { verifyBundle, type VerifyConfig } from '#core/bundle/verify.js';
import { coreContext } from '#core/context.js';
import { createGitHubClient } from '#core/github/client.js';
import { LocalTarget } from '#core/hosts/local.js';
import { writeTree } from '../support/bundles.js';
import { GitHubDouble, zipFiles } from '../support/github-double/index.js';

const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const TOKEN = 'ghs_downloadToken42';
const NAME = `deployment-bundle-${SHA}`;
const NOW = new Date('2026-11-23T17:04:05Z');

let double: GitHubDouble;
let root: string;
let packed: Awaited<ReturnType<typeof packBundle>>;
let zip: Buffer;
const saved = { api: process.env.GITHUB_API_URL, temp: process.env.RUNNER_TEMP };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bundle-download-'));
  writeTree(join(root, 'src'), { 'public/index.php': '<?php echo 1;\n' });
  packed = await packBundle({
    dir: join(root, 'src'),
    name: NAME,
    exclude: [],
    outputDir: join(root, 'out'),
    mtime: NOW,
  });
  zip = zipFiles({
    [`${NAME}.tar.gz`]: readFileSync(packed.bundlePath),
    [`${NAME}.tar.gz.sha256`]: readFileSync(packed.checksumPath),
  });
  double = await new GitHubDouble().start();
  double.token = TOKEN;
  const state = double.repo('octo/app');
  state.workflows.push({ id: 101, name: 'Build', file: 'build.yml' });
  state.runs.push(
    { id: 813, workflowId: 101, headSha: SHA, runNumber: 813 },
    { id: 700, workflowId: 101, headSha: SHA, runNumber: 700 },
  );
  const digest = `sha256:${createHash('sha256').update(zip).digest('hex')}`;
  state.artifacts.push(
    { id: 77, runId: 813, name: NAME, sizeInBytes: zip.length, digest, zip },
    { id: 78, runId: 813, name: 'no-digest', sizeInBytes: zip.length, zip },
    { id: 79, runId: 813, name: 'wrong-digest', sizeInBytes: zip.length, digest: `sha256:${'0'.repeat(64)}`, zip },
    { id: 60, runId: 700, name: NAME, expired: true, expiresAt: '2026-10-01T08:00:00Z', zip },
  );
  // @actions/artifact (through @actions/github) takes the API root from GITHUB_API_URL when it is loaded.
  process.env.GITHUB_API_URL = double.url;
  process.env.RUNNER_TEMP = join(root, 'runner-temp');
  mkdirSync(process.env.RUNNER_TEMP);
});

afterAll(async () => {
  await double.stop();
  rmSync(root, { recursive: true, force: true });
  process.env.GITHUB_API_URL = saved.api;
  process.env.RUNNER_TEMP = saved.temp;
  if (saved.api === undefined) delete process.env.GITHUB_API_URL;
  if (saved.temp === undefined) delete process.env.RUNNER_TEMP;
});

beforeEach(() => {
  expect(double.violations).toEqual([]);
});

const client = () => createGitHubClient({ token: TOKEN, baseUrl: double.url, retries: 0 });
const fromRun = (runId: number, name: string, overrides: Partial<VerifyConfig> = {}): VerifyConfig => ({
  source: { kind: 'artifact', client: client(), artifact: { owner: 'octo', repo: 'app', runId, name, token: TOKEN } },
  maxSize: 2 ** 31,
  now: NOW,
  ...overrides,
});
const downloads = () => readdirSync(process.env.RUNNER_TEMP!).filter((name) => name.startsWith('dg-artifact-'));

describe('verify-bundle-sha downloading from another run (GitHub double: 302 to a blob URL)', () => {
  it("downloads through the redirect, checks GitHub's digest and the checksum file inside, and unpacks", async () => {
    const before = double.requests.length;
    const releases = join(root, 'releases');
    const outcome = await verifyBundle(new LocalTarget(), fromRun(813, NAME, { extractTo: releases }), coreContext());
    expect(outcome.failure).toBeUndefined();
    expect(outcome).toMatchObject({
      ok: true,
      sha256: packed.sha256,
      releaseName: '20261123_170405-62584375',
      artifact: { id: 77, digestVerified: true },
    });
    expect(outcome.results.map((result) => [result.name, result.status])).toEqual([
      ['Download', 'pass'],
      ['Artifact digest', 'pass'],
      ['Checksum', 'pass'],
      ['Entries', 'pass'],
      ['Unpack', 'pass'],
    ]);
    expect(readFileSync(join(releases, '20261123_170405-62584375/public/index.php'), 'utf8')).toBe('<?php echo 1;\n');
    expect(outcome.bundlePath).toMatch(new RegExp(`/dg-artifact-[^/]+/${NAME}\\.tar\\.gz$`));
    const served = double.requests.slice(before).map((request) => `${request.operation} ${request.status}`);
    expect(served).toEqual([
      'GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts 200',
      'GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format} 302',
      'GET blob 200',
    ]);
    expect(double.violations).toEqual([]);
  });

  it('skips the digest step when GitHub reports none, and fails (deleting the download) when it does not match', async () => {
    const none = await verifyBundle(
      new LocalTarget(),
      fromRun(813, 'no-digest', { expectedSha256: packed.sha256 }),
      coreContext(),
    );
    expect(none.results.find((result) => result.name === 'Artifact digest')).toMatchObject({ status: 'skip' });
    expect(none.ok).toBe(true);
    const count = downloads().length;
    const wrong = await verifyBundle(
      new LocalTarget(),
      fromRun(813, 'wrong-digest', { extractTo: join(root, 'never') }),
      coreContext(),
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.failure).toMatch(/does not match the digest GitHub reports \(sha256:0{64}\); it was deleted/);
    expect(downloads().length).toBe(count);
    expect(existsSync(join(root, 'never'))).toBe(false);
  });

  it('deletes the download on a checksum mismatch and unpacks nothing', async () => {
    const count = downloads().length;
    const outcome = await verifyBundle(
      new LocalTarget(),
      fromRun(813, NAME, { expectedSha256: 'ab'.repeat(32), checksumFile: undefined }),
      coreContext(),
    ).catch((error: Error) => error);
    // The checksum file in the artifact and expected-sha256 disagree: refused, and the download is gone.
    expect(String(outcome)).toMatch(/disagree/);
    expect(downloads().length).toBe(count);
  });

  it('tells an expired artifact and a missing one apart, downloading nothing', async () => {
    const before = double.blobRequests.length;
    await expect(verifyBundle(new LocalTarget(), fromRun(700, NAME), coreContext())).rejects.toThrow(
      `Artifact "${NAME}" of run 700 of octo/app expired at 2026-10-01T08:00:00Z and cannot be downloaded; re-run the build`,
    );
    await expect(
      verifyBundle(new LocalTarget(), fromRun(813, 'deployment-bundle-other'), coreContext()),
    ).rejects.toThrow(/run 813 of octo\/app has no artifact named "deployment-bundle-other"/);
    expect(double.blobRequests.length).toBe(before);
  });

  it('downloads exactly the artifact resolve-build-run chose (artifact-id), not a newer one of the same name', async () => {
    // A re-run of the build uploaded a second artifact of the same name into run 813, with other bytes.
    const state = double.repo('octo/app');
    const other = zipFiles({ [`${NAME}.tar.gz`]: Buffer.from('not the bundle that was resolved') });
    state.artifacts.push({ id: 95, runId: 813, name: NAME, sizeInBytes: other.length, zip: other });
    try {
      const chosen = (id?: number): VerifyConfig => ({
        ...fromRun(813, NAME, { expectedSha256: packed.sha256 }),
        source: {
          kind: 'artifact',
          client: client(),
          artifact: { owner: 'octo', repo: 'app', runId: 813, name: NAME, token: TOKEN, ...(id ? { id } : {}) },
        },
      });
      const outcome = await verifyBundle(new LocalTarget(), chosen(77), coreContext());
      expect(outcome).toMatchObject({ ok: true, artifact: { id: 77 } });
      // Without the id, the newest of that name is taken: here the other one, which fails its checks.
      const newest = await verifyBundle(new LocalTarget(), chosen(), coreContext()).catch((error: unknown) => error);
      expect(JSON.stringify(newest)).not.toMatch(/"ok":true/);
      await expect(verifyBundle(new LocalTarget(), chosen(999), coreContext())).rejects.toThrow(
        `run 813 of octo/app has no artifact 999 named "${NAME}" (its "${NAME}" is 77, 95); pass the artifact-id`,
      );
    } finally {
      state.artifacts.splice(
        state.artifacts.findIndex((artifact) => artifact.id === 95),
        1,
      );
    }
  });

  it('takes an artifact whose expires_at has passed as expired, though GitHub has not set expired yet', async () => {
    const state = double.repo('octo/app');
    state.artifacts.push({ id: 96, runId: 813, name: 'past-expiry', expiresAt: '2026-01-01T00:00:00Z', zip });
    const before = double.blobRequests.length;
    await expect(verifyBundle(new LocalTarget(), fromRun(813, 'past-expiry'), coreContext())).rejects.toThrow(
      'Artifact "past-expiry" of run 813 of octo/app expired at 2026-01-01T00:00:00Z and cannot be downloaded',
    );
    expect(double.blobRequests.length).toBe(before);
  });

  it('answers a download of an expired artifact with 410, as GitHub does, and that is told as expiry', async () => {
    // Listed as live, expired by the time of the download.
    const state = double.repo('octo/app');
    state.artifacts.push({ id: 90, runId: 813, name: 'expiring', zip });
    double.onRequest = ({ path }) => {
      if (path.endsWith('/artifacts/90/zip')) state.artifacts.find((artifact) => artifact.id === 90)!.expired = true;
    };
    try {
      await expect(
        verifyBundle(new LocalTarget(), fromRun(813, 'expiring', { expectedSha256: packed.sha256 }), coreContext()),
      ).rejects.toThrow(/\(id 90\) of run 813 of octo\/app has expired \(GitHub answered 410 Gone\)/);
    } finally {
      double.onRequest = undefined;
    }
    expect(
      double.requestsTo('/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}').at(-1)?.status,
    ).toBe(410);
  });
});
