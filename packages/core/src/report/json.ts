import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import type { Redactor } from '../redact.js';

/**
 * Writes a JSON report; secrets are masked in every string before it is serialized (JSON escapes `"` and `\`, and a
 * secret holding one would no longer be found) and in the serialized text, so none can reach the file.
 */
export async function writeJsonReport(path: string, data: unknown, redactor: Redactor): Promise<void> {
  const text = JSON.stringify(
    data,
    (_key, value: unknown) => (typeof value === 'string' ? redactor.redact(value) : value),
    2,
  );
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${redactor.redact(text)}\n`, { mode: 0o644 });
  } catch (error) {
    // A path the workflow chose (a directory, a read-only place) is the user's to fix, not a bug.
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UserError(
      `Cannot write ${path} (${code}); give a file path in a writable place, e.g. reports/report.json`,
    );
  }
}

/**
 * Why `path` cannot be written as a file, before any work is done: it is a directory, or a parent of it is a file.
 * Undefined when it can be tried (whatever does not exist yet is made when it is written).
 */
export async function unwritableFile(path: string): Promise<string | undefined> {
  for (let at = path, first = true; ; at = dirname(at), first = false) {
    const info = await stat(at).catch(() => undefined);
    if (info) {
      if (first && info.isDirectory()) return `${path} is a directory; give a file path, e.g. reports/report.json`;
      if (!first && !info.isDirectory()) return `${at} is not a directory, so ${path} cannot be made`;
      return undefined;
    }
    if (dirname(at) === at) return undefined;
  }
}
