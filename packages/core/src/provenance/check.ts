import { readFile, stat } from 'node:fs/promises';
import { ArgumentError } from '../errors.js';
import { ProvenanceRefused, type RefusalReason } from './errors.js';
import type { GitHubClient } from '../github/client.js';
import type { RepoRef } from '../github/queries.js';
import { fetchAttestations } from './attestations.js';
import type { ProvenanceExpectations } from './identity.js';
import { DEFAULT_ROOTS, loadRoot, type RootSource } from './trust.js';
import { verifyAnyAttestation, type Candidate, type ProvenanceFacts } from './verify.js';

export type AttestationSource =
  { kind: 'file'; path: string } | { kind: 'api'; client: GitHubClient; repository: RepoRef };

export interface ProvenanceOptions {
  attestation: AttestationSource;
  expect: ProvenanceExpectations;
  /** Trusted roots; default the public-good Sigstore root and GitHub's, shipped with the action. */
  roots?: RootSource[];
}

/** A bundle JSON file is small; anything larger is not one. */
const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

/** A Sigstore bundle file, or JSON lines of bundles (`gh attestation download` writes `sha256:….jsonl`). */
async function readBundleFile(path: string): Promise<Candidate[]> {
  const size = await stat(path).then(
    (info) => (info.isFile() ? info.size : -1),
    () => -1,
  );
  if (size < 0)
    throw new ArgumentError(
      'attestation',
      `${path} is not a file; pass the path of a Sigstore bundle (.json or .jsonl), auto (from GitHub's attestations API) or off`,
    );
  if (size > MAX_BUNDLE_BYTES)
    throw new ArgumentError('attestation', `${path} is ${size} bytes, larger than any Sigstore bundle (16 MiB)`);
  const text = await readFile(path, 'utf8');
  const lines = text.trim().startsWith('{') && !/\}\s*\n\s*\{/.test(text) ? [text] : text.split('\n');
  const candidates = lines.filter((line) => line.trim());
  return candidates.map((line, index) => {
    const label = candidates.length > 1 ? `${path} line ${index + 1}` : path;
    try {
      return { label, json: JSON.parse(line) as unknown };
    } catch {
      throw new ArgumentError('attestation', `${label} is not JSON; pass a Sigstore bundle (.json or .jsonl)`);
    }
  });
}

/**
 * The provenance of a bundle whose SHA-256 was computed once by the caller (never re-read here): its attestation
 * — from a file or GitHub's attestations API — verified against the trusted roots and the expectations. Resolves
 * with what was verified; rejects with a ProvenanceRefused naming the mismatch.
 */
export async function checkProvenance(sha256: string, options: ProvenanceOptions): Promise<ProvenanceFacts> {
  const roots = (options.roots ?? DEFAULT_ROOTS).map(loadRoot);
  const candidates =
    options.attestation.kind === 'file'
      ? await readBundleFile(options.attestation.path)
      : await fetchAttestations(options.attestation.client, options.attestation.repository, sha256);
  return verifyAnyAttestation(candidates, sha256, roots, options.expect);
}

/** One line for the step's result and the summary: who built it, from what, and when that was witnessed. */
export function describeProvenance(facts: ProvenanceFacts): string {
  return `built by ${facts.signerWorkflow} from ${facts.sourceRepository}@${facts.sourceSha}${
    facts.sourceRef ? ` (${facts.sourceRef})` : ''
  }; SLSA provenance signed via ${facts.trustedRoot}, ${facts.timestamps.join(', ')}`;
}

export type ProvenanceResult =
  | { verified: true; facts: ProvenanceFacts; detail: string }
  | { verified: false; reason: RefusalReason; detail: string };

/**
 * The check verify-bundle-sha runs with the SHA-256 it computed, before anything is unpacked: one call, one result;
 * a refusal is a result, anything else (bad input, GitHub unreachable) is thrown.
 */
export type ProvenanceHook = (sha256: string) => Promise<ProvenanceResult>;

export function provenanceHook(options: ProvenanceOptions): ProvenanceHook {
  return async (sha256) => {
    try {
      const facts = await checkProvenance(sha256, options);
      return { verified: true, facts, detail: describeProvenance(facts) };
    } catch (error) {
      if (!(error instanceof ProvenanceRefused)) throw error;
      return { verified: false, reason: error.reason, detail: `provenance refused: ${error.message}` };
    }
  };
}
