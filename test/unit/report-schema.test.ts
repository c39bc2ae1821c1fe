import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { reportDocument } from '#action-kit/report.js';
import { reportJsonSchema } from '#core/report/document.js';
import { repoRoot } from '../support/paths.js';

const committed = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'report.v1.json'), 'utf8')) as object;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

describe('schemas/report.v1.json', () => {
  it('is the JSON Schema generated from the zod schema (run `npm run schema` after changing it)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(reportJsonSchema())));
  });

  it('lets another tool check the evidence: an envelope-written document passes, a hand-made float duration does not', () => {
    const validate = addFormats(new Ajv2020({ strict: false })).compile(committed);
    const document = reportDocument(
      'release-switch',
      { path: '/tmp/x.json', stage: 'switch', startedAt: new Date(), startedMs: 0 },
      {
        results: [{ name: 'Switch', status: 'pass', detail: 'current → b', durationMs: 12.590203000000002 }],
        report: { release: 'releases/20251102_154900-f0959baf', currentRelease: 'b', details: { roundTrips: 1 } },
      },
      3.7,
    );
    expect(validate(document)).toBe(true);
    expect(validate({ ...document, durationMs: 12.590203000000002 })).toBe(false);
    expect(validate({ ...document, stage: 'deploy' })).toBe(false);
    const { release: _dropped, ...withoutRelease } = document;
    expect(validate(withoutRelease)).toBe(false); // unknown facts are null, never left out
  });
});
