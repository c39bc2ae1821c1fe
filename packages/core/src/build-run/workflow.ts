import { UserError } from '../errors.js';
import type { GitHubClient } from '../github/client.js';
import { GitHubHttpError } from '../github/errors.js';
import { getWorkflow, listWorkflows, type RepoRef } from '../github/queries.js';
import { workflowFile, type Workflow } from '../github/schemas.js';

const listing = (workflows: readonly Workflow[]) =>
  workflows.length === 0
    ? 'it has no workflows'
    : `its workflows: ${workflows.map((wf) => `${workflowFile(wf)} ("${wf.name}")`).join(', ')}`;

/** Step 1: the workflow, by file name, numeric id or unique display name; an unknown one is told with the repository's workflows. */
export async function findWorkflow(client: GitHubClient, repo: RepoRef, workflow: string): Promise<Workflow> {
  const full = `${repo.owner}/${repo.repo}`;
  if (/^\d+$/.test(workflow) || /\.ya?ml$/i.test(workflow)) {
    try {
      return await getWorkflow(client, repo, workflow.split('/').pop()!);
    } catch (error) {
      if (!(error instanceof GitHubHttpError && error.status === 404)) throw error;
      const workflows = await listWorkflows(client, repo);
      throw new UserError(
        `Workflow "${workflow}" not found in ${full}; ${listing(workflows)}. Pass one of those file names as the workflow input.`,
      );
    }
  }
  const workflows = await listWorkflows(client, repo);
  const named = workflows.filter((wf) => wf.name === workflow);
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    throw new UserError(
      `Workflow "${workflow}" is ambiguous in ${full}: ${named.map((wf) => `${workflowFile(wf)} ("${wf.name}", id ${wf.id})`).join(', ')} — pass the file name as the workflow input, e.g. workflow: ${workflowFile(named[0]!)}`,
    );
  }
  throw new UserError(
    `No workflow named "${workflow}" in ${full}; ${listing(workflows)}. Pass the file name (e.g. build-artifacts.yml) or the exact display name.`,
  );
}
