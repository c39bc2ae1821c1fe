import { z } from 'zod';
import { once } from '../lazy.js';
import { FULL_SHA } from './parse.js';

export { FULL_SHA };

/**
 * The parts of GitHub's answers that core reads, checked before use (queries.ts applies them). Only the fields
 * used are declared; GitHub's other fields pass through unchecked.
 */

/**
 * A timestamp as GitHub writes it (`2026-11-23T08:00:00Z`). Checked, not just a string: it reaches log lines, the
 * summary and outputs, where text with a line break could start a workflow command or split an output.
 */
const timestamp = () => z.iso.datetime({ offset: true });

/** The schemas, built on first use (see ../lazy.ts). */
const schemas = once(() => {
  const workflowSchema = z.object({
    id: z.number().int().positive(),
    name: z.string(),
    path: z.string(),
    state: z.string(),
    html_url: z.string(),
  });

  const workflowListSchema = z.object({ total_count: z.number().int(), workflows: z.array(workflowSchema) });

  const runSchema = z.object({
    id: z.number().int().positive(),
    run_number: z.number().int().positive(),
    run_attempt: z.number().int().positive().optional(),
    head_sha: z.string().regex(FULL_SHA),
    head_branch: z.string().nullable(),
    event: z.string(),
    status: z.string().nullable(),
    conclusion: z.string().nullable(),
    html_url: z.string().regex(/^\S+$/, { message: 'must be a URL on one line' }),
    created_at: timestamp(),
    /** When this attempt started (a re-run's attempt starts later than the run was created). */
    run_started_at: timestamp().nullable().optional(),
  });

  const runListSchema = z.object({ total_count: z.number().int(), workflow_runs: z.array(runSchema) });

  const artifactSchema = z.object({
    id: z.number().int().positive(),
    name: z.string(),
    size_in_bytes: z.number().int().nonnegative(),
    expired: z.boolean(),
    expires_at: timestamp().nullable(),
    created_at: timestamp().nullable(),
    digest: z.string().nullable().optional(),
  });

  const artifactListSchema = z.object({ total_count: z.number().int(), artifacts: z.array(artifactSchema) });

  const deploymentSchema = z.object({
    id: z.number().int().positive(),
    sha: z.string(),
    ref: z.string(),
    environment: z.string(),
    created_at: timestamp(),
  });

  const deploymentStatusSchema = z.object({
    id: z.number().int().positive(),
    state: z.string(),
    created_at: timestamp(),
  });

  const gitCommitSchema = z.object({
    sha: z.string().regex(FULL_SHA),
    html_url: z.string(),
  });
  return {
    workflowSchema,
    workflowListSchema,
    runSchema,
    runListSchema,
    artifactSchema,
    artifactListSchema,
    deploymentSchema,
    deploymentStatusSchema,
    gitCommitSchema,
  };
});

export const workflowSchema = () => schemas().workflowSchema;
export const workflowListSchema = () => schemas().workflowListSchema;
export const runSchema = () => schemas().runSchema;
export const runListSchema = () => schemas().runListSchema;
export const artifactSchema = () => schemas().artifactSchema;
export const artifactListSchema = () => schemas().artifactListSchema;
export const deploymentSchema = () => schemas().deploymentSchema;
export const deploymentStatusSchema = () => schemas().deploymentStatusSchema;
export const gitCommitSchema = () => schemas().gitCommitSchema;

export type Workflow = z.infer<ReturnType<typeof workflowSchema>>;
export type WorkflowRun = z.infer<ReturnType<typeof runSchema>>;
export type Artifact = z.infer<ReturnType<typeof artifactSchema>>;
export type Deployment = z.infer<ReturnType<typeof deploymentSchema>>;
export type DeploymentStatus = z.infer<ReturnType<typeof deploymentStatusSchema>>;
export type GitCommit = z.infer<ReturnType<typeof gitCommitSchema>>;

/** The workflow's file name (`build-artifacts.yml`), from its path under .github/workflows/. */
export const workflowFile = (workflow: Workflow) => workflow.path.split('/').pop() ?? workflow.path;
