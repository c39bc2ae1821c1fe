import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBundle } from '#core/bundle/pack.js';
import { verifyBundle, type VerifyConfig } from '#core/bundle/verify.js';
import { coreContext } from '#core/context.js';
import { createGitHubClient } from '#core/github/client.js';
import { LocalTarget } from '#core/hosts/local.js';
import { provenanceHook, type ProvenanceOptions } from '#core/provenance/index.js';
import { addAttestation, GitHubDouble } from '../support/github-double/index.js';
import { writeTree } from '../support/bundles.js';
import { DEFAULT_CLAIMS, sigstoreInstance, type SigstoreInstance } from './sigstore-double.js';

const TOKEN = 'ghs_provenance_test_token';
const NOW = new Date('2026-11-23T17:04:05Z');
const RELEASE = `20261123_170405-${DEFAULT_CLAIMS.sha.slice(0, 8)}`;
const EXPECT = {
  signerWorkflow: 'octo-org/app/.github/workflows/build.yml',
  sourceRepository: 'octo-org/app',
  sourceSha: DEFAULT_CLAIMS.sha,
};

let root: string;
let packed: Awaited<ReturnType<typeof packBundle>>;
let sigstore: SigstoreInstance;
let double: GitHubDouble;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), `provenance-bundle-${process.pid}-`));
  writeTree(join(root, 'src'), { 'public/index.php': '<?php echo 1;\n' });
  packed = await packBundle({
    dir: join(root, 'src'),
    name: `deployment-bundle-${DEFAULT_CLAIMS.sha}`,
    exclude: [],
    outputDir: join(root, 'out'),
    mtime: NOW,
  });
  sigstore = await sigstoreInstance('public-good');
  double = await new GitHubDouble().start();
  double.token = TOKEN;
  double.repo('octo-org/app');
});
afterAll(async () => {
  await double.stop();
  rmSync(root, { recursive: true, force: true });
});
afterEach(() => expect(double.violations).toEqual([]));

let counter = 0;
async function verify(attestation: ProvenanceOptions['attestation']) {
  const releases = join(root, `releases-${++counter}`);
  const config: VerifyConfig = {
    source: { kind: 'file', path: packed.bundlePath },
    maxSize: 2 ** 31,
    now: NOW,
    extractTo: releases,
    provenance: provenanceHook({
      attestation,
      expect: EXPECT,
      roots: [{ name: 'test public-good', json: sigstore.trustedRoot }],
    }),
  };
  const outcome = await verifyBundle(new LocalTarget(), config, coreContext());
  const unpacked = existsSync(releases) ? readdirSync(releases) : [];
  return { outcome, unpacked, steps: outcome.results.map((result) => [result.name, result.status]) };
}

const api = (repo = 'octo-org/app') => {
  const [owner = '', name = ''] = repo.split('/');
  return {
    kind: 'api' as const,
    client: createGitHubClient({ token: TOKEN, baseUrl: double.url, retries: 0 }),
    repository: { owner, repo: name },
  };
};

