import { z } from 'zod';
import { requireToken, type GitHubFacts } from '#action-kit/github.js';
import { InputError, list, optional, optionalRepository, withDefault } from '#action-kit/inputs.js';
import type { GitHubClient } from '#core/github/index.js';
import type { ProvenanceHook } from '#core/provenance/index.js';

const WORKFLOW = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/\.github\/workflows\/[^@\s]+\.ya?ml(@\S+)?$/;

/** The provenance inputs of verify-bundle-sha, as action.yml declares them. */
export const provenanceInputs = {
  attestation: withDefault('off', z.string().trim()),
  'signer-workflow': optional(),
  'source-repository': optionalRepository(),
  'source-ref': optional(),
  'source-sha': optional(),
  'trusted-root': list(),
};

type ProvenanceInputs = z.output<z.ZodObject<typeof provenanceInputs>>;

const EXAMPLE = 'e.g. octo-org/app/.github/workflows/build.yml';

function expectations(inputs: ProvenanceInputs, github: GitHubFacts) {
  const signerWorkflow = inputs['signer-workflow'];
  if (!signerWorkflow)
    throw new InputError(
      'signer-workflow',
      `is required when attestation is ${inputs.attestation}: name the workflow that builds and attests the bundle, ${EXAMPLE}`,
    );
  if (!WORKFLOW.test(signerWorkflow))
    throw new InputError(
      'signer-workflow',
      `"${signerWorkflow}" is not owner/repo/.github/workflows/<file>.yml, ${EXAMPLE}`,
    );
  const given = inputs['source-repository'];
  const repository = given ?? github.repository;
  const sourceRepository = repository && `${repository.owner}/${repository.repo}`;
  if (!sourceRepository)
    throw new InputError(
      'source-repository',
      'is empty and GITHUB_REPOSITORY is not set; pass owner/name, e.g. octo-org/app',
    );
  const sourceSha = (inputs['source-sha'] ?? github.sha)?.toLowerCase();
  if (!sourceSha || !/^[0-9a-f]{40}$/.test(sourceSha))
    throw new InputError(
      'source-sha',
      `${sourceSha ? `"${sourceSha}" is not a full commit SHA (40 hex digits)` : 'is empty and GITHUB_SHA is not set'}; pass the commit the bundle was built from, e.g. resolve-build-run's sha`,
    );
  return {
    signerWorkflow,
    sourceRepository,
    sourceRef: inputs['source-ref'],
    sourceSha,
    serverUrl: github.serverUrl,
  };
}

function apiToken(github: GitHubFacts): string {
  return requireToken(github, 'attestations: read', "attestation: auto reads GitHub's attestations API");
}

/**
 * The provenance check the inputs ask for, or undefined when attestation is off (then no other provenance input may
 * be set: a signer-workflow that silently checks nothing would be worse than none).
 */
export async function toProvenanceHook(
  inputs: ProvenanceInputs,
  github: GitHubFacts,
  client: (token: string) => Promise<GitHubClient>,
): Promise<ProvenanceHook | undefined> {
  const mode = inputs.attestation;
  if (mode.toLowerCase() === 'off') {
    const set = (['signer-workflow', 'source-repository', 'source-ref', 'source-sha'] as const).find(
      (name) => inputs[name] !== undefined,
    );
    if (set || inputs['trusted-root'].length > 0)
      throw new InputError(
        'attestation',
        `is off, but ${set ?? 'trusted-root'} is set: nothing would be verified; set attestation to auto (GitHub's attestations API) or a bundle's path`,
      );
    return undefined;
  }
  const expect = expectations(inputs, github);
  const { provenanceHook, readRootFiles } = await import('#core/provenance/index.js');
  const roots = inputs['trusted-root'].length > 0 ? await readRootFiles(inputs['trusted-root']) : undefined;
  const [owner = '', repo = ''] = expect.sourceRepository.split('/');
  return provenanceHook({
    attestation:
      mode.toLowerCase() === 'auto'
        ? { kind: 'api', client: await client(apiToken(github)), repository: { owner, repo } }
        : { kind: 'file', path: mode },
    expect,
    roots,
  });
}
