import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBundle } from '#core/bundle/pack.js';
import { addAttestation, GitHubDouble } from '../support/github-double/index.js';
import { writeTree } from '../support/bundles.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { DEFAULT_CLAIMS, sigstoreInstance, type SigstoreInstance } from './sigstore-double.js';

const TOKEN = 'ghs_provenanceBundleToken7';
const SHA = DEFAULT_CLAIMS.sha;
const fixtures = join(import.meta.dirname, 'fixtures');

let root: string;
let double: GitHubDouble;
let sigstore: SigstoreInstance;
let packed: Awaited<ReturnType<typeof packBundle>>;
let trustedRoot: string;
const runs: BundleRun[] = [];
async function step(inputs: Record<string, string>, env: Record<string, string> = {}): Promise<BundleRun> {
  const run = await runBundle('verify-bundle-sha', inputs, {
    GITHUB_REPOSITORY: 'octo-org/app',
    GITHUB_SHA: SHA,
    ...env,
  });
  runs.push(run);
  return run;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), `provenance-action-${process.pid}-`));
  writeTree(join(root, 'app'), { 'public/index.php': '<?php echo 1;\n' });
  packed = await packBundle({
    dir: join(root, 'app'),
    name: `deployment-bundle-${SHA}`,
    exclude: [],
    outputDir: join(root, 'out'),
    mtime: new Date('2026-11-23T17:04:05Z'),
  });
  [double, sigstore] = await Promise.all([new GitHubDouble().start(), sigstoreInstance('public-good')]);
  double.token = TOKEN;
  double.repo('octo-org/app');
  addAttestation(double, {
    repository: 'octo-org/app',
    sha256: packed.sha256,
    bundle: await sigstore.attest({ sha256: packed.sha256, subjectName: `deployment-bundle-${SHA}.tar.gz` }),
  });
  trustedRoot = join(root, 'trusted_root.json');
  writeFileSync(trustedRoot, JSON.stringify(sigstore.trustedRoot));
});

afterAll(async () => {
  await double.stop();
  runs.splice(0).forEach(cleanup);
  rmSync(root, { recursive: true, force: true });
  expect(double.violations).toEqual([]);
});

describe('dist/verify-bundle-sha with attestation on, on node24', () => {
  it('a real GitHub attestation verifies against the roots shipped in the bundle', async () => {
    const artifact = join(fixtures, 'reusable-workflow-artifact');
    const result = await step(
      {
        bundle: artifact,
        'expected-sha256': createHash('sha256').update(readFileSync(artifact)).digest('hex'),
        attestation: join(fixtures, 'reusable-workflow-attestation.sigstore.json'),
        'signer-workflow': 'github/artifact-attestations-workflows/.github/workflows/attest.yml',
        'source-repository': 'malancas/attest-demo',
        'source-sha': '95baf27389e83e6a5c48f42e190d48d7abcea19e',
      },
      { GITHUB_SHA: '95baf27389e83e6a5c48f42e190d48d7abcea19e' },
    );
    expect(result.log).not.toContain('::error::');
    expect(result.exitCode).toBe(0);
    expect(result.outputs).toMatchObject({
      provenance: 'verified',
      'signer-workflow':
        'github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d',
      'source-sha': '95baf27389e83e6a5c48f42e190d48d7abcea19e',
    });
    expect(result.summary).toMatch(/Provenance.*verified: built by github\/artifact-attestations-workflows/);
    expect(result.summary).toContain('public-good Sigstore, Rekor entry 2024-05-24T19:14');
  });

  it('auto: the attestation from the API verifies (a trusted-root file), then the bundle is unpacked; the report has it', async () => {
    const releases = join(root, 'releases-auto');
    const result = await step(
      {
        bundle: packed.bundlePath,
        'extract-to': releases,
        attestation: 'auto',
        'signer-workflow': 'octo-org/app/.github/workflows/build.yml',
        'source-ref': 'refs/heads/main',
        'trusted-root': trustedRoot,
      },
      { GITHUB_API_URL: double.url, GITHUB_TOKEN: TOKEN },
    );
    expect(result.log).not.toContain('::error::');
    expect(result.exitCode).toBe(0);
    expect(result.outputs).toMatchObject({
      provenance: 'verified',
      'signer-workflow': 'octo-org/app/.github/workflows/build.yml@refs/heads/main',
      'source-sha': SHA,
      'release-name': expect.stringMatching(/-f0959baf$/),
    });
    expect(readdirSync(releases)).toHaveLength(1);
    const report = JSON.parse(readFileSync(result.outputs.report!, 'utf8')) as {
      results: { name: string; status: string }[];
      details: { provenance: { sourceSha: string; trustedRoot: string } };
    };
    expect(report.results.map((item) => item.name)).toEqual(['Provenance', 'Checksum', 'Entries', 'Unpack']);
    expect(report.details.provenance).toMatchObject({ sourceSha: SHA, trustedRoot: trustedRoot });
    expect(result.log.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual(
      [],
    );
  });

  it('auto: deploying another commit than the one built (GITHUB_SHA) fails naming source-sha; nothing is unpacked', async () => {
    const releases = join(root, 'releases-wrong-sha');
    const result = await step(
      {
        bundle: packed.bundlePath,
        'extract-to': releases,
        attestation: 'auto',
        'signer-workflow': 'octo-org/app/.github/workflows/build.yml',
        'trusted-root': trustedRoot,
        'release-name': '20261123_170405-aaaaaaaa',
      },
      { GITHUB_API_URL: double.url, GITHUB_TOKEN: TOKEN, GITHUB_SHA: 'a'.repeat(40) },
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.log).toMatch(
      /::error::provenance refused: .*built from commit f0959baf\S*, not a{40} \(source-sha, default the SHA being deployed\).*nothing was unpacked/,
    );
    // Only the report document's path: no provenance, sha256 or release output of a refused bundle.
    expect(result.outputs).toEqual({ report: expect.any(String) });
    expect(existsSync(releases) ? readdirSync(releases) : []).toEqual([]);
  });

  it('off with a signer-workflow set is refused by input name (it would check nothing)', async () => {
    const result = await step({
      bundle: packed.bundlePath,
      'signer-workflow': 'octo-org/app/.github/workflows/build.yml',
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.log).toContain(
      '::error::Input "attestation": is off, but signer-workflow is set: nothing would be verified',
    );
  });
});
