import { UserError } from '../errors.js';
import type { CheckResult } from '../report/result.js';

/** What to find: the build run (and artifact) of exactly one commit. */
export interface BuildRunQuery {
  owner: string;
  repo: string;
  /** Workflow file name (`build-artifacts.yml`), numeric id, or display name. */
  workflow: string;
  /** Full 40-hex commit SHA. */
  sha: string;
  branch?: string;
  event?: string;
  conclusion: string;
  /** Artifact name; `{sha}` and `{sha8}` are replaced by the commit's SHA and its first 8 characters. */
  artifactName?: string;
  waitMs: number;
  pollIntervalMs: number;
  /** For promotions: this environment's latest deployment must be this SHA, successful, at least minAgeMs old. */
  requireEnvironment?: string;
  minAgeMs?: number;
}

export interface ResolvedArtifact {
  id: number;
  name: string;
  sizeInBytes: number;
  digest?: string;
  expiresAt?: string;
}

export interface EnvironmentEvidence {
  environment: string;
  deploymentId: number;
  state: string;
  successSince: string;
  ageMs: number;
}

export interface BuildRunResolution {
  workflow: { id: number; name: string; file: string; htmlUrl: string };
  run: {
    id: number;
    url: string;
    attempt: number;
    number: number;
    headSha: string;
    createdAt: string;
    branch?: string;
    event: string;
  };
  artifact?: ResolvedArtifact;
  environment?: EnvironmentEvidence;
  results: CheckResult[];
}

/** A failure to resolve, with the checks that led to it (for the job summary). */
export class BuildRunNotResolved extends UserError {
  override name = 'BuildRunNotResolved';
  constructor(
    message: string,
    readonly results: CheckResult[],
  ) {
    super(message);
  }
}

/** The checks of one resolution, in order. A failed check throws BuildRunNotResolved carrying all of them. */
export class Checks {
  readonly results: CheckResult[] = [];
  constructor(private readonly now: () => number) {}

  pass(name: string, detail: string, started: number): CheckResult {
    return this.record(name, 'pass', detail, started);
  }

  fail(name: string, message: string, started: number): never {
    this.record(name, 'fail', message.split('\n')[0]!, started);
    throw new BuildRunNotResolved(message, this.results);
  }

  /** Runs one step: a user error in it (a GitHub failure, an unknown name) becomes the step's failed check, so the summary shows where it stopped. */
  async step<T>(name: string, started: number, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof UserError && !(error instanceof BuildRunNotResolved))
        this.fail(name, error.message, started);
      throw error;
    }
  }

  private record(name: string, status: CheckResult['status'], detail: string, started: number): CheckResult {
    const result = { name, status, detail, durationMs: this.now() - started };
    this.results.push(result);
    return result;
  }
}