describe('verify-bundle-sha with provenance: checked for the SHA-256 the bundle must have, before it is read or unpacked', () => {
  it('auto: the attestation GitHub serves for the digest verifies, then the bundle is unpacked', async () => {
    addAttestation(double, {
      repository: 'octo-org/app',
      sha256: packed.sha256,
      bundle: await sigstore.attest({ sha256: packed.sha256, subjectName: 'deployment-bundle.tar.gz' }),
      predicateType: 'https://slsa.dev/provenance/v1',
    });
    const { outcome, unpacked, steps } = await verify(api());
    expect(outcome.failure).toBeUndefined();
    expect(steps).toEqual([
      ['Provenance', 'pass'],
      ['Checksum', 'pass'],
      ['Entries', 'pass'],
      ['Unpack', 'pass'],
    ]);
    expect(outcome.provenance).toMatchObject({
      signerWorkflow: 'octo-org/app/.github/workflows/build.yml@refs/heads/main',
      sourceSha: DEFAULT_CLAIMS.sha,
    });
    expect(outcome.results[0]!.detail).toMatch(
      /^built by octo-org\/app\/\.github\/workflows\/build\.yml@refs\/heads\/main from octo-org\/app@f0959baf\S+ \(refs\/heads\/main\); SLSA provenance signed via test public-good, Rekor entry /,
    );
    expect(unpacked).toEqual([RELEASE]);
    const [request] = double.requestsTo('/repos/{owner}/{repo}/attestations/{subject_digest}');
    expect(decodeURIComponent(request!.path)).toBe(`/repos/octo-org/app/attestations/sha256:${packed.sha256}`);
  });

  it('auto: an attestation by another workflow fails the step with the workflow named; nothing is unpacked', async () => {
    const other = await new GitHubDouble().start();
    other.repo('octo-org/app');
    addAttestation(other, {
      repository: 'octo-org/app',
      sha256: packed.sha256,
      bundle: await sigstore.attest({
        sha256: packed.sha256,
        claims: { signerWorkflow: 'octo-org/app/.github/workflows/debug.yml@refs/heads/tmp' },
      }),
    });
    const { outcome, unpacked, steps } = await verify({
      kind: 'api',
      client: createGitHubClient({ token: TOKEN, baseUrl: other.url, retries: 0 }),
      repository: { owner: 'octo-org', repo: 'app' },
    });
    await other.stop();
    expect(other.violations).toEqual([]);
    expect(steps).toEqual([['Provenance', 'fail']]);
    expect(outcome.failure).toMatch(
      /^provenance refused: attestation 1 of 1 .*signed by workflow octo-org\/app\/\.github\/workflows\/debug\.yml@refs\/heads\/tmp, not octo-org\/app\/\.github\/workflows\/build\.yml \(signer-workflow\).*; nothing was unpacked$/,
    );
    expect(unpacked).toEqual([]);
  });

  it('auto: GitHub has no attestation for the digest (404): refused, telling how to attest; nothing is unpacked', async () => {
    const empty = await new GitHubDouble().start();
    empty.repo('octo-org/app');
    const { outcome, unpacked } = await verify({
      kind: 'api',
      client: createGitHubClient({ token: TOKEN, baseUrl: empty.url, retries: 0 }),
      repository: { owner: 'octo-org', repo: 'app' },
    });
    await empty.stop();
    expect(empty.violations).toEqual([]);
    expect(outcome.failure).toMatch(
      /GitHub has no attestation for sha256:[0-9a-f]{64} in octo-org\/app: the build workflow must attest the bundle \(actions\/attest-build-provenance/,
    );
    expect(unpacked).toEqual([]);
  });

  it('auto: an attestation GitHub serves only behind bundle_url is refused with the way out', async () => {
    const urlOnly = await new GitHubDouble().start();
    urlOnly.repo('octo-org/app');
    addAttestation(urlOnly, { repository: 'octo-org/app', sha256: packed.sha256, bundle: null });
    const { outcome, unpacked } = await verify({
      kind: 'api',
      client: createGitHubClient({ token: TOKEN, baseUrl: urlOnly.url, retries: 0 }),
      repository: { owner: 'octo-org', repo: 'app' },
    });
    await urlOnly.stop();
    expect(urlOnly.violations).toEqual([]);
    expect(outcome.failure).toMatch(/only as a bundle_url; download it \(gh attestation download\)/);
    expect(unpacked).toEqual([]);
  });

  it('a bundle file: the attestation of another build is "not for this bundle"; nothing is unpacked', async () => {
    const path = join(root, 'other.sigstore.json');
    writeFileSync(path, JSON.stringify(await sigstore.attest({ sha256: 'c'.repeat(64) })));
    const { outcome, unpacked, steps } = await verify({ kind: 'file', path });
    expect(steps).toEqual([['Provenance', 'fail']]);
    expect(outcome.failure).toMatch(
      /the attestation is not for this bundle: its subjects are "app\.tar\.gz" sha256:c{64}/,
    );
    expect(unpacked).toEqual([]);
  });
});
