import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { ArgumentError } from '../errors.js';
import type { Logger } from '../logger.js';
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
async function jsonFilesUnder(dir: string): Promise<string[]> {
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
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Why a parsed JSON value is not a report document, in one line (the first few schema issues). */
function notAReport(value: unknown): string | undefined {
  const parsed = parseReportDocument(value);
  if (parsed.success) return undefined;
  const version = (value as { version?: unknown } | null)?.version;
  if (version !== REPORT_VERSION) return `not a deploy-gates report document version ${REPORT_VERSION}`;
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return `not a valid report document (${issues.join('; ')})`;
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
  const files = [...paths, ...(dir ? await jsonFilesUnder(dir) : [])];
  const reports: ReportFile[] = [];
  for (const file of [...new Set(files)]) {
    const named = paths.includes(file);
    const shown = named || !dir ? file : relative(dir, file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ArgumentError(
        named ? 'reports' : 'reportsDir',
        `cannot read the report ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); give the path an action's report output named`,
      );
    }
    let problem: string | undefined;
    let document: unknown;
    try {
      document = JSON.parse(text);
      problem = notAReport(document);
    } catch {
      problem = 'not JSON';
    }
    if (problem !== undefined) {
      if (named) throw new ArgumentError('reports', `${file} is ${problem}; give the report outputs of the actions`);
      logger.warning(`Skipped ${shown}: ${problem}`);
      continue;
    }
    const name = basename(file, '.json').replace(/-report$/, '');
    reports.push({ name, file: shown, document: document as ReportDocument });
  }
  return reports;
}
