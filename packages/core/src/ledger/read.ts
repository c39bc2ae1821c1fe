import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { ArgumentError } from '../errors.js';
import type { Logger } from '../logger.js';
import { readRegularFile } from '../read-regular-file.js';
import { parseReportDocument, REPORT_VERSION, type ReportDocument } from '../report/document.js';

/** One report document as read from disk: where it came from and what it says. */
export interface ReportFile {
  /** The stage's name in the ledger: the file's name without `.json` and `-report` (`health-retry`, `rollback`). */
  name: string;
  /** The file, relative to reports-dir (the artifact's folder included) or as given: what a mismatch names. */
  file: string;
  document: ReportDocument;
}

/** Every `*.json` under a directory (sub-directories too, as download-artifact leaves them), sorted by path. */
async function jsonFilesUnder(dir: string, logger: Logger): Promise<string[]> {
  const missing = (why: string) =>
    new ArgumentError(
      'reportsDir',
      `${dir} ${why}; give the directory the reports were downloaded to (download-artifact's path), e.g. reports`,
    );
  try {
    if (!(await stat(dir)).isDirectory()) throw missing('is not a directory');
  } catch (error) {
    if (error instanceof ArgumentError) throw error;
    throw missing(`does not exist (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const json = entries.filter((entry) => entry.name.endsWith('.json') && !entry.isDirectory());
  for (const entry of json.filter((entry) => !entry.isFile()))
    logger.warning(
      `Skipped ${relative(dir, join(entry.parentPath, entry.name))}: not a regular file (a link is not followed)`,
    );
  return json
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A report's names that reach the verdict line, the outputs and the ledger: one short line each. */
const ONE_LINE_CLAIMS = ['release', 'currentRelease', 'previousRelease', 'sha', 'bundleSha256', 'action'] as const;

/** Why a parsed JSON value is not a report document, in one line (the first few schema issues). */
function notAReport(value: unknown): string | undefined {
  const parsed = parseReportDocument(value);
  if (parsed.success) {
    const broken = ONE_LINE_CLAIMS.find((field) => /[\p{Cc}\u2028\u2029]/u.test(parsed.data[field] ?? ''));
    if (broken) return `not a valid report document (${broken}: has a control character)`;
    // A release is a directory's name (at most 255 bytes on Linux); a SHA and an action's name are shorter still.
    const long = ONE_LINE_CLAIMS.find((field) => (parsed.data[field] ?? '').length > 255);
    return long ? `not a valid report document (${long}: longer than 255 characters)` : undefined;
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (version !== REPORT_VERSION) return `not a deploy-gates report document version ${REPORT_VERSION}`;
  const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${plain(issue)}`);
  return `not a valid report document (${issues.join('; ')})`;
}

/** A schema issue in words (zod's own read `Invalid input: expected string, received undefined`). */
function plain(issue: { code: string; message: string; expected?: unknown; values?: unknown[] }) {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'missing';
  if (issue.code === 'invalid_type') return `is not a ${String(issue.expected)}`;
  if (issue.code === 'invalid_value' && issue.values) return `is not one of ${issue.values.join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}

/**
 * The report documents named by `reports` (one path per line) and found under `reports-dir`, each checked against
 * the report schema. A named file that is not one is an input error; a file in the directory that is not one (a
 * ledger, a stray package.json) is skipped with a warning.
 */
export async function readReports(
  paths: readonly string[],
  dir: string | undefined,
  logger: Logger,
): Promise<ReportFile[]> {
  const files = [...paths, ...(dir ? await jsonFilesUnder(dir, logger) : [])];
  const reports: ReportFile[] = [];
  for (const file of [...new Set(files)]) {
    const named = paths.includes(file);
    const shown = named || !dir ? file : relative(dir, file);
    const read = await readRegularFile(file, MAX_REPORT_BYTES);
    if (!('data' in read)) {
      if (!named && read.problem === 'too large') {
        logger.warning(`Skipped ${shown}: larger than ${MAX_REPORT_BYTES >> 20} MiB, not a report document`);
        continue;
      }
      const why =
        read.problem === 'too large'
          ? `larger than ${MAX_REPORT_BYTES >> 20} MiB`
          : 'code' in read
            ? read.code
            : read.problem;
      throw new ArgumentError(
        named ? 'reports' : 'reportsDir',
        `cannot read the report ${file} (${why}); give the path an action's report output named, e.g. \${{ steps.gates.outputs.report }}`,
      );
    }
    const text = read.data.toString('utf8');
    let problem: string | undefined;
    let document: unknown;
    try {
      document = JSON.parse(text);
      problem = notAReport(document);
    } catch {
      problem = 'not JSON';
    }
    if (problem !== undefined) {
      if (named)
        throw new ArgumentError(
          'reports',
          `${file} is ${problem}; give the report outputs of the actions, e.g. \${{ steps.gates.outputs.report }}`,
        );
      logger.warning(`Skipped ${shown}: ${problem}`);
      continue;
    }
    const name = basename(file, '.json').replace(/-report$/, '');
    reports.push({ name, file: shown, document: document as ReportDocument });
  }
  return withDistinctNames(reports);
}

/** Reports whose file names give the same stage name are named by their paths, so a verdict says which one. */
function withDistinctNames(reports: ReportFile[]): ReportFile[] {
  const count = (name: string) => reports.filter((report) => report.name === name).length;
  return reports.map((report) =>
    count(report.name) > 1 ? { ...report, name: report.file.replace(/\.json$/, '') } : report,
  );
}

/** A report document is small; a file past this (a coverage dump beside the reports) is not one, and is not read. */
const MAX_REPORT_BYTES = 8 << 20;
