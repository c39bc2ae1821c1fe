import { GITHUB_ACTIONS_ISSUER, type BuildIdentity } from './certificate.js';
import { ProvenanceRefused } from './errors.js';

/** What the certificate must say about the build. */
export interface ProvenanceExpectations {
  /** `owner/repo/.github/workflows/build.yml`, optionally with `@<ref>`: the workflow that signed (Build Signer URI). */
  signerWorkflow: string;
  /** `owner/repo`: the repository whose code was built (Source Repository URI). */
  sourceRepository: string;
  /** `refs/heads/main`: the ref that was built (Source Repository Ref); any ref when not set. */
  sourceRef?: string;
  /** The commit that was built (Source Repository Digest). */
  sourceSha: string;
  /** The GitHub the workflows ran on (default https://github.com). */
  serverUrl?: string;
}

/** The build the certificate names, once it matched. */
export interface VerifiedBuild {
  /** `owner/repo/.github/workflows/build.yml@refs/heads/main`, as the certificate names it. */
  signerWorkflow: string;
  sourceRepository: string;
  sourceRef?: string;
  sourceSha: string;
  /** The workflow the run started from (a reusable workflow's caller). */
  buildConfig?: string;
  /** The run that signed, `https://github.com/owner/repo/actions/runs/<id>/attempts/<n>`. */
  runInvocation?: string;
}

/** GitHub Actions' OIDC issuer for a GitHub: token.actions.githubusercontent.com, or token.actions.<tenant>.ghe.com. */
export function actionsIssuer(serverUrl: string): string {
  const host = new URL(serverUrl).hostname;
  return host.endsWith('.ghe.com') ? `https://token.actions.${host}` : GITHUB_ACTIONS_ISSUER;
}

/** owner/repo case-insensitively (GitHub's names are), the rest exactly. */
function sameWorkflow(found: string, expected: string): boolean {
  const split = (text: string) => {
    const [owner = '', repo = '', ...rest] = text.split('/');
    return [`${owner}/${repo}`.toLowerCase(), rest.join('/')];
  };
  const [foundRepo, foundRest] = split(found);
  const [expectedRepo, expectedRest] = split(expected);
  return foundRepo === expectedRepo && foundRest === expectedRest;
}

/** The signer workflow of a Build Signer URI, `owner/repo/path@ref`, or undefined when it is on another host. */
function signerOf(uri: string | undefined, server: string): string | undefined {
  return uri?.startsWith(`${server}/`) ? uri.slice(server.length + 1) : undefined;
}

/** Every expectation against the certificate's extensions; each mismatch its own error, naming input and fix. */
export function checkIdentity(identity: BuildIdentity, expect: ProvenanceExpectations): VerifiedBuild {
  const server = (expect.serverUrl ?? 'https://github.com').replace(/\/+$/, '');
  const issuer = actionsIssuer(server);
  if (identity.issuer !== issuer)
    throw new ProvenanceRefused(
      'not-github-actions',
      `the signing certificate was not issued to a GitHub Actions workflow: its OIDC issuer is ${JSON.stringify(identity.issuer ?? '(none)')}, not ${issuer}`,
    );
  const signer = signerOf(identity.buildSignerUri, server) ?? identity.buildSignerUri ?? '(none)';
  const at = signer.indexOf('@');
  const compared = expect.signerWorkflow.includes('@') || at < 0 ? signer : signer.slice(0, at);
  if (!sameWorkflow(compared, expect.signerWorkflow))
    throw new ProvenanceRefused(
      'signer-workflow',
      `the attestation was signed by workflow ${signer}, not ${expect.signerWorkflow} (signer-workflow); if that workflow is the one that builds your bundles, set signer-workflow to ${at < 0 ? signer : signer.slice(0, at)}`,
    );
  const repository = `${server}/${expect.sourceRepository}`;
  if (identity.sourceRepositoryUri?.toLowerCase() !== repository.toLowerCase())
    throw new ProvenanceRefused(
      'source-repository',
      `the bundle was built from ${identity.sourceRepositoryUri ?? '(no repository)'}, not ${repository} (source-repository)`,
    );
  if (expect.sourceRef !== undefined && identity.sourceRepositoryRef !== expect.sourceRef)
    throw new ProvenanceRefused(
      'source-ref',
      `the bundle was built from ref ${identity.sourceRepositoryRef ?? '(none)'}, not ${expect.sourceRef} (source-ref)`,
    );
  const sha = identity.sourceRepositoryDigest?.toLowerCase();
  if (sha !== expect.sourceSha.toLowerCase())
    throw new ProvenanceRefused(
      'source-sha',
      `the bundle was built from commit ${sha ?? '(none)'}, not ${expect.sourceSha.toLowerCase()} (source-sha, default the SHA being deployed): it is another commit's build`,
    );
  return {
    signerWorkflow: signer,
    sourceRepository: expect.sourceRepository,
    sourceRef: identity.sourceRepositoryRef,
    sourceSha: sha,
    buildConfig: signerOf(identity.buildConfigUri, server) ?? identity.buildConfigUri,
    runInvocation: identity.runInvocationUri,
  };
}
