import * as core from '#action-kit/runner.js';
import { z } from 'zod';
import { maskSecrets, outputValue, readInputs, runAction, runnerLogger, writeOutputs, writeSummary } from '#action-kit/index.js';
import { InputError } from '#core/errors.js';
import { Redactor } from '#core/redact.js';
import { formatResultLine, type CheckResult } from '#core/report/result.js';
import { BuildRunNotResolved, FULL_SHA, resolveBuildRun, type BuildRunResolution } from '#core/build-run/resolve.js';
import { resolveBuildRunInputs } from './inputs.js';

const TITLE = 'Build run';

const outputsSchema = z
  .object({
    'run-id': outputValue().regex(/^\d+$/),
    'run-url': outputValue().url(),
    'run-attempt': outputValue().regex(/^\d+$/),
    'run-number': outputValue().regex(/^\d+$/),
    'head-sha': outputValue().regex(FULL_SHA),
    'created-at': outputValue(),
    'artifact-id': outputValue().regex(/^\d+$/).optional(),
    'artifact-name': outputValue().optional(),
    'artifact-size': outputValue().regex(/^\d+$/).optional(),
    'artifact-digest': outputValue().regex(/^sha256:[0-9a-f]{64}$/).optional(),
    'artifact-expires-at': outputValue().optional(),
  })
  .strict();

function outputs(resolution: BuildRunResolution, sha: string) {
  if (resolution.run.headSha.toLowerCase() !== sha.toLowerCase()) {
    throw new Error(`resolved run ${resolution.run.id} is for ${resolution.run.headSha}, not ${sha}`);
  }
  const { run, artifact } = resolution;
  return {
    'run-id': String(run.id),
    'run-url': run.url,
    'run-attempt': String(run.attempt),
    'run-number': String(run.number),
    'head-sha': run.headSha,
    'created-at': run.createdAt,
    ...(artifact
      ? {
          'artifact-id': String(artifact.id),
          'artifact-name': artifact.name,
          'artifact-size': String(artifact.sizeInBytes),
          'artifact-digest': artifact.digest,
          'artifact-expires-at': artifact.expiresAt,
        }
      : {}),
  };
}

function facts(resolution: BuildRunResolution | undefined, sha: string, repository: string): [string, string][] {
  const rows: [string, string][] = [
    ['Repository', repository],
    ['Commit', sha],
  ];
  if (!resolution) return rows;
  const { workflow, run, artifact, environment } = resolution;
  rows.push(['Workflow', `${workflow.file} ("${workflow.name}")`], ['Run', `#${run.number} attempt ${run.attempt} (id ${run.id}) ${run.url}`], ['Run created', run.createdAt]);
  if (artifact) {
    rows.push(['Artifact', `${artifact.name} (id ${artifact.id}, ${artifact.sizeInBytes} bytes)`], ['Artifact digest', artifact.digest ?? 'not reported by GitHub']);
    if (artifact.expiresAt) rows.push(['Artifact expires', artifact.expiresAt]);
  }
  if (environment) rows.push(['Environment', `${environment.environment}: deployment ${environment.deploymentId} ${environment.state} since ${environment.successSince}`]);
  return rows;
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const redactor = new Redactor();
    // Masked before anything is parsed or logged. An empty input falls back to GITHUB_TOKEN (set when the
    // workflow passes the job token through env), as the other GITHUB_* defaults do.
    const envToken = core.getInput('github-token').trim() === '' ? process.env.GITHUB_TOKEN?.trim() || undefined : undefined;
    maskSecrets(redactor, core.getInput('github-token'), envToken);
    const inputs = readInputs(resolveBuildRunInputs);
    const logger = runnerLogger('resolve-build-run');

    const sha = inputs.sha ?? process.env.GITHUB_SHA?.trim().toLowerCase();
    if (!sha) throw new InputError('sha', 'is empty and GITHUB_SHA is not set; pass the full commit SHA');
    if (!FULL_SHA.test(sha)) throw new InputError('sha', `is empty and GITHUB_SHA "${sha}" is not a full 40-character SHA; pass the sha input`);
    const repository = inputs.repository ?? (process.env.GITHUB_REPOSITORY ? { owner: process.env.GITHUB_REPOSITORY.split('/')[0]!, repo: process.env.GITHUB_REPOSITORY.split('/')[1] ?? '' } : undefined);
    if (!repository || !repository.owner || !repository.repo) throw new InputError('repository', 'is empty and GITHUB_REPOSITORY is not set; pass owner/name');
    const token = inputs['github-token'] ?? envToken;
    if (!token) throw new InputError('github-token', 'is empty and GITHUB_TOKEN is not set; pass ${{ github.token }} or a token with actions: read');
    if (inputs['min-age'] !== undefined && !inputs['require-environment']) {
      throw new InputError('min-age', 'only applies with require-environment; set require-environment (e.g. staging) or drop min-age');
    }
    const fullName = `${repository.owner}/${repository.repo}`;

    // Octokit (with its throttling scheduler) is loaded once the inputs are known to be good: an input error is
    // reported without paying for it.
    const { createGitHubClient } = await import('#core/github/client.js');
    const client = createGitHubClient({ token, logger });
    let resolution: BuildRunResolution | undefined;
    let results: CheckResult[] = [];
    try {
      resolution = await resolveBuildRun(
        client,
        {
          ...repository,
          workflow: inputs.workflow,
          sha,
          branch: inputs.branch,
          event: inputs.event,
          conclusion: inputs.conclusion,
          artifactName: inputs['artifact-name'],
          waitMs: inputs.wait,
          pollIntervalMs: inputs['poll-interval'],
          requireEnvironment: inputs['require-environment'],
          minAgeMs: inputs['min-age'],
        },
        { logger },
      );
      results = resolution.results;
    } catch (error) {
      if (error instanceof BuildRunNotResolved) {
        error.results.forEach((result) => core.info(formatResultLine(result)));
        await writeSummary({ title: TITLE, results: error.results, facts: facts(undefined, sha, fullName) }, redactor);
      }
      throw error;
    }

    results.forEach((result) => core.info(formatResultLine(result)));
    // writeOutputs validates every output before it writes any: on failure no output exists at all.
    writeOutputs(outputsSchema, outputs(resolution, sha), redactor);
    await writeSummary({ title: TITLE, results, facts: facts(resolution, sha, fullName) }, redactor);
    core.info(`Build of ${sha.slice(0, 8)}: run ${resolution.run.id} (#${resolution.run.number}) ${resolution.run.url}`);
  });
}
