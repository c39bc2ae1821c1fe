import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ArgumentError } from '../errors.js';
import type { ReportFile } from './build.js';

/** Every `*.json` under a directory (sub-directories too, as download-artifact leaves them), sorted by path. */
async function jsonFilesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []; // no report was uploaded: the jobs' results tell why
    throw error;
  }
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The actions' JSON reports named by `reports` (one path per line) and found under `reports-dir`. */
export async function readReports(paths: readonly string[], dir: string | undefined): Promise<ReportFile[]> {
  const files = [...paths, ...(dir ? await jsonFilesUnder(dir) : [])];
  const reports: ReportFile[] = [];
  for (const file of [...new Set(files)]) {
    const input = paths.includes(file) ? 'reports' : 'reportsDir';
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ArgumentError(
        input,
        `cannot read the report ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); give the path an action's report-path output named`,
      );
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new ArgumentError(
        input,
        `${file} is not JSON; give the JSON reports the actions wrote (their report outputs)`,
      );
    }
    if (document === null || typeof document !== 'object' || Array.isArray(document))
      throw new ArgumentError(input, `${file} is not an action's JSON report (not an object)`);
    reports.push({ name: basename(file, '.json').replace(/-report$/, ''), document });
  }
  return reports;
}
