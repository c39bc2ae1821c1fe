import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Redactor } from '../redact.js';

/**
 * Writes a JSON report; secrets are masked in every string before it is serialized (JSON escapes `"` and `\`, and a
 * secret holding one would no longer be found) and in the serialized text, so none can reach the file.
 */
export async function writeJsonReport(path: string, data: unknown, redactor: Redactor): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const text = JSON.stringify(
    data,
    (_key, value: unknown) => (typeof value === 'string' ? redactor.redact(value) : value),
    2,
  );
  await writeFile(path, `${redactor.redact(text)}\n`, { mode: 0o644 });
}
