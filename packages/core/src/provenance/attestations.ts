import { z } from 'zod';
import { once } from '../lazy.js';
import type { GitHubClient } from '../github/client.js';
import { GitHubHttpError } from '../github/errors.js';
import { read, type RepoRef } from '../github/queries.js';
import { ProvenanceRefused } from './errors.js';
import type { Candidate } from './verify.js';

/** Built on first use (see ../lazy.ts). */
const attestationListSchema = once(() =>
  z.object({
    attestations: z.array(
      z.object({
        bundle: z.record(z.string(), z.unknown()).nullable().optional(),
        bundle_url: z.string().optional(),
      }),
    ),
  }),
);

/**
 * The attestations GitHub keeps for a digest in a repository (`GET /repos/{owner}/{repo}/attestations/sha256:…`,
 * one page of up to 100), each a candidate to verify here: what the API says is never trusted, only what verifies.
 * GitHub answers 404 when it has none.
 */
export async function fetchAttestations(
  client: GitHubClient,
  repository: RepoRef,
  sha256: string,
): Promise<Candidate[]> {
  const full = `${repository.owner}/${repository.repo}`;
  let list: z.infer<ReturnType<typeof attestationListSchema>>;
  try {
    list = await read(
      client,
      { what: `attestations of sha256:${sha256} in ${full}`, permission: 'attestations: read' },
      'GET /repos/{owner}/{repo}/attestations/{subject_digest}',
      { owner: repository.owner, repo: repository.repo, subject_digest: `sha256:${sha256}`, per_page: 100 },
      attestationListSchema(),
    );
  } catch (error) {
    if (error instanceof GitHubHttpError && error.status === 404)
      throw new ProvenanceRefused(
        'no-attestation',
        `GitHub has no attestation for sha256:${sha256} in ${full}: the build workflow must attest the bundle (actions/attest-build-provenance with subject-path the bundle, permissions id-token: write and attestations: write), or the token cannot see the repository`,
      );
    throw error;
  }
  if (list.attestations.length === 0)
    throw new ProvenanceRefused('no-attestation', `GitHub lists no attestation for sha256:${sha256} in ${full}`);
  return list.attestations.map((entry, index) => ({
    label: `attestation ${index + 1} of ${list.attestations.length} for sha256:${sha256.slice(0, 12)}… in ${full}`,
    json: entry.bundle,
    // A bundle only behind bundle_url (snappy-compressed, API version 2026-03-10 and later) is not fetched.
    unavailable: entry.bundle
      ? undefined
      : 'GitHub served this attestation only as a bundle_url; download it (gh attestation download) and pass its path as attestation',
  }));
}
