import type { GitHubDouble } from './server.js';

/**
 * The attestations endpoint of the GitHub double (`GET /repos/{owner}/{repo}/attestations/{subject_digest}`), as
 * GitHub answers it for the API version Octokit asks for (2022-11-28): every attestation stored for that digest in
 * the repository, each with its Sigstore bundle inline, `repository_id` and a `bundle_url`; 404 when there is none
 * (the GitHub CLI reads 404 as "no attestations found"). `per_page` pages (default 30); `predicate_type` filters
 * `provenance` to SLSA provenance. Registered in server.ts with one line.
 */
export interface AttestationSpec {
  /** `owner/name` of the repository the attestation belongs to. */
  repository: string;
  /** The subject's SHA-256 (hex). */
  sha256: string;
  /** The Sigstore bundle (JSON form); null to model an answer with only a bundle_url. */
  bundle: Record<string, unknown> | null;
  predicateType?: string;
}

const stores = new WeakMap<GitHubDouble, AttestationSpec[]>();

/** Stores an attestation the double serves. */
export function addAttestation(double: GitHubDouble, spec: AttestationSpec): void {
  const list = stores.get(double) ?? [];
  list.push(spec);
  stores.set(double, list);
}

interface Reply {
  status: number;
  body: unknown;
}

const PREDICATES: Record<string, string> = {
  provenance: 'https://slsa.dev/provenance/v1',
  sbom: 'https://spdx.dev/Document/v2.3',
};

export function attestationRoutes(double: GitHubDouble) {
  const list = (match: RegExpExecArray, query: URLSearchParams, repo: string): Reply => {
    const digest = decodeURIComponent(match[3]!).toLowerCase();
    const wanted = query.get('predicate_type');
    const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 30) || 30, 1), 100);
    const found = (stores.get(double) ?? []).filter(
      (spec) =>
        spec.repository.toLowerCase() === repo.toLowerCase() &&
        `sha256:${spec.sha256.toLowerCase()}` === digest &&
        (!wanted || spec.predicateType === (PREDICATES[wanted] ?? wanted)),
    );
    if (found.length === 0)
      return {
        status: 404,
        body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' },
      };
    return {
      status: 200,
      body: {
        attestations: found.slice(0, perPage).map((spec, index) => ({
          ...(spec.bundle ? { bundle: spec.bundle } : {}),
          repository_id: 42,
          bundle_url: `${double.url}/_attestations/${index}.json.sn?sig=redacted`,
        })),
      },
    };
  };
  return [['/repos/{owner}/{repo}/attestations/{subject_digest}', list] as const];
}
