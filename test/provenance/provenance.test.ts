import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkProvenance,
  ProvenanceRefused,
  readRootFiles,
  type ProvenanceExpectations,
} from '#core/provenance/index.js';
import { DEFAULT_CLAIMS, sigstoreInstance, type SigstoreInstance } from './sigstore-double.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const sha256Of = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const BUNDLE_SHA = 'a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef';
const EXPECT: ProvenanceExpectations = {
  signerWorkflow: 'octo-org/app/.github/workflows/build.yml',
  sourceRepository: 'octo-org/app',
  sourceRef: 'refs/heads/main',
  sourceSha: DEFAULT_CLAIMS.sha,
};

let dir: string;
let publicGood: SigstoreInstance;
let github: SigstoreInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `provenance-${process.pid}-`));
  [publicGood, github] = await Promise.all([sigstoreInstance('public-good'), sigstoreInstance('github')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function file(json: unknown): string {
  const path = join(dir, `bundle-${++count}.json`);
  writeFileSync(path, typeof json === 'string' ? json : JSON.stringify(json));
  return path;
}

/** Verifies a bundle written to a file, against the test instance's root. */
function check(
  bundle: unknown,
  instance: SigstoreInstance,
  expect: Partial<ProvenanceExpectations> = {},
  sha = BUNDLE_SHA,
) {
  return checkProvenance(sha, {
    attestation: { kind: 'file', path: file(bundle) },
    expect: { ...EXPECT, ...expect },
    roots: [{ name: `test ${instance.kind}`, json: instance.trustedRoot }],
  });
}

async function refusal(promise: Promise<unknown>): Promise<ProvenanceRefused> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof ProvenanceRefused)) throw error;
  return error as ProvenanceRefused;
}

describe('real GitHub attestations, against the roots shipped with the action', () => {
  it('a public repository’s attestation (public-good Sigstore: Rekor entry, CT log) verifies, signed by a reusable workflow', async () => {
    const artifact = join(fixtures, 'reusable-workflow-artifact');
    const facts = await checkProvenance(sha256Of(artifact), {
      attestation: { kind: 'file', path: join(fixtures, 'reusable-workflow-attestation.sigstore.json') },
      expect: {
        signerWorkflow: 'github/artifact-attestations-workflows/.github/workflows/attest.yml',
        sourceRepository: 'malancas/attest-demo',
        sourceRef: 'refs/heads/main',
        sourceSha: '95baf27389e83e6a5c48f42e190d48d7abcea19e',
      },
    });
    expect(facts).toMatchObject({
      signerWorkflow:
        'github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d',
      buildConfig: 'malancas/attest-demo/.github/workflows/shared.yml@refs/heads/main',
      sourceSha: '95baf27389e83e6a5c48f42e190d48d7abcea19e',
      trustedRoot: 'public-good Sigstore',
      predicateType: 'https://slsa.dev/provenance/v1',
    });
    expect(facts.timestamps).toEqual([expect.stringMatching(/^Rekor entry 2024-05-24T19:14/)]);
  });

  it('a private repository’s attestation (GitHub’s Sigstore: RFC 3161 timestamp, no log) verifies against GitHub’s root', async () => {
    const artifact = join(fixtures, 'github_provenance_demo-0.0.12-py3-none-any.whl');
    const facts = await checkProvenance(sha256Of(artifact), {
      attestation: { kind: 'file', path: join(fixtures, 'github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl') },
      expect: {
        signerWorkflow: 'actions/attest-demo/.github/workflows/build-python.yml',
        sourceRepository: 'actions/attest-demo',
        sourceSha: 'a6c23b9806c593664f68637c8f9d45dfcf98b2db',
      },
    });
    expect(facts).toMatchObject({ trustedRoot: 'GitHub', sourceRef: 'refs/heads/main' });
    expect(facts.timestamps).toEqual([expect.stringMatching(/^RFC 3161 timestamp 2024-04-22T17:3/)]);
  });

  it('the same private attestation with only a public-good root (gh’s, from a file) is an untrusted certificate', async () => {
    const artifact = join(fixtures, 'github_provenance_demo-0.0.12-py3-none-any.whl');
    const error = await refusal(
      checkProvenance(sha256Of(artifact), {
        attestation: { kind: 'file', path: join(fixtures, 'github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl') },
        expect: {
          signerWorkflow: 'actions/attest-demo/.github/workflows/build-python.yml',
          sourceRepository: 'actions/attest-demo',
          sourceSha: 'a6c23b9806c593664f68637c8f9d45dfcf98b2db',
        },
        roots: await readRootFiles([join(fixtures, 'cli-public-good-trusted-root.json')]),
      }),
    );
    expect(error.reason).toBe('untrusted-certificate');
    expect(error.message).toContain('issued by O=GitHub, Inc., CN=Fulcio Intermediate l2');
  });

  it('the real attestation for another file is "not for this bundle", naming its subject', async () => {
    const error = await refusal(
      checkProvenance(BUNDLE_SHA, {
        attestation: { kind: 'file', path: join(fixtures, 'reusable-workflow-attestation.sigstore.json') },
        expect: {
          signerWorkflow: 'github/artifact-attestations-workflows/.github/workflows/attest.yml',
          sourceRepository: 'malancas/attest-demo',
          sourceSha: '95baf27389e83e6a5c48f42e190d48d7abcea19e',
        },
      }),
    );
    expect(error.reason).toBe('subject-digest');
    expect(error.message).toContain('"github_provenance_demo-0.0.0-py3-none-any.whl" sha256:49a3aa60');
  });
});

