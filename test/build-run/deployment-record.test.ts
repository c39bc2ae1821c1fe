import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BuildRunNotResolved, resolveBuildRun, type BuildRunQuery } from '#core/build-run/resolve.js';
import {
  finishDeployment,
  liveDeployment,
  recordRollback,
  releaseSha8,
  startDeployment,
} from '#core/deployments/index.js';
import { UserError } from '#core/errors.js';
import { createGitHubClient } from '#core/github/client.js';
import { GitHubDouble, type RepoState } from '../support/github-double/index.js';

// The deploy workflow's own deployment record (the environment-gated job has `deployment: false`), against the
// GitHub double, and the promotion gate that reads it: staging's newest deployment must always be what staging runs.
const REPO = 'octo/app';
const OLD = '1111111122222222333333334444444455555555'; // staging runs this
const NEW = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9'; // the deploy that fails smoke
const HOUR = 3_600_000;
const place = {
  repo: { owner: 'octo', repo: 'app' },
  environment: 'staging',
  logUrl: 'https://github.com/octo/app/actions/runs/7',
};

let double: GitHubDouble;
let state: RepoState;
const client = () => createGitHubClient({ token: 'ghs_testtoken123', baseUrl: double.url, retryUnitMs: 1 });
const gate = (sha: string, later = 0) =>
  resolveBuildRun(
    client(),
    {
      owner: 'octo',
      repo: 'app',
      workflow: 'build-artifacts.yml',
      sha,
      conclusion: 'success',
      waitMs: 0,
      pollIntervalMs: 10,
      requireEnvironment: 'staging',
      minAgeMs: HOUR,
    } satisfies BuildRunQuery,
    { now: () => Date.now() + later },
  );
const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BuildRunNotResolved);
  return (error as Error).message;
};
const newestStates = () =>
  [...state.deployments]
    .sort((a, b) => b.id - a.id)
    .map((d) => {
      const status = state.deploymentStatuses.filter((s) => s.deploymentId === d.id).sort((a, b) => b.id - a.id)[0];
      return `${d.sha.slice(0, 8)} ${status?.state}`;
    });

