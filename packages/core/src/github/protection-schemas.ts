import { z } from 'zod';
import { once } from '../lazy.js';

/**
 * The parts of GitHub's branch, branch protection, ruleset, repository list and file answers that the
 * branch-protection audit reads (protection-queries.ts applies them). Only the fields used are declared. Each is
 * built on first use (see ../lazy.ts): built at load, they cost the audit's start about 9 ms.
 */

const enabled = () => z.object({ enabled: z.boolean().optional() }).partial().optional();

export const requiredStatusChecksSchema = once(() =>
  z.object({
    enforcement_level: z.string().optional(),
    contexts: z.array(z.string()),
    checks: z.array(z.object({ context: z.string(), app_id: z.number().int().nullable() })).optional(),
    strict: z.boolean().optional(),
  }),
);

/** GET /repos/{owner}/{repo}/branches/{branch}: `protection` is the summary any reader sees. */
export const branchSchema = once(() =>
  z.object({
    name: z.string(),
    protected: z.boolean(),
    protection: z
      .object({
        enabled: z.boolean().optional(),
        required_status_checks: requiredStatusChecksSchema().partial({ contexts: true }).optional(),
      })
      .optional(),
  }),
);
export type Branch = z.infer<ReturnType<typeof branchSchema>>;

export const shortBranchSchema = once(() => z.object({ name: z.string(), protected: z.boolean() }));
export type ShortBranch = z.infer<ReturnType<typeof shortBranchSchema>>;

/** Users, teams and apps as classic protection lists them (push restrictions, dismissal, bypass allowances). */
const actors = () =>
  z.object({
    users: z.array(z.object({ login: z.string(), id: z.number().int().optional() })).optional(),
    teams: z.array(z.object({ slug: z.string(), id: z.number().int().optional() })).optional(),
    apps: z.array(z.object({ slug: z.string().optional(), id: z.number().int().optional() })).optional(),
  });

/** GET /repos/{owner}/{repo}/branches/{branch}/protection (admin only). */
export const classicProtectionSchema = once(() =>
  z.object({
    required_status_checks: requiredStatusChecksSchema().optional(),
    enforce_admins: enabled(),
    required_pull_request_reviews: z
      .object({
        dismiss_stale_reviews: z.boolean().optional(),
        require_code_owner_reviews: z.boolean().optional(),
        required_approving_review_count: z.number().int().optional(),
        require_last_push_approval: z.boolean().optional(),
        dismissal_restrictions: actors().optional(),
        bypass_pull_request_allowances: actors().optional(),
      })
      .optional(),
    restrictions: actors().optional(),
    required_linear_history: enabled(),
    allow_force_pushes: enabled(),
    allow_deletions: enabled(),
    block_creations: enabled(),
    required_conversation_resolution: enabled(),
    required_signatures: enabled(),
    lock_branch: enabled(),
    allow_fork_syncing: enabled(),
  }),
);
export type ClassicProtection = z.infer<ReturnType<typeof classicProtectionSchema>>;

/** One rule of GET /repos/{owner}/{repo}/rules/branches/{branch}: only active rulesets' rules are listed. */
export const branchRuleSchema = once(() =>
  z.object({
    type: z.string(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    ruleset_source_type: z.string().optional(),
    ruleset_source: z.string().optional(),
    ruleset_id: z.number().int().optional(),
  }),
);
export type BranchRule = z.infer<ReturnType<typeof branchRuleSchema>>;

/** GET /repos/{owner}/{repo}/rulesets/{ruleset_id}: `bypass_actors` only for those who may edit it. */
export const rulesetSchema = once(() =>
  z.object({
    id: z.number().int(),
    name: z.string(),
    enforcement: z.string(),
    source_type: z.string().optional(),
    source: z.string(),
    bypass_actors: z
      .array(
        z.object({
          actor_id: z.number().int().nullable().optional(),
          actor_type: z.string(),
          bypass_mode: z.string().optional(),
        }),
      )
      .optional(),
    current_user_can_bypass: z.string().optional(),
    rules: z.array(z.object({ type: z.string(), parameters: z.record(z.string(), z.unknown()).optional() })).optional(),
  }),
);
export type Ruleset = z.infer<ReturnType<typeof rulesetSchema>>;

/** An item of GET /orgs/{org}/repos. */
export const orgRepositorySchema = once(() =>
  z.object({
    name: z.string(),
    full_name: z.string(),
    owner: z.object({ login: z.string() }),
    archived: z.boolean().optional(),
    default_branch: z.string().optional(),
  }),
);
export type OrgRepository = z.infer<ReturnType<typeof orgRepositorySchema>>;

/** GET /repos/{owner}/{repo}/contents/{path} of a file. */
export const fileContentSchema = once(() =>
  z.object({
    type: z.literal('file'),
    path: z.string(),
    encoding: z.string(),
    content: z.string(),
  }),
);

/** GET /repos/{owner}/{repo}/environments/{environment_name}. */
export const environmentSchema = once(() =>
  z.object({
    name: z.string(),
    html_url: z.string().optional(),
    protection_rules: z
      .array(
        z.object({
          type: z.string(),
          prevent_self_review: z.boolean().optional(),
          wait_timer: z.number().int().optional(),
          reviewers: z
            .array(
              z.object({
                type: z.string().optional(),
                reviewer: z.object({ login: z.string().optional(), slug: z.string().optional() }).nullable().optional(),
              }),
            )
            .optional(),
        }),
      )
      .optional(),
    deployment_branch_policy: z
      .object({ protected_branches: z.boolean(), custom_branch_policies: z.boolean() })
      .nullable()
      .optional(),
    /** Returned by GitHub although its REST description does not list it yet (google/go-github#2722). */
    can_admins_bypass: z.boolean().optional(),
  }),
);
export type Environment = z.infer<ReturnType<typeof environmentSchema>>;

/** GET …/environments/{environment_name}/deployment-branch-policies. */
export const deploymentBranchPoliciesSchema = once(() =>
  z.object({
    total_count: z.number().int(),
    branch_policies: z.array(z.object({ name: z.string().optional(), type: z.string().optional() })),
  }),
);
