import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { verifyBundle, type VerifyOutcome } from '#core/bundle/index.js';
import { describeAddress } from '#core/hosts/index.js';
import { toConfig, toSource, verifyBundleShaInputs } from './inputs.js';
import { toProvenanceHook } from './provenance-inputs.js';

function facts(outcome: VerifyOutcome, source: string, target: string): [string, string][] {
  const rows: [string, string][] = [
    ['Source', source],
    ['Target', target],
  ];
  if (outcome.bundlePath)
    rows.push(['Bundle', `${outcome.bundlePath}${outcome.size !== undefined ? ` (${outcome.size} bytes)` : ''}`]);
  if (outcome.sha256) rows.push(['SHA-256', `${outcome.sha256} (${outcome.checksumSources.join(' and ')})`]);
  if (outcome.artifact) rows.push(['Artifact digest', outcome.artifact.digest ?? 'not reported by GitHub']);
  const provenance = outcome.results.find((result) => result.name === 'Provenance' && result.status === 'pass');
  rows.push(['Provenance', provenance ? `verified: ${provenance.detail}` : 'off']);
  if (outcome.releaseDir) rows.push(['Release', outcome.releaseDir]);
  return rows;
}

export const action = defineAction({
  name: 'verify-bundle-sha',
  inputs: verifyBundleShaInputs,
  secrets: { 'github-token': 'value', ...targetSecrets },
  argumentInputs: {
    bundle: 'bundle',
    checksumFile: 'checksum-file',
    expectedSha256: 'expected-sha256',
    releaseName: 'release-name',
    attestation: 'attestation',
    trustedRoot: 'trusted-root',
  },
  outputs: z
    .object({
      sha256: outputValue().regex(/^[0-9a-f]{64}$/),
      'bundle-path': outputValue(),
      verified: z.literal('true'),
      'release-dir': outputValue().optional(),
      'release-name': outputValue().optional(),
      files: outputValue().regex(/^\d+$/).optional(),
      provenance: z.enum(['verified', 'off']),
      'signer-workflow': outputValue().optional(),
      'source-sha': outputValue()
        .regex(/^[0-9a-f]{40}$/)
        .optional(),
      report: outputValue(),
    })
    .strict(),
  async main(inputs, context) {
    const source = toSource(inputs, context.github);
    const config = toConfig(inputs, context.github);
    const { createGitHubClient } = await import('#core/github/client.js');
    const bundleSource =
      source.kind === 'file'
        ? source
        : {
            kind: 'artifact' as const,
            artifact: source,
            client: createGitHubClient({ token: source.token, logger: context.logger }),
          };
    const described =
      source.kind === 'file'
        ? source.path
        : `artifact "${source.name}" of run ${source.runId} in ${source.owner}/${source.repo}`;
    const provenance = await toProvenanceHook(inputs, context.github, (token) =>
      createGitHubClient({ token, logger: context.logger }),
    );
    const outcome = await withTarget(
      inputs,
      (target, signal) => verifyBundle(target, { ...config, source: bundleSource, signal, provenance }, context),
      { tempDir: context.tempDir, graceful: true },
    );
    const target = { description: describeAddress(inputs.target) };
    const report = inputs['report-path'] ?? context.defaultReportPath;
    const { results, failure, ok, ...rest } = outcome;
    return {
      title: 'Bundle verification',
      itemLabel: 'Step',
      results,
      facts: facts(outcome, described, target.description),
      report: {
        path: report,
        document: {
          action: 'verify-bundle-sha',
          ok,
          source: described,
          target: target.description,
          ...rest,
          failure,
          results,
        },
      },
      outputs: ok
        ? {
            sha256: outcome.sha256,
            'bundle-path': outcome.bundlePath,
            verified: 'true',
            'release-dir': outcome.releaseDir,
            'release-name': outcome.releaseName,
            files: outcome.files?.toString(),
            provenance: outcome.provenance ? 'verified' : 'off',
            'signer-workflow': outcome.provenance?.signerWorkflow,
            'source-sha': outcome.provenance?.sourceSha,
            report,
          }
        : undefined,
      verdict: outcome.releaseDir
        ? `${outcome.sha256} verified, unpacked into ${outcome.releaseDir}`
        : `${outcome.sha256} verified`,
      failure: ok ? undefined : (failure ?? 'verify-bundle-sha failed'),
    };
  },
});

export const run = action.run;