beforeEach(async () => {
  double = await new GitHubDouble().start();
  double.token = 'ghs_testtoken123';
  state = double.repo(REPO);
  state.workflows.push({ id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' });
  state.runs.push(
    { id: 811, workflowId: 101, headSha: OLD, createdAt: '2026-11-23T07:00:00Z' },
    { id: 812, workflowId: 101, headSha: NEW, createdAt: '2026-11-23T08:00:00Z' },
  );
});

afterEach(async () => {
  await double.stop();
  expect(double.violations).toEqual([]);
});

/** Staging runs OLD: a deploy of it that went through. */
async function deployOld() {
  const started = await startDeployment(client(), place, OLD);
  await finishDeployment(client(), place, started.deploymentId, 'success');
  return started;
}

describe('the deployment record of a deploy', () => {
  it('is a deployment of exactly the deployed SHA, in_progress during the deploy, success only at the end', async () => {
    const { deploymentId, previous } = await startDeployment(client(), place, NEW);
    expect(previous).toBeUndefined();
    const created = state.deployments.find((d) => d.id === deploymentId)!;
    expect(created).toMatchObject({ sha: NEW, ref: NEW, environment: 'staging' });
    expect(created.request).toMatchObject({ ref: NEW, auto_merge: false, required_contexts: [] });
    expect(newestStates()).toEqual([`${NEW.slice(0, 8)} in_progress`]);
    expect(await refusal(gate(NEW, 2 * HOUR))).toContain('is "in_progress"');

    await finishDeployment(client(), place, deploymentId, 'success');
    expect(newestStates()).toEqual([`${NEW.slice(0, 8)} success`]);
    expect((await gate(NEW, 2 * HOUR)).environment).toMatchObject({ deploymentId, state: 'success' });
    expect(await refusal(gate(NEW))).toContain('min-age is 1h');
  });

  it("refuses to finish another environment's deployment, or one of another commit: nothing is recorded", async () => {
    const production = { ...place, environment: 'production' };
    const { deploymentId } = await startDeployment(client(), production, NEW);
    const statuses = () => state.deploymentStatuses.length;
    const before = statuses();
    await expect(finishDeployment(client(), place, deploymentId, 'success')).rejects.toThrow(
      `Deployment ${deploymentId} is of "production" at ${NEW.slice(0, 8)}…, not of "staging"; pass the deployment-id the start step of this deploy returned. Nothing was recorded.`,
    );
    await expect(finishDeployment(client(), production, deploymentId, 'success', OLD)).rejects.toThrow(
      `not of "production" at ${OLD.slice(0, 8)}…`,
    );
    await expect(finishDeployment(client(), place, 999_999, 'success')).rejects.toThrow(/deployment 999999/);
    expect(statuses()).toBe(before);
    // GitHub matches environment names without regard to case: "Production" is that environment.
    await finishDeployment(client(), { ...place, environment: 'Production' }, deploymentId, 'success', NEW);
    expect(statuses()).toBe(before + 1);
  });

  it('deploy → smoke fails → rollback: the gate refuses the rolled-back SHA and sees the one staging runs', async () => {
    const old = await deployOld();
    const started = await startDeployment(client(), place, NEW);
    expect(started.previous).toEqual({ deploymentId: old.deploymentId, sha: OLD });

    // Smoke failed: the deploy marks its deployment failed, the rollback job re-marks what is live again.
    await finishDeployment(client(), place, started.deploymentId, 'failure');
    expect(await refusal(gate(NEW, 2 * HOUR))).toContain('is "failure"');
    const live = await recordRollback(client(), place, `20261123_070000-${OLD.slice(0, 8)}`, started.previous);

    expect(live.sha).toBe(OLD);
    expect(newestStates()).toEqual([
      `${OLD.slice(0, 8)} success`, // the rollback's record: the newest deployment is what staging runs
      `${NEW.slice(0, 8)} failure`,
      `${OLD.slice(0, 8)} inactive`, // GitHub's auto_inactive on the earlier success of the same environment
    ]);
    const refused = await refusal(gate(NEW, 2 * HOUR));
    expect(refused).toContain(`is for ${OLD.slice(0, 8)}…, not ${NEW.slice(0, 8)}…`);
    // The rolled-back-to SHA counts its min-age from the rollback, not from its first deploy.
    expect(await refusal(gate(OLD))).toContain('min-age is 1h');
    expect((await gate(OLD, 2 * HOUR)).environment).toMatchObject({ deploymentId: live.deploymentId });
    expect(await liveDeployment(client(), place.repo, 'staging')).toEqual(live);
  });

  it('refuses to record a rollback to a release that is not the last live commit, leaving the failure newest', async () => {
    await deployOld();
    const started = await startDeployment(client(), place, NEW);
    await finishDeployment(client(), place, started.deploymentId, 'failure');
    for (const release of ['20261123_070000-deadbeef', 'current', `20261123_070000-${OLD.slice(0, 8)}/..`]) {
      const error = await recordRollback(client(), place, release, started.previous).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toContain('promotions from it are refused');
    }
    const none = await recordRollback(client(), place, `20261123_070000-${OLD.slice(0, 8)}`, undefined).catch(
      (e: unknown) => e,
    );
    expect((none as Error).message).toContain('there is none');
    expect(newestStates()[0]).toBe(`${NEW.slice(0, 8)} failure`);
    expect(await refusal(gate(OLD, 2 * HOUR))).toContain(`is for ${NEW.slice(0, 8)}…`);
  });

  it('a commit the repository does not have is refused by GitHub (422), and nothing is recorded', async () => {
    const error = await startDeployment(client(), place, 'f'.repeat(40)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain('No ref found');
    expect(state.deployments).toEqual([]);
  });

  it('names deployments: write when the token may not create deployments', async () => {
    // GitHub's answer to a workflow token without the permission, on the POST only (the reads before it pass).
    double.onRequest = ({ method }) => {
      if (method === 'POST')
        double.inject({ kind: 'status', status: 403, message: 'Resource not accessible by integration' });
    };
    const error = await startDeployment(client(), place, NEW).catch((e: unknown) => e);
    expect((error as Error).message).toContain('permissions: { deployments: write }');
    expect(state.deployments).toEqual([]);
  });

  it('reads the commit from a release name', () => {
    expect(releaseSha8(`20261123_080000-${NEW.slice(0, 8)}`)).toBe(NEW.slice(0, 8));
    expect(releaseSha8('20261123_080000-62584375x')).toBeUndefined();
  });
});
