import { parse } from 'yaml';

/**
 * Which check names the jobs of a repository's workflows can report. A job reports a check named by its `name:`
 * (or its id), with a matrix `name (a, b)` per combination; a called workflow's jobs report `caller / called`.
 * Conservative: where the name cannot be known before the run (an expression in the name or the matrix, a matrix
 * `include`, a workflow that cannot be parsed), the job is taken to be able to report any check of that shape, so
 * a required check is flagged only when no job could ever report it.
 */
export interface CheckNames {
  exact: Set<string>;
  /** Names that start with one of these may be reported (`build (`, `deploy / `). */
  prefixes: string[];
  /** Some job can report any name at all. */
  any: boolean;
  /** Why `any` is set (the workflow and job), for the report. */
  anyReasons: string[];
}

export interface CheckProducers extends CheckNames {
  /** The names jobs of workflows that run on `merge_group` can report (what a merge queue waits for). */
  mergeGroup: CheckNames;
  /** The names only jobs of disabled workflows could report: GitHub runs no job of a disabled workflow. */
  disabled: CheckNames;
  /** Those workflows, `path (state)`. */
  disabledWorkflows: string[];
}

const emptyNames = (): CheckNames => ({ exact: new Set(), prefixes: [], any: false, anyReasons: [] });
export const emptyProducers = (): CheckProducers => ({
  ...emptyNames(),
  mergeGroup: emptyNames(),
  disabled: emptyNames(),
  disabledWorkflows: [],
});

/**
 * Adds a workflow GitHub will not run (`state` `disabled_manually`, `disabled_inactivity` — scheduled workflows are
 * disabled after 60 days without activity —, `disabled_fork`): its jobs report nothing, so a required check only it
 * names is waited for forever. Kept apart only to say so in the finding.
 */
export function addDisabledWorkflow(producers: CheckProducers, file: string, state: string, text: string): void {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return;
  }
  producers.disabledWorkflows.push(`${file} (${state})`);
  addJobNames(producers.disabled, file, (doc as { jobs?: unknown } | null)?.jobs);
}

function merge(into: CheckNames, from: CheckNames): void {
  for (const name of from.exact) into.exact.add(name);
  into.prefixes.push(...from.prefixes);
  into.any ||= from.any;
  into.anyReasons.push(...from.anyReasons);
}

/** Whether a workflow's `on:` (a string, a list or a mapping of events) includes merge_group. */
function runsOnMergeGroup(on: unknown): boolean {
  if (typeof on === 'string') return on === 'merge_group';
  if (Array.isArray(on)) return on.includes('merge_group');
  return typeof on === 'object' && on !== null && 'merge_group' in on;
}

const EXPRESSION = /\$\{\{/;

function combinations(matrix: Record<string, unknown>): string[][] | undefined {
  const keys = Object.keys(matrix).filter((key) => key !== 'include' && key !== 'exclude');
  let rows: string[][] = [[]];
  for (const key of keys) {
    const values = matrix[key];
    if (!Array.isArray(values)) return undefined;
    rows = rows.flatMap((row) =>
      values.map((value) => [...row, typeof value === 'object' ? JSON.stringify(value) : String(value)]),
    );
  }
  const excludes = Array.isArray(matrix.exclude) ? matrix.exclude : [];
  return keys.length === 0 ? [] : excludes.length > 0 ? undefined : rows;
}

/** Adds the check names the jobs of one workflow file can report (and, when it runs on merge_group, to those). */
export function addWorkflowChecks(producers: CheckProducers, file: string, text: string): void {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    for (const names of [producers, producers.mergeGroup]) {
      names.any = true;
      names.anyReasons.push(`${file} (not parseable)`);
    }
    return;
  }
  const found = emptyNames();
  addJobNames(found, file, (doc as { jobs?: unknown } | null)?.jobs);
  merge(producers, found);
  if (runsOnMergeGroup((doc as { on?: unknown } | null)?.on)) merge(producers.mergeGroup, found);
}

function addJobNames(producers: CheckNames, file: string, jobs: unknown): void {
  if (!jobs || typeof jobs !== 'object') return;
  for (const [id, job] of Object.entries(
    jobs as Record<string, { name?: unknown; strategy?: { matrix?: unknown }; uses?: unknown }>,
  )) {
    const name = typeof job?.name === 'string' ? job.name : id;
    const matrix = job?.strategy?.matrix;
    if (EXPRESSION.test(name)) {
      // Known only at run time: any name starting with the text before the expression.
      const prefix = name.slice(0, name.search(EXPRESSION));
      if (prefix) producers.prefixes.push(prefix);
      else {
        producers.any = true;
        producers.anyReasons.push(`${file} job ${id} (name is an expression)`);
      }
      continue;
    }
    const base = typeof job?.uses === 'string' ? `${name} / ` : undefined;
    if (matrix === undefined || matrix === null) {
      if (base) producers.prefixes.push(base);
      else producers.exact.add(name);
      continue;
    }
    const rows =
      typeof matrix === 'object' && !Array.isArray(matrix)
        ? combinations(matrix as Record<string, unknown>)
        : undefined;
    if (rows === undefined || 'include' in (matrix as object)) {
      // An expression matrix, `include` or `exclude`: the combinations are only known at run time.
      producers.prefixes.push(`${name} (`);
      continue;
    }
    for (const row of rows) {
      const full = row.length > 0 ? `${name} (${row.join(', ')})` : name;
      if (base) producers.prefixes.push(`${full} / `);
      else producers.exact.add(full);
    }
  }
}

export function canReport(producers: CheckNames, check: string): boolean {
  return producers.any || producers.exact.has(check) || producers.prefixes.some((prefix) => check.startsWith(prefix));
}
