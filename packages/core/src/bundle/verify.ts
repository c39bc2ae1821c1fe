import { readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { CoreContext } from '../context.js';
import { ArgumentError, UserError } from '../errors.js';
import type { GitHubClient } from '../github/client.js';
import { LocalTarget } from '../hosts/local.js';
import { isHomePath, type Target } from '../hosts/target.js';
import type { ProvenanceFacts, ProvenanceHook } from '../provenance/index.js';
import type { CheckResult } from '../report/result.js';
import { checksumFor } from './checksum-file.js';
import type { ArtifactSource } from './download.js';
import { SHA256_HEX, sha256File } from './hash.js';
import { commitShaIn, releaseName as makeReleaseName, releaseNameProblem } from './release-name.js';
import { BundleRefused, type BundleRead, type ScanResult } from './unpack.js';
import { unpackLocal } from './unpack-local.js';
import { spoolCanonical, UnpackFailed, unpackRemote } from './unpack-remote.js';

export type BundleSource =
  { kind: 'file'; path: string } | { kind: 'artifact'; artifact: ArtifactSource; client: GitHubClient };

export interface VerifyConfig {
  source: BundleSource;
  /** A checksum file (sha256sum or BSD format); default: the bundle's path + `.sha256`, when it exists. */
  checksumFile?: string;
  expectedSha256?: string;
  /** A releases directory on the target; the bundle is unpacked into `<extractTo>/<releaseName>` when set. */
  extractTo?: string;
  releaseName?: string;
  /** The commit whose first 8 hex digits end the default release name, when the bundle's name holds none. */
  commitSha?: string;
  /** Uncompressed size limit in bytes. */
  maxSize: number;
  /** The time in the default release name (now). */
  now?: Date;
  signal?: AbortSignal;
  /**
   * Verifies the bundle's attestation for the SHA-256 its bytes must have (checksum file / expected-sha256), before
   * the bundle is read or unpacked; the one read then confirms the bytes have it.
   */
  provenance?: ProvenanceHook;
}

export interface VerifyOutcome {
  ok: boolean;
  results: CheckResult[];
  failure?: string;
  sha256?: string;
  bundlePath?: string;
  size?: number;
  /** Entries of the archive, when it was scanned. */
  files?: number;
  releaseName?: string;
  releaseDir?: string;
  artifact?: { id: number; digest?: string; digestVerified?: boolean };
  checksumSources: string[];
  /** What the attestation proved, when provenance was checked. */
  provenance?: ProvenanceFacts;
}

class StepFailed extends Error {}

/** A path on this machine; a leading `~` is the home directory, as on an ssh target. */
function localPath(path: string): string {
  return isHomePath(path) ? join(homedir(), path.slice(1)) : resolve(path);
}

/** Steps recorded as results; a failed step ends the run with its detail as the failure. */
function steps(context: CoreContext) {
  const results: CheckResult[] = [];
  return {
    results,
    pass(name: string, detail: string, started: number) {
      results.push({ name, status: 'pass', detail, durationMs: context.now() - started });
    },
    skip(name: string, detail: string) {
      results.push({ name, status: 'skip', detail, durationMs: 0 });
    },
    fail(name: string, detail: string, started: number): never {
      results.push({ name, status: 'fail', detail, durationMs: context.now() - started });
      throw new StepFailed(detail);
    },
  };
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The bundle in a downloaded artifact: `<artifact-name>.tar.gz`, or its only `.tar.gz`. */
async function bundleInArtifact(dir: string, artifactName: string): Promise<string> {
  const { artifactFiles } = await import('./download.js');
  const files = await artifactFiles(dir);
  if (files.includes(`${artifactName}.tar.gz`)) return join(dir, `${artifactName}.tar.gz`);
  const bundles = files.filter((name) => name.endsWith('.tar.gz'));
  if (bundles.length === 1) return join(dir, bundles[0]!);
  throw new UserError(
    bundles.length === 0
      ? `Artifact "${artifactName}" holds no .tar.gz (it has ${
          files
            .slice(0, 5)
            .map((name) => JSON.stringify(name))
            .join(', ') || 'no files'
        }); upload the bundle pack-bundle wrote (bundle-path and checksum-path).`
      : `Artifact "${artifactName}" holds ${bundles.length} bundles (${bundles.slice(0, 5).join(', ')}); upload one, or name it ${artifactName}.tar.gz.`,
  );
}

/** The expected SHA-256 from the checksum file and/or expected-sha256; both given must agree. */
async function expectedHash(
  config: VerifyConfig,
  bundlePath: string,
  downloaded: boolean,
): Promise<{ sha256: string; sources: string[] }> {
  const sources: string[] = [];
  let fromFile: string | undefined;
  const explicit = config.checksumFile !== undefined;
  const checksumPath = explicit ? resolve(config.checksumFile!) : `${bundlePath}.sha256`;
  if (explicit || (await isFile(checksumPath))) {
    let text: string;
    try {
      text = await readFile(checksumPath, 'utf8');
    } catch (error) {
      throw new ArgumentError(
        'checksumFile',
        `${config.checksumFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); pass the .sha256 file pack-bundle wrote`,
      );
    }
    try {
      fromFile = checksumFor(text, basename(bundlePath)).sha256;
    } catch (error) {
      throw new ArgumentError(
        'checksumFile',
        `${explicit ? config.checksumFile : checksumPath} is not a checksum file for ${basename(bundlePath)}: ${(error as Error).message}`,
      );
    }
    sources.push(`checksum file ${basename(checksumPath)}`);
  }
  const given = config.expectedSha256?.toLowerCase();
  if (given !== undefined) sources.push('expected-sha256');
  if (fromFile === undefined && given === undefined) {
    throw new ArgumentError(
      'checksumFile',
      `no SHA-256 to check ${basename(bundlePath)} against: ${basename(checksumPath)} is not ${downloaded ? 'in the artifact' : 'beside the bundle'}; pass expected-sha256 (e.g. pack-bundle's sha256 output) or checksum-file`,
    );
  }
  if (fromFile !== undefined && given !== undefined && fromFile !== given) {
    throw new UserError(
      `The checksum file (${fromFile}) and expected-sha256 (${given}) disagree; nothing was unpacked. Pass the checksum of the same build to both, or only one.`,
    );
  }
  return { sha256: (given ?? fromFile)!, sources };
}

function defaultReleaseName(config: VerifyConfig, bundlePath: string): string {
  if (config.releaseName !== undefined) return config.releaseName;
  const artifactName = config.source.kind === 'artifact' ? config.source.artifact.name : '';
  const sha =
    commitShaIn(basename(bundlePath)) ??
    commitShaIn(artifactName) ??
    (config.commitSha && /^[0-9a-f]{40}$/i.test(config.commitSha) ? config.commitSha.toLowerCase() : undefined);
  if (!sha)
    throw new ArgumentError(
      'releaseName',
      `cannot be derived: neither the bundle's name (${basename(bundlePath)}) nor GITHUB_SHA holds a full commit SHA; pass release-name (e.g. 20250102_030405-abcdef12)`,
    );
  return makeReleaseName(sha, config.now ?? new Date());
}

type Steps = ReturnType<typeof steps>;

/** The bundle file: downloaded from the run's artifact (digest checked), or the path given. */
async function obtainBundle(
  config: VerifyConfig,
  step: Steps,
  outcome: VerifyOutcome,
  context: CoreContext,
): Promise<{ bundlePath: string; downloadDir?: string }> {
  const started = context.now();
  if (config.source.kind === 'file') {
    const bundlePath = resolve(config.source.path);
    if (!(await isFile(bundlePath)))
      throw new ArgumentError(
        'bundle',
        `${config.source.path} is not a file; pass the path of the .tar.gz (pack-bundle's bundle-path output)`,
      );
    return { bundlePath };
  }
  const { artifact, client } = config.source;
  // The GitHub queries (and @actions/artifact) are loaded only for a download.
  const { downloadRunArtifact } = await import('./download.js');
  const downloaded = await downloadRunArtifact(client, artifact);
  outcome.artifact = { id: downloaded.id, digest: downloaded.digest, digestVerified: downloaded.digestVerified };
  try {
    const bundlePath = await bundleInArtifact(downloaded.dir, artifact.name);
    step.pass(
      'Download',
      `artifact "${artifact.name}" (id ${downloaded.id}, ${downloaded.sizeInBytes} bytes) of run ${artifact.runId} → ${basename(bundlePath)}`,
      started,
    );
    if (downloaded.digestVerified === undefined)
      step.skip('Artifact digest', 'GitHub reports no digest for this artifact (uploaded before upload-artifact v4)');
    else if (downloaded.digestVerified)
      step.pass('Artifact digest', `the zip matches GitHub's ${downloaded.digest}`, started);
    else
      step.fail(
        'Artifact digest',
        `the downloaded zip does not match the digest GitHub reports (${downloaded.digest}); it was deleted and nothing was unpacked`,
        started,
      );
    return { bundlePath, downloadDir: downloaded.dir };
  } catch (error) {
    await rm(downloaded.dir, { recursive: true, force: true });
    throw error;
  }
}

/** Judges a read of the bundle: the Checksum step, then (when it was parsed) the Entries step; throws to stop. */
function judgement(
  config: VerifyConfig,
  step: Steps,
  outcome: VerifyOutcome,
  expected: { sha256: string; sources: string[]; bundlePath: string; downloaded: boolean },
  started: number,
) {
  return (read: { sha256: string; size: number; refusal?: BundleRefused; scan?: ScanResult; tree?: unknown }) => {
    outcome.size = read.size;
    if (read.sha256 !== expected.sha256) {
      step.fail(
        'Checksum',
        `SHA-256 mismatch for ${basename(expected.bundlePath)}: expected ${expected.sha256} (${expected.sources.join(' and ')}), got ${read.sha256}${expected.downloaded ? '; the download was deleted' : ''}; nothing was unpacked`,
        started,
      );
    }
    outcome.sha256 = read.sha256;
    step.pass('Checksum', `${read.sha256} (${read.size} bytes) matches ${expected.sources.join(' and ')}`, started);
    if (read.tree === undefined) return; // hashed only
    const scan = read.scan;
    if (read.refusal || !scan)
      return step.fail('Entries', `${read.refusal?.message ?? 'Bundle refused'}; nothing was unpacked`, started);
    outcome.files = scan.entries;
    step.pass(
      'Entries',
      `${scan.entries} entries, ${scan.contentBytes} bytes uncompressed (max-size ${config.maxSize}): only files, directories and symlinks, every link resolved inside the release, modes normalised`,
      started,
    );
  };
}

/** Unpacks on the target; a failure of the unpacking itself is a failed Unpack step, with nothing left behind. */
async function unpackStep(
  target: Target,
  bundlePath: string,
  name: string,
  config: VerifyConfig,
  judge: (read: BundleRead) => void,
  step: Steps,
  context: CoreContext,
): Promise<string> {
  const extractTo = config.extractTo!;
  try {
    return target instanceof LocalTarget
      ? await unpackLocal(bundlePath, localPath(extractTo), name, config.maxSize, judge, config.signal)
      : await unpackThere(target, bundlePath, extractTo, name, config, judge);
  } catch (error) {
    if (error instanceof StepFailed || (error instanceof UserError && !(error instanceof BundleRefused))) throw error;
    if (error instanceof UnpackFailed) return step.fail('Unpack', error.message, context.now());
    // A filesystem failure (no space, no permission), a tree that differs on disk: told, with nothing left behind.
    return step.fail(
      'Unpack',
      error instanceof BundleRefused
        ? `${error.message}; nothing was unpacked`
        : `unpacking into ${join(extractTo, name)} on ${target.description} failed: ${(error as Error).message}; nothing was left behind`,
      context.now(),
    );
  }
}

/**
 * Verifies a bundle — from a local path or an artifact of another run — against its SHA-256, and unpacks it safely
 * into a new release directory on the target when `extractTo` is set. A mismatch deletes what was downloaded and
 * unpacks nothing; a hostile archive is refused before anything is unpacked.
 */

export async function verifyBundle(target: Target, config: VerifyConfig, context: CoreContext): Promise<VerifyOutcome> {
  if (config.expectedSha256 !== undefined && !SHA256_HEX.test(config.expectedSha256)) {
    throw new ArgumentError(
      'expectedSha256',
      `"${config.expectedSha256}" is not a SHA-256 (64 hex digits), e.g. pack-bundle's sha256 output`,
    );
  }
  const nameProblem = config.releaseName === undefined ? undefined : releaseNameProblem(config.releaseName);
  if (nameProblem) throw new ArgumentError('releaseName', nameProblem);
  const step = steps(context);
  const outcome: VerifyOutcome = { ok: false, results: step.results, checksumSources: [] };
  let downloadDir: string | undefined;
  try {
    // 1. The bundle.
    const obtained = await obtainBundle(config, step, outcome, context);
    downloadDir = obtained.downloadDir;
    const bundlePath = obtained.bundlePath;
    let started = context.now();
    outcome.bundlePath = bundlePath;

    // 2. The checksum (and, when unpacking, every entry): the bundle is read once, from one open file.
    const expected = await expectedHash(config, bundlePath, config.source.kind === 'artifact');
    outcome.checksumSources = expected.sources;
    if (config.provenance) {
      started = context.now();
      const provenance = await config.provenance(expected.sha256);
      if (!provenance.verified) step.fail('Provenance', `${provenance.detail}; nothing was unpacked`, started);
      else {
        outcome.provenance = provenance.facts;
        step.pass('Provenance', provenance.detail, started);
      }
    }
    started = context.now();
    const judge = judgement(
      config,
      step,
      outcome,
      { ...expected, bundlePath, downloaded: downloadDir !== undefined },
      started,
    );

    if (config.extractTo === undefined) {
      judge({ ...(await sha256File(bundlePath, config.signal)) });
      step.skip('Unpack', 'extract-to is not set');
    } else {
      const name = defaultReleaseName(config, bundlePath);
      outcome.releaseName = name;
      // 3. Parsed as it is read, unpacked into a temporary directory, checked on disk, renamed into place.
      const releaseDir = await unpackStep(target, bundlePath, name, config, judge, step, context);
      outcome.releaseDir = releaseDir;
      step.pass(
        'Unpack',
        `${releaseDir} on ${target.description}: every entry checked on disk (type, mode, size, SHA-256, link text, realpath)`,
        started,
      );
    }
    outcome.ok = true;
  } catch (error) {
    if (!(error instanceof StepFailed)) {
      if (downloadDir) await rm(downloadDir, { recursive: true, force: true });
      throw error;
    }
    outcome.failure = error.message;
  }
  if (!outcome.ok && downloadDir) {
    await rm(downloadDir, { recursive: true, force: true });
    outcome.bundlePath = undefined;
  }
  return outcome;
}

/** A host: the canonical archive is spooled in the same pass, then unpacked and checked by the host. */
async function unpackThere(
  target: Target,
  bundlePath: string,
  extractTo: string,
  name: string,
  config: VerifyConfig,
  judge: (read: BundleRead) => void,
) {
  let verdict: unknown;
  const spooled = await spoolCanonical(
    bundlePath,
    config.maxSize,
    (read) => {
      try {
        judge(read);
        return true;
      } catch (error) {
        verdict = error;
        return false;
      }
    },
    config.signal,
  );
  try {
    if (verdict !== undefined) throw verdict;
    return await unpackRemote(
      target,
      { file: spooled.file!, sha256: spooled.sha256!, read: spooled.read },
      extractTo,
      name,
    );
  } finally {
    spooled.read.tree.close();
    await rm(spooled.dir, { recursive: true, force: true });
  }
}
