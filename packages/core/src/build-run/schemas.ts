import { z } from 'zod';

/** The parts of GitHub's answers that resolve-build-run uses, checked before use. */
export const workflowSchema = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  path: z.string(),
  state: z.string(),
  html_url: z.string(),
});
export type Workflow = z.infer<typeof workflowSchema>;

export const workflowListSchema = z.object({ total_count: z.number().int(), workflows: z.array(workflowSchema) });

export const runSchema = z.object({
  id: z.number().int().positive(),
  run_number: z.number().int().positive(),
  run_attempt: z.number().int().positive().optional(),
  head_sha: z.string().regex(/^[0-9a-f]{40}$/i),
  head_branch: z.string().nullable(),
  event: z.string(),
  status: z.string().nullable(),
  conclusion: z.string().nullable(),
  html_url: z.string().min(1),
  created_at: z.string().min(1),
});
export type WorkflowRun = z.infer<typeof runSchema>;

export const runListSchema = z.object({ total_count: z.number().int(), workflow_runs: z.array(runSchema) });

export const artifactSchema = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  size_in_bytes: z.number().int().nonnegative(),
  expired: z.boolean(),
  expires_at: z.string().nullable(),
  created_at: z.string().nullable(),
  digest: z.string().nullable().optional(),
});
export type Artifact = z.infer<typeof artifactSchema>;

export const artifactListSchema = z.object({ total_count: z.number().int(), artifacts: z.array(artifactSchema) });

export const deploymentSchema = z.object({
  id: z.number().int().positive(),
  sha: z.string(),
  ref: z.string(),
  environment: z.string(),
  created_at: z.string(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

export const deploymentStatusSchema = z.object({
  id: z.number().int().positive(),
  state: z.string(),
  created_at: z.string(),
});
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>;
