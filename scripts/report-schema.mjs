// Writes schemas/report.v1.json, the JSON Schema of the report document, from its zod schema
// (packages/core/src/report/document.ts). `npm run schema`; test/unit/report-schema.test.ts keeps it fresh.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportJsonSchema } from '../packages/core/src/report/document.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, 'schemas', 'report.v1.json'), `${JSON.stringify(reportJsonSchema(), null, 2)}\n`);