describe('attestations of a test Sigstore (test CA, CT log, Rekor-like log, timestamp authority)', () => {
  it('public-good-like: verified with its Rekor entry; the facts name workflow, ref and commit', async () => {
    const facts = await check(await publicGood.attest({ sha256: BUNDLE_SHA }), publicGood);
    expect(facts).toMatchObject({
      signerWorkflow: 'octo-org/app/.github/workflows/build.yml@refs/heads/main',
      sourceRepository: 'octo-org/app',
      sourceRef: 'refs/heads/main',
      sourceSha: DEFAULT_CLAIMS.sha,
    });
    expect(facts.timestamps).toEqual([expect.stringMatching(/^Rekor entry /)]);
  });

  it('GitHub-like: verified with its RFC 3161 timestamp; source-ref may be left out', async () => {
    const facts = await check(await github.attest({ sha256: BUNDLE_SHA }), github, { sourceRef: undefined });
    expect(facts.timestamps).toEqual([expect.stringMatching(/^RFC 3161 timestamp /)]);
  });

  it('the signer workflow with its ref must match whole; owner/repo case-insensitively', async () => {
    const bundle = await publicGood.attest({ sha256: BUNDLE_SHA });
    await expect(
      check(bundle, publicGood, { signerWorkflow: 'Octo-Org/App/.github/workflows/build.yml@refs/heads/main' }),
    ).resolves.toBeDefined();
    const error = await refusal(
      check(bundle, publicGood, { signerWorkflow: 'octo-org/app/.github/workflows/build.yml@refs/heads/dev' }),
    );
    expect(error.reason).toBe('signer-workflow');
  });
});

