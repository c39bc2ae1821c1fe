import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Redactor } from '../redact.js';

/** Writes a JSON report; secrets are masked in the serialized text, so none can reach the file. */
export async function writeJsonReport(path: string, data: unknown, redactor: Redactor): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${redactor.redact(JSON.stringify(data, null, 2))}\n`, { mode: 0o644 });
}
