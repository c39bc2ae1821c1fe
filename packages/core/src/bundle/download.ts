import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitHubClient } from '../github/client.js';
import { artifactExpired, listRunArtifacts, type RepoRef } from '../github/queries.js';
import { UserError } from '../errors.js';

/**
 * Downloads an artifact of another workflow run with @actions/artifact (`downloadArtifact` with `findBy`): it asks
 * the REST API for the artifact's zip (`GET /repos/{o}/{r}/actions/artifacts/{id}/zip`, a 302 to a blob URL),
 * streams it from there and unzips it into a private folder, hashing the zip as it goes. The artifact is found
 * first with the project's GitHub client (name, expiry and digest checked with zod), so an expired or missing
 * artifact is told plainly, and the digest GitHub reports (upload-artifact v4+) is handed to the download, which
 * compares it with the zip's own SHA-256.
 *
 * @actions/artifact takes its API root from GITHUB_API_URL when it is loaded, and refuses GitHub Enterprise Server
 * (GITHUB_SERVER_URL other than github.com, *.ghe.com or *.localhost).
 */
export interface ArtifactSource extends RepoRef {
  runId: number;
  name: string;
  /**
   * The artifact resolve-build-run chose (its id): exactly that one is downloaded. Without it, the newest live
   * artifact of that name in the run (a re-run may have uploaded a second one between the two jobs).
   */
  id?: number;
  token: string;
}

export interface DownloadedArtifact {
  /** The private folder the artifact was unzipped into; the caller removes it. */
  dir: string;
  id: number;
  /** `sha256:<hex>` when GitHub reports it. */
  digest?: string;
  /** True when GitHub reported a digest and the zip matched it; undefined when none was reported. */
  digestVerified?: boolean;
  sizeInBytes: number;
}

export class ArtifactUnavailable extends UserError {
  override name = 'ArtifactUnavailable';
}

export async function downloadRunArtifact(
  client: GitHubClient,
  source: ArtifactSource,
  tempRoot = process.env.RUNNER_TEMP || tmpdir(),
): Promise<DownloadedArtifact> {
  const where = `run ${source.runId} of ${source.owner}/${source.repo}`;
  const all = await listRunArtifacts(client, source, { id: source.runId, run_number: source.runId }, source.name);
  const named = source.id === undefined ? all : all.filter((artifact) => artifact.id === source.id);
  if (source.id !== undefined && named.length === 0)
    throw new ArtifactUnavailable(
      `${where} has no artifact ${source.id} named "${source.name}"${all.length > 0 ? ` (its "${source.name}" is ${all.map((artifact) => artifact.id).join(', ')})` : ''}; pass the artifact-id resolve-build-run chose for this run-id and artifact-name, or leave artifact-id empty.`,
    );
  const gone = (artifact: (typeof all)[number]) => artifactExpired(artifact, Date.now());
  const live = named.filter((artifact) => !gone(artifact)).sort((a, b) => b.id - a.id)[0];
  if (!live) {
    const expired = named.find(gone);
    if (expired) {
      throw new ArtifactUnavailable(
        `Artifact "${source.name}" of ${where} expired${expired.expires_at ? ` at ${expired.expires_at}` : ''} and cannot be downloaded; re-run the build for this commit (expired artifacts cannot be restored), or raise retention-days where it is uploaded.`,
      );
    }
    throw new ArtifactUnavailable(
      `${where} has no artifact named "${source.name}"; check artifact-name against the name the build uploads (e.g. resolve-build-run's artifact-name output) and run-id.`,
    );
  }
  const digest = live.digest && /^sha256:[0-9a-f]{64}$/i.test(live.digest) ? live.digest.toLowerCase() : undefined;
  const dir = await mkdtemp(join(tempRoot, 'dg-artifact-'));
  try {
    const { DefaultArtifactClient } = await import('@actions/artifact');
    const result = await new DefaultArtifactClient().downloadArtifact(live.id, {
      path: dir,
      ...(digest ? { expectedHash: digest } : {}),
      findBy: {
        token: source.token,
        workflowRunId: source.runId,
        repositoryOwner: source.owner,
        repositoryName: source.repo,
      },
    });
    return {
      dir,
      id: live.id,
      digest,
      digestVerified: digest ? !result.digestMismatch : undefined,
      sizeInBytes: live.size_in_bytes,
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const status = (error as { status?: number }).status;
    const message = error instanceof Error ? error.message : String(error);
    if (status === 410 || /\b410\b|expired/i.test(message))
      throw new ArtifactUnavailable(
        `Artifact "${source.name}" (id ${live.id}) of ${where} has expired (GitHub answered 410 Gone); re-run the build for this commit.`,
      );
    if (status === 404)
      throw new ArtifactUnavailable(
        `Artifact "${source.name}" (id ${live.id}) of ${where} was not found for download (404); it may have been deleted, or the token lacks actions: read on ${source.owner}/${source.repo}.`,
      );
    if (status === 401 || status === 403)
      throw new ArtifactUnavailable(
        `Downloading artifact "${source.name}" of ${where} was refused (${status}); github-token needs actions: read on ${source.owner}/${source.repo}.`,
      );
    throw new ArtifactUnavailable(
      `Downloading artifact "${source.name}" (id ${live.id}) of ${where} failed: ${message}`,
    );
  }
}

/** The files directly in a downloaded artifact's folder. */
export async function artifactFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
}