describe('every mismatch is its own refusal', () => {
  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    [
      'another workflow signed it',
      async () =>
        check(
          await publicGood.attest({
            sha256: BUNDLE_SHA,
            claims: { signerWorkflow: 'octo-org/app/.github/workflows/pr-preview.yml@refs/pull/7/merge' },
          }),
          publicGood,
        ),
      'signer-workflow',
      /signed by workflow octo-org\/app\/\.github\/workflows\/pr-preview\.yml@refs\/pull\/7\/merge, not octo-org\/app\/\.github\/workflows\/build\.yml \(signer-workflow\)/,
    ],
    [
      'a fork built it',
      async () =>
        check(await publicGood.attest({ sha256: BUNDLE_SHA, claims: { repository: 'mallory/app' } }), publicGood),
      'source-repository',
      /built from https:\/\/github\.com\/mallory\/app, not https:\/\/github\.com\/octo-org\/app \(source-repository\)/,
    ],
    [
      'another ref was built',
      async () =>
        check(await publicGood.attest({ sha256: BUNDLE_SHA, claims: { ref: 'refs/heads/experiment' } }), publicGood),
      'source-ref',
      /built from ref refs\/heads\/experiment, not refs\/heads\/main \(source-ref\)/,
    ],
    [
      'another commit was built',
      async () => check(await publicGood.attest({ sha256: BUNDLE_SHA, claims: { sha: '1'.repeat(40) } }), publicGood),
      'source-sha',
      /built from commit 1{40}, not f0959baf/,
    ],
    [
      'the attestation is for another file',
      async () => check(await publicGood.attest({ sha256: 'b'.repeat(64) }), publicGood),
      'subject-digest',
      /not for this bundle: its subjects are "app\.tar\.gz" sha256:b{64}/,
    ],
    [
      'the predicate is not SLSA provenance v1',
      async () =>
        check(
          await publicGood.attest({ sha256: BUNDLE_SHA, predicateType: 'https://spdx.dev/Document/v2.3' }),
          publicGood,
        ),
      'predicate-type',
      /predicate type is "https:\/\/spdx\.dev\/Document\/v2\.3", not SLSA provenance v1/,
    ],
    [
      'the certificate is from a CA the root does not hold',
      async () => check(await (await sigstoreInstance('public-good')).attest({ sha256: BUNDLE_SHA }), publicGood),
      'untrusted-certificate',
      /the signing certificate is not trusted/,
    ],
    [
      'the statement was changed after signing',
      async () =>
        check(
          await publicGood.attest({
            sha256: BUNDLE_SHA,
            tamper: (payload) => Buffer.from(payload.toString().replace('app.tar.gz', 'evil.tar.gz')),
          }),
          publicGood,
        ),
      'signature',
      /the attestation does not match its transparency log entry \(it was changed after signing\): DSSE payload hash mismatch/,
    ],
    [
      'the statement was changed after signing (GitHub-like, no log: the signature itself)',
      async () =>
        check(
          await github.attest({
            sha256: BUNDLE_SHA,
            tamper: (payload) => Buffer.from(payload.toString().replace('app.tar.gz', 'evil.tar.gz')),
          }),
          github,
          { sourceRef: undefined },
        ),
      'signature',
      /the signature does not match the attestation \(it was changed after signing\)/,
    ],
    [
      'no timestamp (GitHub-like, no RFC 3161 timestamp)',
      async () => check(await github.attest({ sha256: BUNDLE_SHA, noTimestamp: true }), github),
      'timestamp',
      /no trusted timestamp for the signature: expected 1 timestamps, got 0/,
    ],
    [
      'no Rekor entry (public-good-like)',
      async () => check(await publicGood.attest({ sha256: BUNDLE_SHA, noTimestamp: true }), publicGood),
      'timestamp',
      /no trusted timestamp/,
    ],
    [
      'timestamped after the certificate expired',
      async () => {
        const late = await sigstoreInstance('github', { timestampDelayMs: 11 * 60_000 });
        return check(await late.attest({ sha256: BUNDLE_SHA }), late);
      },
      'timestamp',
      /outside the signing certificate's validity/,
    ],
    [
      'a certificate for something other than GitHub Actions',
      async () =>
        check(
          await publicGood.attest({ sha256: BUNDLE_SHA, claims: { issuer: 'https://accounts.google.com' } }),
          publicGood,
        ),
      'not-github-actions',
      /not issued to a GitHub Actions workflow: its OIDC issuer is "https:\/\/accounts\.google\.com"/,
    ],
    [
      'not a Sigstore bundle',
      async () => check({ mediaType: 'application/json', hello: 'world' }, publicGood),
      'not-an-attestation',
      /is not a Sigstore bundle/,
    ],
  ];
  it.each(cases)('%s', async (_name, run, reason, message) => {
    const error = await refusal(run());
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
  });
});

describe('several attestations for one digest', () => {
  it('one verifying is enough (an SBOM beside the provenance is passed over); none verifying lists why each failed', async () => {
    const sbom = await publicGood.attest({ sha256: BUNDLE_SHA, predicateType: 'https://spdx.dev/Document/v2.3' });
    const provenance = await publicGood.attest({ sha256: BUNDLE_SHA });
    const lines = (...bundles: unknown[]) => bundles.map((bundle) => JSON.stringify(bundle)).join('\n');
    const roots = [{ name: 'test', json: publicGood.trustedRoot }];
    const facts = await checkProvenance(BUNDLE_SHA, {
      attestation: { kind: 'file', path: file(lines(sbom, provenance)) },
      expect: EXPECT,
      roots,
    });
    expect(facts.attestation).toMatch(/line 2$/);
    const other = await publicGood.attest({ sha256: BUNDLE_SHA, claims: { repository: 'mallory/app' } });
    const error = await refusal(
      checkProvenance(BUNDLE_SHA, {
        attestation: { kind: 'file', path: file(lines(sbom, other)) },
        expect: EXPECT,
        roots,
      }),
    );
    expect(error.message).toMatch(
      /none of the 2 attestations verifies: .*line 1: .*predicate type.*; .*line 2: .*mallory\/app/,
    );
  });
});

describe('trusted roots and bundle files are checked as inputs', () => {
  it('a trusted root that is not one, and a bundle path that is not a file, are told by name', async () => {
    await expect(readRootFiles([join(dir, 'missing.json')])).rejects.toThrow(/missing\.json cannot be read \(ENOENT\)/);
    await expect(
      checkProvenance(BUNDLE_SHA, {
        attestation: { kind: 'file', path: join(fixtures, 'reusable-workflow-attestation.sigstore.json') },
        expect: EXPECT,
        roots: [{ name: 'roots.json', json: { mediaType: 'application/json' } }],
      }),
    ).rejects.toThrow(/roots\.json is not a Sigstore trusted root/);
    await expect(
      checkProvenance(BUNDLE_SHA, { attestation: { kind: 'file', path: dir }, expect: EXPECT }),
    ).rejects.toThrow(/is not a file; pass the path of a Sigstore bundle/);
  });
});
