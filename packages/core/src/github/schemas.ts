import { z } from 'zod';
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

export const workflowSchema = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  path: z.string(),
  state: z.string(),
  html_url: z.string(),
});
export type Workflow = z.infer<typeof workflowSchema>;

export const workflowListSchema = z.object({ total_count: z.number().int(), workflows: z.array(workflowSchema) });

/** The workflow's file name (`build-artifacts.yml`), from its path under .github/workflows/. */
export const workflowFile = (workflow: Workflow) => workflow.path.split('/').pop() ?? workflow.path;

export const runSchema = z.object({
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
export type WorkflowRun = z.infer<typeof runSchema>;

export const runListSchema = z.object({ total_count: z.number().int(), workflow_runs: z.array(runSchema) });

export const artifactSchema = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  size_in_bytes: z.number().int().nonnegative(),
  expired: z.boolean(),
  expires_at: timestamp().nullable(),
  created_at: timestamp().nullable(),
  digest: z.string().nullable().optional(),
});
export type Artifact = z.infer<typeof artifactSchema>;

export const artifactListSchema = z.object({ total_count: z.number().int(), artifacts: z.array(artifactSchema) });

export const deploymentSchema = z.object({
  id: z.number().int().positive(),
  sha: z.string(),
  ref: z.string(),
  environment: z.string(),
  created_at: timestamp(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

export const deploymentStatusSchema = z.object({
  id: z.number().int().positive(),
  state: z.string(),
  created_at: timestamp(),
});
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>;

export const gitCommitSchema = z.object({
  sha: z.string().regex(FULL_SHA),
  html_url: z.string(),
});
export type GitCommit = z.infer<typeof gitCommitSchema>;
