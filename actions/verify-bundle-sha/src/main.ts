import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { renderVerify, verifyBundle } from '#core/bundle/index.js';
import { describeAddress } from '#core/hosts/index.js';
import { toConfig, toSource, verifyBundleShaInputs } from './inputs.js';
import { toProvenanceHook } from './provenance-inputs.js';

export const action = defineAction({
  name: 'verify-bundle-sha',
  stage: 'verify',
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
  outputs: () =>
    z
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
      })
      .strict(),
  async main(inputs, context) {
    const source = toSource(inputs, context.github);
    const config = toConfig(inputs, context.github);
    // Octokit is loaded only for what needs the API (an artifact, attestations from it), not for a bundle on disk.
    const client = async (token: string) =>
      (await import('#core/github/client.js')).createGitHubClient({ token, logger: context.logger });
    const bundleSource =
      source.kind === 'file'
        ? source
        : { kind: 'artifact' as const, artifact: source, client: await client(source.token) };
    const described =
      source.kind === 'file'
        ? source.path
        : `artifact "${source.name}" of run ${source.runId} in ${source.owner}/${source.repo}`;
    const provenance = await toProvenanceHook(inputs, context.github, client);
    const outcome = await withTarget(
      inputs,
      (target, signal) => verifyBundle(target, { ...config, source: bundleSource, signal, provenance }, context),
      { tempDir: context.tempDir, graceful: true },
    );
    return {
      ...renderVerify(outcome, described, describeAddress(inputs.target)),
      outputs: outcome.ok
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
          }
        : undefined,
    };
  },
});

export const run = action.run;
